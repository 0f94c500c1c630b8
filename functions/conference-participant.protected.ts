// /conference-participant: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { conferenceParticipant } from '../lib/routes/conference-messages';

export const handler = twilioFunction({ signed: true }, async (ctx) => {
  const { conference, action, callSid, identity, to } = ctx.event;
  return conferenceParticipant(ctx, { conference, action, callSid, identity, to });
});
