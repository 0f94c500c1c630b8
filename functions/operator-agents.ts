/**
 * GET /operator-agents — every agent: {agents: [{identity, displayName, enabled, createdAt, updatedAt}]}.
 * Header Authorization: Bearer <session from /operator-session>; 401 without one.
 */
import { twilioFunction } from '../lib/http/function-handler';
import { listAgents } from '../lib/routes/agent-admin';

export const handler = twilioFunction({ signed: false }, async (ctx) => listAgents(ctx));
