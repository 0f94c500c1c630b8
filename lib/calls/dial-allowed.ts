// What an SDK call may dial: DIAL_ALLOWED, comma-separated E.164 prefixes (`+1`, `+44`, `+3460`).
// Unset, it is the country code of CALLER_ID, so a token holder cannot run up the bill on premium,
// satellite (+881, +882) or far-away numbers. Inside an allowed prefix, the high-cost ranges below
// stay out unless DIAL_ALLOWED names them (or a part of them) itself. Client → client calls are not
// affected.
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

/**
 * Ranges inside a country code that cost far more than the rest of it. A prefix, `X` standing for
 * any digit. Only +1 has a list: for other country codes no premium list is kept here (list the
 * prefixes you mean in DIAL_ALLOWED to narrow them).
 * - `+1900`: premium-rate (pay-per-call) services, NANPA's non-geographic 900 NPA.
 * - `+1976` and `+1XXX976`: 976, the old pay-per-call code, as an NPA and as an exchange (NXX) in
 *   any area code. Some 976 exchanges are ordinary numbers now: list them to allow one.
 * - The NANP's 18 members other than the United States and Canada (NANPA, "NANP countries" /
 *   the area codes of its Caribbean and Atlantic members; ITU-T E.164 assigns them all +1). Dialled
 *   as `+1` numbers, they are international calls, priced per country: Anguilla 264, Antigua and
 *   Barbuda 268, Bahamas 242, Barbados 246, Bermuda 441, British Virgin Islands 284, Cayman
 *   Islands 345, Dominica 767, Dominican Republic 809/829/849, Grenada 473, Jamaica 876/658,
 *   Montserrat 664, Saint Kitts and Nevis 869, Saint Lucia 758, Saint Vincent and the Grenadines
 *   784, Sint Maarten 721, Trinidad and Tobago 868, Turks and Caicos Islands 649. (The US
 *   territories — Puerto Rico 787/939, US Virgin Islands 340, Guam 671, Northern Mariana Islands
 *   670, American Samoa 684 — are part of the United States' numbering and are not listed.)
 */
export const HIGH_COST_RANGES: readonly string[] = [
  '+1900',
  '+1976',
  '+1XXX976',
  ...'264 268 242 246 441 284 345 767 809 829 849 473 876 658 664 869 758 784 721 868 649'
    .split(' ')
    .map((areaCode) => `+1${areaCode}`),
];

const inRange = (number: string, range: string) =>
  number.length >= range.length && [...range].every((c, i) => c === 'X' || c === number[i]);

/**
 * Whether `number` may be dialled: it starts with an allowed prefix, and no high-cost range it
 * falls in is narrower than the longest such prefix. `+1` dials neither `+1900…` nor `+1876…`;
 * `+1,+1876` dials Jamaica; `+1876` alone dials it too.
 */
export function isDialAllowed(number: string, prefixes: string[]): boolean {
  const allowedBy = Math.max(-1, ...prefixes.filter((p) => number.startsWith(p)).map((p) => p.length));
  if (allowedBy < 0) return false;
  return !HIGH_COST_RANGES.some((range) => inRange(number, range) && range.length > allowedBy);
}
