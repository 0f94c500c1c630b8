import twilio from 'twilio';
import { requireVariable } from '../config';
import { HttpError } from '../errors';
import { json, type RouteContext, type RouteResult } from '../function-handler';
import { requireIdentity } from '../identifiers';
import { logEvent } from '../log';
import { bearerToken, secretsMatch } from '../secrets';

/** Access tokens last one hour (Twilio allows up to 24 h); the softphone fetches a new one when warned. */
const TOKEN_TTL_SECONDS = 3600;

/**
 * `/token`: a Voice access token for the browser softphone. Only for callers that show TOKEN_SECRET
 * (header `Authorization: Bearer <secret>`), so strangers cannot mint tokens for your account.
 */
export function issueVoiceToken({ config, headers, event }: RouteContext, input: { identity?: unknown }): RouteResult {
  const secret = requireVariable(config, 'TOKEN_SECRET', 'the secret callers of /token must show');
  if (!secretsMatch(bearerToken(headers), secret))
    throw new HttpError(403, 'token-secret-invalid', 'Send Authorization: Bearer <TOKEN_SECRET>.');
  const identity = requireIdentity(input.identity);
  const apiKeySid = requireVariable(config, 'API_KEY_SID', 'an API key SID, SK…, to sign access tokens');
  const apiKeySecret = requireVariable(config, 'API_KEY_SECRET', "that API key's secret");
  const appSid = requireVariable(config, 'TWIML_APP_SID', 'the TwiML App whose voice URL is /voice');

  const token = new twilio.jwt.AccessToken(config.accountSid, apiKeySid, apiKeySecret, {
    identity,
    ttl: TOKEN_TTL_SECONDS,
  });
  token.addGrant(new twilio.jwt.AccessToken.VoiceGrant({ outgoingApplicationSid: appSid, incomingAllow: true }));
  logEvent('/token', event, { identity });
  return json(200, { identity, token: token.toJwt(), ttl: TOKEN_TTL_SECONDS });
}
