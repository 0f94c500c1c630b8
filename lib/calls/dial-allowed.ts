// What an SDK call may dial: DIAL_ALLOWED, comma-separated E.164 prefixes (`+1`, `+44`, `+3460`).
// Unset, it is the country code of CALLER_ID, so a token holder cannot run up the bill on premium,
// satellite (+881, +882) or far-away numbers. Client → client calls are not affected.
import { apiError } from '../shared/error-catalogue';
import { isE164 } from '../shared/identifiers';

const PREFIX = /^\+[1-9]\d{0,14}$/;

// ITU-T E.164 country codes are prefix-free: 1 and 7 are one digit; these are the two-digit ones;
// every other code is three digits (e.g. +353, +882).
const TWO_DIGIT_CODES = new Set(
  '20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98'.split(
    ' ',
  ),
);

/** `+15005550006` → `+1`, `+447700900123` → `+44`, `+35312345678` → `+353`; undefined for a non-E.164 value. */
export function countryCode(number: unknown): string | undefined {
  if (!isE164(number)) return undefined;
  const digits = number.slice(1);
  if (digits[0] === '1' || digits[0] === '7') return `+${digits[0]}`;
  if (TWO_DIGIT_CODES.has(digits.slice(0, 2))) return `+${digits.slice(0, 2)}`;
  return `+${digits.slice(0, 3)}`;
}

/**
 * The allowed prefixes: DIAL_ALLOWED, else CALLER_ID's country code, else none. A malformed
 * DIAL_ALLOWED is a 500 `configuration-invalid` naming it.
 */
export function dialAllowed(raw: { DIAL_ALLOWED?: string; CALLER_ID?: string }): string[] {
  const value = raw.DIAL_ALLOWED?.trim();
  if (!value) {
    const code = countryCode(raw.CALLER_ID);
    return code ? [code] : [];
  }
  const prefixes = value.split(',').map((p) => p.trim());
  if (!prefixes.every((p) => PREFIX.test(p))) {
    throw apiError(
      'configuration-invalid',
      'DIAL_ALLOWED must be comma-separated E.164 prefixes, e.g. +1,+44 (a + and 1-15 digits each).',
    );
  }
  return prefixes;
}

export const isDialAllowed = (number: string, prefixes: string[]) => prefixes.some((p) => number.startsWith(p));
