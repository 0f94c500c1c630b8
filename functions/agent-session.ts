// /agent-session: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { signInAgent } from '../lib/routes/agent-session';

export const handler = twilioFunction({ signed: false, bodyOnly: ['password'] }, async (ctx) =>
  signInAgent(ctx, { identity: ctx.event.identity, password: ctx.event.password }),
);
