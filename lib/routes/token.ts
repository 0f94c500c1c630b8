import twilio from 'twilio';
import { AgentStore, verifyAgentSession } from '../auth/agents';
import { requireVariable } from '../platform/config';
import { apiError } from '../shared/error-catalogue';
import { json, type RouteContext, type RouteResult } from '../http/function-handler';
import { requireIdentity } from '../shared/identifiers';
import { bearerToken, secretsMatch } from '../platform/secrets';
import { TOKEN_PLATFORMS, type TokenPlatform } from '../shared/api-types';

/** Access tokens last one hour (Twilio allows up to 24 h); the softphone fetches a new one when warned. */
const TOKEN_TTL_SECONDS = 3600;

const refused = () =>
  apiError(
    'token-auth-invalid',
    'Sign in first (/agent-session) and send Authorization: Bearer <session>; servers send Bearer <TOKEN_SECRET>.',
  );

/** The variable holding each mobile platform's push credential (Console → Voice → Credentials, CR…). */
export const PUSH_CREDENTIAL_VARIABLES = {
  ios: 'PUSH_CREDENTIAL_SID_IOS',
  android: 'PUSH_CREDENTIAL_SID_ANDROID',
} as const satisfies Record<Exclude<TokenPlatform, 'web'>, string>;

const CREDENTIAL_SID = /^CR[0-9a-fA-F]{32}$/;

function platformOf(value: unknown): TokenPlatform {
  if (value === undefined || value === '') return 'web';
  if (typeof value === 'string' && (TOKEN_PLATFORMS as readonly string[]).includes(value)) {
    return value as TokenPlatform;
  }
  throw apiError('platform-invalid', `platform must be one of ${TOKEN_PLATFORMS.join(', ')} (default web).`);
}

/**
 * The push credential a mobile platform's token carries: without it the iOS and Android SDKs cannot
 * register for incoming calls, so a mobile platform whose variable is unset is a configuration error.
 */
function pushCredentialSid(ctx: RouteContext, platform: TokenPlatform): string | undefined {
  if (platform === 'web') return undefined;
  const name = PUSH_CREDENTIAL_VARIABLES[platform];
  const sid = requireVariable(
    ctx.config,
    name,
    `the ${platform === 'ios' ? 'APNs VoIP' : 'FCM'} push credential (CR…) ${platform} apps register with`,
  );
  if (!CREDENTIAL_SID.test(sid))
    throw apiError('configuration-invalid', `${name} must be a Credential SID: CR + 32 hex digits.`);
  return sid;
}

/**
 * `/token`: a Voice access token.
 * - A signed-in agent (Authorization: Bearer <session from /agent-session>) gets one for its own
 *   identity only, and only while it is enabled and its password unchanged (one Sync read).
 * - Server to server (Authorization: Bearer <TOKEN_SECRET>, when that variable is set): any
 *   `identity`. Never give TOKEN_SECRET to a browser: it mints tokens for every identity.
 * Everything else: 403, before any input is looked at. `platform` (web, ios, android) picks the
 * push credential a mobile app's token carries (PUSH_CREDENTIAL_SID_IOS / _ANDROID).
 */
export async function issueVoiceToken(
  ctx: RouteContext,
  input: { identity?: unknown; platform?: unknown },
): Promise<RouteResult> {
  const { config, headers } = ctx;
  const bearer = bearerToken(headers);
  const tokenSecret = config.raw.TOKEN_SECRET;
  let identity: string;
  let via: 'agent' | 'server';
  if (tokenSecret && secretsMatch(bearer, tokenSecret)) {
    identity = requireIdentity(input.identity);
    via = 'server';
  } else {
    const session = verifyAgentSession(bearer, config.authToken);
    if (!session) throw refused();
    if (input.identity !== undefined && input.identity !== '' && input.identity !== session.identity) {
      throw apiError('identity-not-yours', 'A signed-in agent gets a token for its own identity only.');
    }
    const agent = await new AgentStore(ctx.client(), config, ctx.deadline).get(session.identity);
    // A removed agent, or a password reset since this session was issued: sign in again.
    if (!agent || agent.credentialId !== session.credentialId) throw refused();
    if (!agent.enabled) throw apiError('agent-disabled', 'This agent is disabled; ask your operator.');
    identity = session.identity;
    via = 'agent';
  }
  const platform = platformOf(input.platform);
  const pushCredential = pushCredentialSid(ctx, platform);
  const apiKeySid = requireVariable(config, 'API_KEY_SID', 'an API key SID, SK…, to sign access tokens');
  const apiKeySecret = requireVariable(config, 'API_KEY_SECRET', "that API key's secret");
  const appSid = requireVariable(config, 'TWIML_APP_SID', 'the TwiML App whose voice URL is /voice');

  const token = new twilio.jwt.AccessToken(config.accountSid, apiKeySid, apiKeySecret, {
    identity,
    ttl: TOKEN_TTL_SECONDS,
  });
  token.addGrant(
    new twilio.jwt.AccessToken.VoiceGrant({
      outgoingApplicationSid: appSid,
      incomingAllow: true,
      ...(pushCredential ? { pushCredentialSid: pushCredential } : {}),
    }),
  );
  ctx.log.info({ identity, via, platform });
  return json(200, { identity, token: token.toJwt(), ttl: TOKEN_TTL_SECONDS });
}
