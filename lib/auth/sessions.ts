// Signed, stateless sessions: `<payload>.<signature>`, the payload base64url JSON with a version, an
// expiry and a nonce, the signature HMAC-SHA256 under a key derived from AUTH_TOKEN and a purpose
// label, so a session for one purpose never opens another and rotating the Auth Token ends them all.
// Nothing is stored; the Auth Token itself never leaves the server.
//
// Operator console: the operator shows OPERATOR_SECRET once (/operator-session) and gets a one-hour
// session whose key also depends on the operator secret, so changing that secret ends every session.
// Agents (lib/auth/agents.ts) get their own kind of session from /agent-session.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { secretsMatch } from '../platform/secrets';

export const SESSION_TTL_SECONDS = 3600;

/** Longest session string accepted (a few hundred characters in practice). */
const MAX_SESSION_CHARS = 1024;

/** The HMAC key of one kind of session: AUTH_TOKEN and a label naming what the session is for. */
export function sessionKey(authToken: string, label: string): Buffer {
  return createHmac('sha256', authToken).update(label).digest();
}

function operatorKey(authToken: string, operatorSecret: string): Buffer {
  const secretDigest = createHash('sha256').update(operatorSecret).digest('hex');
  return sessionKey(authToken, `cme.operator-session.v1\n${secretDigest}`);
}

const sign = (key: Buffer, payload: string) => createHmac('sha256', key).update(payload).digest('base64url');

/** A session carrying `claims`, valid for `ttlSeconds` from `nowMs`. */
export function signSession(
  key: Buffer,
  claims: Record<string, unknown>,
  ttlSeconds: number,
  nowMs = Date.now(),
): { session: string; exp: number } {
  const exp = Math.floor(nowMs / 1000) + ttlSeconds;
  const body = { ...claims, v: 1, exp, n: randomBytes(9).toString('base64url') };
  const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
  return { session: `${payload}.${sign(key, payload)}`, exp };
}

/** The claims of a genuine, unexpired session signed with `key`; undefined for anything else. */
export function readSession(
  session: unknown,
  key: Buffer,
  nowMs = Date.now(),
): (Record<string, unknown> & { exp: number }) | undefined {
  if (typeof session !== 'string' || session.length > MAX_SESSION_CHARS) return undefined;
  const [payload, signature, extra] = session.split('.');
  if (!payload || !signature || extra !== undefined) return undefined;
  if (!secretsMatch(signature, sign(key, payload))) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (claims.v !== 1 || typeof claims.exp !== 'number' || claims.exp * 1000 <= nowMs) return undefined;
    return claims as Record<string, unknown> & { exp: number };
  } catch {
    return undefined;
  }
}

export interface OperatorSession {
  session: string;
  /** ISO 8601 */
  expiresAt: string;
}

export function issueSession(authToken: string, operatorSecret: string, nowMs = Date.now()): OperatorSession {
  const { session, exp } = signSession(operatorKey(authToken, operatorSecret), {}, SESSION_TTL_SECONDS, nowMs);
  return { session, expiresAt: new Date(exp * 1000).toISOString() };
}

/** The session's expiry (seconds since the epoch) when it is genuine and unexpired; undefined otherwise. */
export function verifySession(
  session: unknown,
  authToken: string,
  operatorSecret: string,
  nowMs = Date.now(),
): number | undefined {
  return readSession(session, operatorKey(authToken, operatorSecret), nowMs)?.exp;
}
