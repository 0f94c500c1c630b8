// Twilio SIDs for the tests and the bench: a two-letter prefix and 32 lower-case hex digits, the
// shape Twilio issues and lib/shared/identifiers.ts accepts. A numbered SID is the same on every run
// (a test can name it again); a random one is for a request that must not meet anything earlier.
import { randomBytes } from 'node:crypto';

/** `prefix` and `n` as 32 hex digits: `sid('CA', 10)` is `CA000…00a`. A bigint reaches past 2^53. */
export function sid(prefix: string, n: number | bigint): string {
  if (!/^[A-Z]{2}$/.test(prefix)) throw new Error(`a SID prefix is two capital letters, not ${prefix}`);
  const hex = n.toString(16);
  if (hex.startsWith('-') || hex.includes('.') || hex.length > 32) throw new Error(`no SID numbered ${hex}`);
  return prefix + hex.padStart(32, '0');
}

/** A well-formed SID nobody issued, different on every call. */
export const randomSid = (prefix: string): string => sid(prefix, BigInt(`0x${randomBytes(16).toString('hex')}`));

/** An account (AC…). */
export const accountSid = (n: number | bigint) => sid('AC', n);
/** A call, or one leg of it (CA…). */
export const callSid = (n: number | bigint) => sid('CA', n);
/** A Voice SDK call message, either way (KX…). */
export const messageSid = (n: number | bigint) => sid('KX', n);
/** A Sync service (IS…). */
export const syncServiceSid = (n: number | bigint) => sid('IS', n);

export const randomCallSid = () => randomSid('CA');
export const randomMessageSid = () => randomSid('KX');
