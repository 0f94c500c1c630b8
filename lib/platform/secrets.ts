import { createHash, timingSafeEqual } from 'node:crypto';

/** Compares secrets, tokens and signatures in constant time (hashing first makes the lengths equal): the one place that does. */
export function secretsMatch(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * The token of an `Authorization: Bearer <token>` header, if there is one. The scheme is
 * case-insensitive and may be followed by several spaces (RFC 7235 §2.1): `bearer <token>`, as
 * some HTTP libraries write it, is the same header.
 */
export function bearerToken(headers: Record<string, unknown>): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization !== 'string') return undefined;
  return /^bearer +(.*)$/is.exec(authorization)?.[1];
}
