// /send-message: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { sendCallMessage } from '../lib/routes/send-message';

export const handler = twilioFunction({ signed: true }, async (ctx) => {
  const { callSid, identity, content, idempotencyKey } = ctx.event;
  return sendCallMessage(ctx, { callSid, identity, content, idempotencyKey });
});
