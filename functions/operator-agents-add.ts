/**
 * POST /operator-agents-add — a new, enabled agent.
 * Header Authorization: Bearer <operator session>. Takes identity (letters, digits, _), optional
 * displayName, optional password (≥ 12 characters; empty: one is generated).
 * Returns 201 {agent, password?} (password only when generated, shown once); 409 agent-exists; 400; 401.
 */
import { twilioFunction } from '../lib/http/function-handler';
import { addAgent } from '../lib/routes/agent-admin';

export const handler = twilioFunction({ signed: false, bodyOnly: ['password'] }, async (ctx) =>
  addAgent(ctx, { identity: ctx.event.identity, displayName: ctx.event.displayName, password: ctx.event.password }),
);
