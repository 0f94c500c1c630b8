// /conference-send: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { sendToConference } from '../lib/routes/conference-messages';

export const handler = twilioFunction({ signed: true }, async (ctx) => {
  const { conference, content, idempotencyKey } = ctx.event;
  return sendToConference(ctx, { conference, content, idempotencyKey });
});
