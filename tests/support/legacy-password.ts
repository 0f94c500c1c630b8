// A password hash as earlier versions stored it (scrypt N=2^14, r=8, p=1: below OWASP's table), for
// the tests that check such a hash still verifies and is rewritten at today's parameters.
import { randomBytes, scryptSync } from 'node:crypto';

export function legacyPasswordHash(password: string) {
  const salt = randomBytes(16);
  return {
    scheme: 'scrypt' as const,
    N: 16_384,
    r: 8,
    p: 1,
    salt: salt.toString('base64'),
    hash: scryptSync(password, salt, 32, { N: 16_384, r: 8, p: 1 }).toString('base64'),
  };
}
