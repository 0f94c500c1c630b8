/**
 * GET /operator-calls — recent Voice SDK call legs, newest first, with their state.
 * Header Authorization: Bearer <session from /operator-session>. Takes optional limit (1-50, default 20).
 * Returns 200 {calls: [{callSid, createdAt, status, active, state}]}; 401 without a session.
 */
import { twilioFunction } from '../lib/http/function-handler';
import { listOperatorCalls } from '../lib/routes/operator';

export const handler = twilioFunction({ signed: false }, async (ctx) =>
  listOperatorCalls(ctx, { limit: ctx.event.limit }),
);
