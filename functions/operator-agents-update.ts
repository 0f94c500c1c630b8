// /operator-agents-update: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { updateAgent } from '../lib/routes/agent-admin';

export const handler = twilioFunction({ signed: false, bodyOnly: ['password'] }, async (ctx) =>
  updateAgent(ctx, {
    identity: ctx.event.identity,
    action: ctx.event.action,
    password: ctx.event.password,
    displayName: ctx.event.displayName,
  }),
);
