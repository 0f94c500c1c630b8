// /token: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { issueVoiceToken } from '../lib/routes/token';

export const handler = twilioFunction({ signed: false }, async (ctx) =>
  issueVoiceToken(ctx, { identity: ctx.event.identity, platform: ctx.event.platform }),
);
