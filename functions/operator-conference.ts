// /operator-conference: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { conferenceRequestOf, operatorConference } from '../lib/routes/conference-messages';

export const handler = twilioFunction({ signed: false }, async (ctx) =>
  operatorConference(ctx, conferenceRequestOf(ctx.event)),
);
