// Sync v1 request parameters: form values, TTLs, JSON data, unique names, If-Match.
import type { Request } from 'express';
import { TwilioApiError, iso8601 } from '../../http';

export const MAX_TTL = 31_536_000;
export const MAX_DATA_BYTES = 16_384;
export const MAX_UNIQUE_NAME = 256;
export const MAX_KEY = 320;
export const SID_PATTERN = /^[A-Z]{2}[a-f0-9]{32}$/;

export type Body = Record<string, unknown>;

export function bodyOf(req: Request): Body {
  return (req.body ?? {}) as Body;
}

/** A form/query value as a string (first one if repeated); undefined when absent. */
export function param(source: Body, name: string): string | undefined {
  const v = source[name];
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.length ? String(v[0]) : undefined;
  return String(v);
}

export function required(source: Body, name: string): string {
  const v = param(source, name);
  if (v === undefined || v === '') {
    throw new TwilioApiError(400, 20001, `Missing required parameter ${name} in the post body`);
  }
  return v;
}

/** Empty/absent → undefined; otherwise an integer 0..31536000 or 54011. */
export function parseTtl(source: Body, name: string): number | undefined {
  const v = param(source, name);
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v.trim()) || Number(v) > MAX_TTL) {
    throw new TwilioApiError(400, 54011, `Invalid TTL: ${name} must be an integer between 0 and ${MAX_TTL}`);
  }
  return Number(v);
}

/** The first TTL given among `names` (the preferred name first: CollectionTtl/ItemTtl win over Ttl). */
export function ttlOf(source: Body, ...names: string[]): number | undefined {
  // Validate every one that was sent, even the ignored alias.
  const values = names.map((n) => parseTtl(source, n));
  return values.find((v) => v !== undefined);
}

export function parseData(raw: string, invalidCode: number, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new TwilioApiError(400, 54008, 'Invalid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new TwilioApiError(400, invalidCode, `Invalid ${what} data: must be a JSON object`);
  }
  const size = Buffer.byteLength(JSON.stringify(parsed), 'utf8');
  if (size > MAX_DATA_BYTES) {
    throw new TwilioApiError(400, 54006, `Entity too large: ${what} data is ${size} bytes, limit ${MAX_DATA_BYTES}`);
  }
  return parsed as Record<string, unknown>;
}

export function parseUniqueName(source: Body): string | null {
  const v = param(source, 'UniqueName');
  if (v === undefined) return null;
  if (v.length < 1 || v.length > MAX_UNIQUE_NAME || SID_PATTERN.test(v)) {
    throw new TwilioApiError(
      400,
      54302,
      `Invalid unique name: length must be 1-${MAX_UNIQUE_NAME} and must not match the SID pattern`,
    );
  }
  return v;
}

/** If-Match value (quotes and a weak prefix tolerated); undefined when absent. */
export function ifMatchOf(req: Request): string | undefined {
  const v = req.get('If-Match');
  if (v === undefined || v.trim() === '') return undefined;
  return v
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
}

export function checkRevision(req: Request, revision: number, code: number, what: string): void {
  const expected = ifMatchOf(req);
  if (expected === undefined || expected === '*') return;
  if (expected !== String(revision)) {
    throw new TwilioApiError(
      412,
      code,
      `The revision of the ${what} does not match the expected revision (If-Match ${expected}, current ${revision})`,
    );
  }
}

export function expiryFrom(ttl: number, now: number): number | null {
  return ttl === 0 ? null : now + ttl * 1000;
}

export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : iso8601(ms);
}
