import { apiError, type ErrorCode } from './error-catalogue';

const CALL_SID = /^CA[0-9a-f]{32}$/;
const MESSAGE_SID = /^KX[0-9a-f]{32}$/;
const E164 = /^\+[1-9]\d{1,14}$/;
// Twilio Client identities: no spaces or special characters, at most 121 characters.
const IDENTITY = /^[A-Za-z0-9_.-]{1,121}$/;

export const isCallSid = (v: unknown): v is string => typeof v === 'string' && CALL_SID.test(v);
export const isMessageSid = (v: unknown): v is string => typeof v === 'string' && MESSAGE_SID.test(v);
export const isE164 = (v: unknown): v is string => typeof v === 'string' && E164.test(v);
export const isIdentity = (v: unknown): v is string => typeof v === 'string' && IDENTITY.test(v);

/**
 * A whole number in [min, max], given as text (a form or query value) or a number; `fallback` when
 * absent (undefined or empty). Anything else is a 400 with `code`.
 */
export function integerParam(
  value: unknown,
  rule: { name: string; code: ErrorCode; min: number; max: number; fallback?: number },
): number {
  if ((value === undefined || value === '') && rule.fallback !== undefined) return rule.fallback;
  const n = typeof value === 'number' || (typeof value === 'string' && /^\d{1,16}$/.test(value)) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < rule.min || n > rule.max)
    throw apiError(rule.code, `${rule.name} must be a whole number from ${rule.min} to ${rule.max}.`);
  return n;
}

export function requireCallSid(value: unknown, name = 'callSid'): string {
  if (!isCallSid(value))
    throw apiError('call-sid-invalid', `${name} must be a Call SID: CA followed by 32 hex digits.`);
  return value;
}

export function requireIdentity(value: unknown, name = 'identity'): string {
  if (!isIdentity(value)) {
    throw apiError('identity-invalid', `${name} must be 1-121 characters of letters, digits, '_', '.' or '-'.`);
  }
  return value;
}

/** `client:alice` → `alice`; anything else → undefined. */
export function clientIdentity(address: unknown): string | undefined {
  if (typeof address !== 'string' || !address.startsWith('client:')) return undefined;
  const identity = address.slice('client:'.length);
  return isIdentity(identity) ? identity : undefined;
}
