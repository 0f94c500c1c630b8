// /operator-send: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { operatorSend } from '../lib/routes/operator';

export const handler = twilioFunction({ signed: false }, async (ctx) => {
  const { callSid, identity, content, idempotencyKey } = ctx.event;
  return operatorSend(ctx, { callSid, identity, content, idempotencyKey });
});
