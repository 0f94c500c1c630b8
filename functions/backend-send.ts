// /backend-send: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { backendSend } from '../lib/routes/backend';

export const handler = twilioFunction({ signed: false }, async (ctx) => {
  const { callSid, identity, content, idempotencyKey } = ctx.event;
  return backendSend(ctx, { callSid, identity, content, idempotencyKey });
});
