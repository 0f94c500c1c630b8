// /backend-conference: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { backendConference } from '../lib/routes/conference-messages';

export const handler = twilioFunction({ signed: false }, async (ctx) => {
  const { conference, action, callSid, identity, to, content, idempotencyKey, pageSize, after, as } = ctx.event;
  return backendConference(ctx, {
    conference,
    action,
    callSid,
    identity,
    to,
    content,
    idempotencyKey,
    pageSize,
    after,
    as,
  });
});
