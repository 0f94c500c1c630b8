/**
 * POST /agent-session — an agent signs in to the softphone.
 * Takes identity, password. Returns 200 {session, identity, displayName, expiresAt} — a bearer
 * session (8 h) for /token; 401 sign-in-invalid (unknown identity or wrong password, the same
 * answer); 403 agent-disabled; 429 sign-in-throttled with Retry-After; 400 for malformed input.
 */
import { twilioFunction } from '../lib/http/function-handler';
import { signInAgent } from '../lib/routes/agent-session';

export const handler = twilioFunction({ signed: false, bodyOnly: ['password'] }, async (ctx) =>
  signInAgent(ctx, { identity: ctx.event.identity, password: ctx.event.password }),
);
