// /conference-messages: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { listConferenceMessages } from '../lib/routes/conference-messages';

export const handler = twilioFunction({ signed: true }, async (ctx) => {
  const { conference, pageSize, after, as } = ctx.event;
  return listConferenceMessages(ctx, { conference, pageSize, after, as });
});
