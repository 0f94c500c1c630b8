// Voice access tokens as the sandbox's `/token` issues them (HS256 JWT signed with the sandbox API key
// secret, grants.identity and grants.voice): what the signaling gateway checks on `listen`.
import { createHmac, timingSafeEqual } from 'node:crypto';

type Payload = Record<string, unknown>;

export interface TokenClaims {
  identity: string;
  ttl: number;
  applicationSid?: string;
}

export class TokenError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The account's API keys, by SID: what a token's signature is checked with. */
export interface KeySecrets {
  secretOf(sid: string): string | undefined;
}

/** Reads (and checks) a Voice access token as `/token` issues it: HS256 JWT, grants.identity. */
export function readAccessToken(
  token: unknown,
  opts: { accountSid: string; keys: KeySecrets },
  nowMs = Date.now(),
): TokenClaims {
  if (typeof token !== 'string') throw new TokenError(31204, 'Invalid access token: not a JWT');
  const [head, body, signature, ...extra] = token.split('.');
  if (head === undefined || body === undefined || signature === undefined || extra.length > 0)
    throw new TokenError(31204, 'Invalid access token: not a JWT');
  let header: Payload;
  let claims: Payload;
  try {
    header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as Payload;
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload;
  } catch {
    throw new TokenError(31204, 'Invalid access token: not a JWT');
  }
  // Signed with the secret of the key it names (iss): any key of the account that still exists.
  const secret = typeof claims.iss === 'string' ? opts.keys.secretOf(claims.iss) : undefined;
  const expected = createHmac('sha256', secret ?? '')
    .update(`${head}.${body}`)
    .digest();
  const given = Buffer.from(signature, 'base64url');
  if (
    secret === undefined ||
    header.alg !== 'HS256' ||
    given.length !== expected.length ||
    !timingSafeEqual(given, expected)
  ) {
    throw new TokenError(31202, 'Access token signature validation failed');
  }
  if (claims.sub !== opts.accountSid) throw new TokenError(31204, 'Access token is not for this account');
  const exp = Number(claims.exp);
  if (!Number.isFinite(exp) || exp * 1000 <= nowMs) throw new TokenError(31205, 'Access token expired');
  const grants = (claims.grants ?? {}) as { identity?: unknown; voice?: { outgoing?: { application_sid?: unknown } } };
  if (typeof grants.identity !== 'string' || grants.identity === '')
    throw new TokenError(31204, 'Access token has no identity');
  const app = grants.voice?.outgoing?.application_sid;
  return {
    identity: grants.identity,
    ttl: Math.floor(exp - nowMs / 1000),
    ...(typeof app === 'string' ? { applicationSid: app } : {}),
  };
}
