// Backend keys: how your app's backend calls /backend-send and /backend-messages without the
// account's Auth Token. BACKEND_API_KEYS lists them, comma- or space-separated, each
// `<scope>:<id>.<secret>` with scope `send`, `read` or `send+read`, e.g.
//   BACKEND_API_KEYS="send+read:orders.4hQ…(≥ 32 characters), read:reports.Zt9…"
// The backend sends `Authorization: Bearer <id>.<secret>` (the key is everything after the
// scope). Several keys let one be rotated out (add the new one, move the backend, remove the
// old) and give each backend only what it needs.
//
// A key is checked in constant time (secretsMatch), and its wrong guesses are throttled as
// sign-ins are (lib/auth/throttle.ts), per key id: a key id that exists is an account, so a wrong
// secret for it is counted (5 free, then a lock of 1, 2, 4, 8, at most 15 minutes during which the
// right secret is refused too), while a key id that does not exist costs no Sync request at all.
// Only a guess that could be right is counted: a secret of another length than the key's is
// refused (401) without a Sync request, so a stray or garbled key cannot lock the backend out, and
// a stranger must know a key's id and its secret's length to. (A length is no secret: the secret's
// strength is in its ≥ 32 random characters.)
import { MIN_SECRET_CHARS, type Config } from '../platform/config';
import { apiError } from '../shared/error-catalogue';
import { bearerToken, secretsMatch } from '../platform/secrets';
import type { TwilioClient } from '../platform/twilio-client';
import { SignInThrottle } from './throttle';

export type BackendScope = 'send' | 'read';

export interface BackendKey {
  id: string;
  scopes: readonly BackendScope[];
  /** The whole key as the backend sends it: `<id>.<secret>`. */
  key: string;
}

/** The shortest secret part of a key: as long as the project's other shared secrets. */
export const MIN_BACKEND_KEY_SECRET_CHARS = MIN_SECRET_CHARS;
/** Most keys BACKEND_API_KEYS may list. */
export const MAX_BACKEND_KEYS = 20;

const SCOPES: Record<string, readonly BackendScope[]> = {
  send: ['send'],
  read: ['read'],
  'send+read': ['send', 'read'],
  'read+send': ['send', 'read'],
};
// The secret: base64, base64url or hex characters (`openssl rand -base64 32`, `-hex 32`).
const ENTRY = new RegExp(
  `^([a-z+]+):([A-Za-z0-9_-]{1,40})\\.([A-Za-z0-9+/_~-]{${MIN_BACKEND_KEY_SECRET_CHARS},512}={0,2})$`,
);
/** What a Bearer value must look like to be looked up at all. */
const PRESENTED = /^([A-Za-z0-9_-]{1,40})\.([A-Za-z0-9+/_~-]{1,512}={0,2})$/;

const invalidConfig = (message: string) =>
  apiError('configuration-invalid', `BACKEND_API_KEYS: ${message} Each entry is <send|read|send+read>:<id>.<secret>.`);

/** Parses BACKEND_API_KEYS; throws 500 configuration-invalid (naming the variable) for a malformed list. */
export function parseBackendKeys(text: string): BackendKey[] {
  const entries = text.split(/[\s,]+/).filter(Boolean);
  if (entries.length > MAX_BACKEND_KEYS) throw invalidConfig(`at most ${MAX_BACKEND_KEYS} keys.`);
  const keys: BackendKey[] = [];
  for (const [i, entry] of entries.entries()) {
    const match = ENTRY.exec(entry);
    // Own keys only: `constructor:` must not find Object's prototype.
    const scopes = match && Object.hasOwn(SCOPES, match[1] ?? '') ? SCOPES[match[1] ?? ''] : undefined;
    if (!match || !scopes) {
      throw invalidConfig(
        `entry ${i + 1} is not a key with a scope, or its secret has fewer than ${MIN_BACKEND_KEY_SECRET_CHARS} characters.`,
      );
    }
    const id = match[2] ?? '';
    if (keys.some((k) => k.id === id)) throw invalidConfig(`the id ${id} is listed twice.`);
    keys.push({ id, scopes, key: `${id}.${match[3] ?? ''}` });
  }
  return keys;
}

/** The keys of this deployment; 500 configuration-missing when BACKEND_API_KEYS is unset (the key routes are off). */
export function backendKeys(config: Pick<Config, 'raw'>): BackendKey[] {
  const keys = parseBackendKeys(config.raw.BACKEND_API_KEYS ?? '');
  if (keys.length === 0) {
    throw apiError(
      'configuration-missing',
      'BACKEND_API_KEYS is not set: the backend-key routes are off (the Twilio-signed ones still work).',
    );
  }
  return keys;
}

const refused = () =>
  apiError('backend-key-invalid', 'Send Authorization: Bearer <key>, a key listed in BACKEND_API_KEYS.');

/** What checking a key needs from the invocation (a route's context has it). */
export interface BackendKeyDeps {
  config: Pick<Config, 'raw' | 'syncServiceSid'>;
  headers: Record<string, unknown>;
  client: () => TwilioClient;
  deadline: number;
}

/**
 * The key the request's `Authorization: Bearer` carries, if it is listed and allowed `scope`:
 * 401 backend-key-invalid otherwise (no Sync request for an unknown key id or a secret of the
 * wrong length), 429 sign-in-throttled while the key id is locked, 403 backend-key-scope for a key
 * without the scope. Costs 1 Sync read (the key's counter), +1 write for a wrong secret of the
 * right length, +1 for the first right one after failures.
 */
export async function requireBackendKey(ctx: BackendKeyDeps, scope: BackendScope): Promise<BackendKey> {
  const keys = backendKeys(ctx.config);
  const presented = PRESENTED.exec(bearerToken(ctx.headers) ?? '');
  const key = presented ? keys.find((k) => k.id === presented[1]) : undefined;
  if (!presented || !key) throw refused();
  // A secret of another length can never be the key's: not a guess worth counting (see above).
  if (presented[0].length !== key.key.length) throw refused();
  const throttle = new SignInThrottle(ctx.client(), ctx.config, ctx.deadline);
  const counter = await throttle.read(`backend-key.${key.id}`);
  if (!secretsMatch(presented[0], key.key)) {
    await throttle.count(counter);
    throw refused();
  }
  await throttle.forgive(counter);
  if (!key.scopes.includes(scope)) {
    throw apiError('backend-key-scope', `This key may not ${scope === 'send' ? 'send messages' : 'read history'}.`);
  }
  return key;
}
