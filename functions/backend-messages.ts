// /backend-messages: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { backendMessages } from '../lib/routes/backend';

export const handler = twilioFunction({ signed: false }, async (ctx) => {
  const { callSid, pageSize, pageToken, after, order } = ctx.event;
  return backendMessages(ctx, { callSid, pageSize, pageToken, after, order });
});
