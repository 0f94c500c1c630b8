/**
 * POST /operator-agents-update — changes one agent.
 * Header Authorization: Bearer <operator session>. Takes identity and action: disable | enable |
 * reset-password (optional password; empty: generated) | rename (displayName).
 * Returns 200 {agent, password?} (password only when generated, shown once); 404 agent-not-found; 400; 401.
 */
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
