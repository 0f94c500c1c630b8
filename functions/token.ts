/**
 * POST /token — a Voice access token.
 * Header Authorization: Bearer <session from /agent-session> → a token for that agent's own identity
 * (optional identity must match); or, server to server only, Bearer <TOKEN_SECRET> with identity.
 * Returns 200 {identity, token, ttl}; 403 token-auth-invalid / agent-disabled / identity-not-yours;
 * 400 for a bad identity (server path).
 */
import { twilioFunction } from '../lib/http/function-handler';
import { issueVoiceToken } from '../lib/routes/token';

export const handler = twilioFunction({ signed: false }, async (ctx) =>
  issueVoiceToken(ctx, { identity: ctx.event.identity }),
);
