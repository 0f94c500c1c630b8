/**
 * POST /operator-send — the operator sends a message to a call's Voice SDK (server → SDK), through
 * the same core as /send-message. Header Authorization: Bearer <session>.
 * Takes callSid or identity, content (a JSON object as a string, ≤ 10,000 characters), optional
 * idempotencyKey. Returns 201 {sid, callSid, idempotencyKey}; 409 when the call is not active;
 * 401 without a session; 4xx {code, message} for bad input.
 */
import { twilioFunction } from '../lib/http/function-handler';
import { operatorSend } from '../lib/routes/operator';

export const handler = twilioFunction({ signed: false }, async (ctx) => {
  const { callSid, identity, content, idempotencyKey } = ctx.event;
  return operatorSend(ctx, { callSid, identity, content, idempotencyKey });
});
