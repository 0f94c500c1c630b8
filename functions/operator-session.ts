/**
 * POST /operator-session — logs the operator console in.
 * Takes secret (OPERATOR_SECRET). Returns 200 {session, expiresAt} — a bearer token valid for one
 * hour, for the other /operator-* routes; 403 for a wrong secret; 429 sign-in-throttled (Retry-After)
 * after too many wrong ones; 500 when OPERATOR_SECRET is unset.
 */
import { twilioFunction } from '../lib/http/function-handler';
import { createOperatorSession } from '../lib/routes/operator';

export const handler = twilioFunction({ signed: false, bodyOnly: ['secret'] }, async (ctx) =>
  createOperatorSession(ctx, { secret: ctx.event.secret }),
);
