// /call-messages: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { listCallMessages } from '../lib/routes/call-messages';

export const handler = twilioFunction({ signed: true }, async (ctx) => {
  const { callSid, pageSize, pageToken, after, order } = ctx.event;
  return listCallMessages(ctx, { callSid, pageSize, pageToken, after, order });
});
