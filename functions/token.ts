/**
 * POST /token — a Voice access token for the browser softphone.
 * Takes identity; header Authorization: Bearer <TOKEN_SECRET>.
 * Returns 200 {identity, token, ttl}; 403 without the secret; 400 for a bad identity.
 */
import { twilioFunction } from '../lib/function-handler';
import { issueVoiceToken } from '../lib/routes/token';

export const handler = twilioFunction(
  { signed: false },
  async (ctx) => issueVoiceToken(ctx, { identity: ctx.event.identity }),
  () => new Twilio.Response(),
);
