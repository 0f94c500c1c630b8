/**
 * POST /send-message — server → SDK. Signed by your backend (see scripts/send-message.ts).
 * Takes callSid (the SDK leg, CA…) or identity, content (a JSON object as a string, ≤ 10,000
 * characters), optional idempotencyKey. Returns 201 {sid, callSid, idempotencyKey}; 409 when the
 * call is not active; 4xx {code, message} for bad input.
 */
import { twilioFunction } from '../lib/http/function-handler';
import { sendCallMessage } from '../lib/routes/send-message';

export const handler = twilioFunction({ signed: true }, async (ctx) => {
  const { callSid, identity, content, idempotencyKey } = ctx.event;
  return sendCallMessage(ctx, { callSid, identity, content, idempotencyKey });
});
