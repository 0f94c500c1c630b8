import { createHash, timingSafeEqual } from 'node:crypto';

/** Compares secrets, tokens and signatures in constant time (hashing first makes the lengths equal): the one place that does. */
export function secretsMatch(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** The token of an `Authorization: Bearer <token>` header, if there is one. */
export function bearerToken(headers: Record<string, unknown>): string | undefined {
  const authorization = headers.authorization;
  return typeof authorization === 'string' && authorization.startsWith('Bearer ') ? authorization.slice(7) : undefined;
}
