// Operator console sessions. The operator shows OPERATOR_SECRET once (/operator-session) and gets a
// short-lived bearer token: `<payload>.<signature>`, HMAC-SHA256 with a key derived from AUTH_TOKEN
// and the operator secret, so changing either one ends every session. Stateless: nothing is stored.
// The Auth Token itself never leaves the server.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_TTL_SECONDS = 3600;

function sessionKey(authToken: string, operatorSecret: string): Buffer {
  const secretDigest = createHash('sha256').update(operatorSecret).digest('hex');
  return createHmac('sha256', authToken).update(`cme.operator-session.v1\n${secretDigest}`).digest();
}

const sign = (key: Buffer, payload: string) => createHmac('sha256', key).update(payload).digest('base64url');

export interface OperatorSession {
  session: string;
  /** ISO 8601 */
  expiresAt: string;
}

export function issueSession(authToken: string, operatorSecret: string, nowMs = Date.now()): OperatorSession {
  const exp = Math.floor(nowMs / 1000) + SESSION_TTL_SECONDS;
  const payload = Buffer.from(JSON.stringify({ v: 1, exp, n: randomBytes(9).toString('base64url') })).toString(
    'base64url',
  );
  return {
    session: `${payload}.${sign(sessionKey(authToken, operatorSecret), payload)}`,
    expiresAt: new Date(exp * 1000).toISOString(),
  };
}

/** The session's expiry (seconds since the epoch) when it is genuine and unexpired; undefined otherwise. */
export function verifySession(
  session: unknown,
  authToken: string,
  operatorSecret: string,
  nowMs = Date.now(),
): number | undefined {
  if (typeof session !== 'string' || session.length > 512) return undefined;
  const [payload, signature, extra] = session.split('.');
  if (!payload || !signature || extra !== undefined) return undefined;
  const expected = Buffer.from(sign(sessionKey(authToken, operatorSecret), payload));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const { v, exp } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { v?: unknown; exp?: unknown };
    if (v !== 1 || typeof exp !== 'number' || exp * 1000 <= nowMs) return undefined;
    return exp;
  } catch {
    return undefined;
  }
}
