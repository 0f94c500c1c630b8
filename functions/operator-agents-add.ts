// /operator-agents-add: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { addAgent } from '../lib/routes/agent-admin';

export const handler = twilioFunction({ signed: false, bodyOnly: ['password'] }, async (ctx) =>
  addAgent(ctx, { identity: ctx.event.identity, displayName: ctx.event.displayName, password: ctx.event.password }),
);
