// Forwarding to the app's own backend (APP_WEBHOOK_URL): the signed POST, its payloads, and the
// signing. Signed as the Standard Webhooks specification says (standardwebhooks.com), so a backend
// in any language checks it with that specification's own verifier (`standardwebhooks` on npm,
// PyPI, NuGet…): `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature:
// v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<raw body>">`, one `v1,` entry per secret, with the
// key the base64 after `whsec_`. The client's verifier (client/src) is written apart from this
// signer, and tests check both against the specification's npm package.
import { createHmac } from 'node:crypto';
import type { StoredMessage } from '../store/records';
import { isLocalDomain, removeFromDeployment, type Config } from '../platform/config';
import { apiError } from '../shared/error-catalogue';
import { parseJson } from '../shared/json-text';

export const WEBHOOK_ID_HEADER = 'webhook-id';
export const WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'webhook-signature';
/** Still sent, with the webhook-id's value: backends that deduplicated on it keep working. */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
/** Longest one delivery may take: a slow or dead backend never pushes the invocation past its deadline. */
export const DELIVERY_TIMEOUT_MS = 3000;
/** Below this, a delivery is not even tried (it could not get an answer): the callback answers 503. */
export const MIN_DELIVERY_MS = 250;
/** Most of the backend's answer that is read (enough for a reply of 10,000 three-byte characters). */
export const MAX_ANSWER_BYTES = 64 * 1024;
/** A signing key (the base64 after `whsec_`) is at least this many bytes: a key like the other shared secrets. */
export const MIN_WEBHOOK_KEY_BYTES = 32;
/** Most secrets APP_WEBHOOK_SECRET may list: the current one and the ones being rotated out. */
export const MAX_WEBHOOK_SECRETS = 3;
/** The prefix of a Standard Webhooks secret. */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';

export type ForwardedEventType = 'call.message' | 'call.started' | 'call.ended';

export interface ForwardingSettings {
  url: string;
  /** The signing keys (decoded), one `v1,` signature each: during a rotation, the new and the old. */
  keys: Buffer[];
}

const configurationInvalid = (message: string) => apiError('configuration-invalid', message);

/**
 * The keys of a Standard Webhooks secret list: `whsec_<base64>` entries separated by spaces or
 * commas. Undefined when one is malformed or shorter than MIN_WEBHOOK_KEY_BYTES.
 */
export function webhookKeys(secrets: string): Buffer[] | undefined {
  const entries = secrets.split(/[\s,]+/).filter(Boolean);
  if (entries.length === 0 || entries.length > MAX_WEBHOOK_SECRETS) return undefined;
  const keys: Buffer[] = [];
  for (const entry of entries) {
    if (!entry.startsWith(WEBHOOK_SECRET_PREFIX)) return undefined;
    const text = entry.slice(WEBHOOK_SECRET_PREFIX.length);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
    const key = Buffer.from(text, 'base64');
    if (key.length < MIN_WEBHOOK_KEY_BYTES) return undefined;
    keys.push(key);
  }
  return keys;
}

/**
 * APP_WEBHOOK_URL + APP_WEBHOOK_SECRET, or undefined (forwarding off) when neither is set. One
 * without the other, a secret that is not `whsec_<base64 of ≥ 32 bytes>` (up to three, for a
 * rotation), or a URL that is not http(s) is refused (500 configuration-invalid naming the
 * variable): a half-configured forwarding must not silently drop what the app expects. A deployed
 * Function forwards over https only (the body carries the content).
 */
export function forwardingSettings(config: Pick<Config, 'raw'>): ForwardingSettings | undefined {
  const url = (config.raw.APP_WEBHOOK_URL ?? '').trim();
  const secret = (config.raw.APP_WEBHOOK_SECRET ?? '').trim();
  if (!url && !secret) return undefined;
  // Neither: both removed, which only npm run deploy carries to a deployment.
  const neither = `set both, or neither: to turn forwarding off, ${removeFromDeployment('both')}`;
  if (!url) throw configurationInvalid(`APP_WEBHOOK_SECRET is set but APP_WEBHOOK_URL is not: ${neither}`);
  if (!secret) throw configurationInvalid(`APP_WEBHOOK_URL is set but APP_WEBHOOK_SECRET is not: ${neither}`);
  const keys = webhookKeys(secret);
  if (!keys) {
    throw configurationInvalid(
      `APP_WEBHOOK_SECRET must be a Standard Webhooks secret, whsec_<base64 of at least ${MIN_WEBHOOK_KEY_BYTES} bytes> ` +
        `(echo "whsec_$(openssl rand -base64 32)"); up to ${MAX_WEBHOOK_SECRETS}, space-separated, while rotating.`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw configurationInvalid('APP_WEBHOOK_URL must be an absolute http(s) URL.');
  }
  const local = isLocalDomain(config.raw.DOMAIN_NAME);
  if (parsed.protocol !== 'https:' && !(local && parsed.protocol === 'http:')) {
    throw configurationInvalid('APP_WEBHOOK_URL must be an https URL in a deployed Function.');
  }
  return { url, keys };
}

/** One Standard Webhooks signature: base64 HMAC-SHA256 of `<id>.<timestamp>.<raw body>`. */
export function webhookSignature(key: Buffer, id: string, timestamp: number, rawBody: string): string {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(Buffer.from(rawBody, 'utf8')).digest('base64');
}

/** The three Standard Webhooks headers for a body sent at `timestamp` (Unix seconds): one `v1,` entry per key. */
export function webhookHeaders(keys: readonly Buffer[], id: string, rawBody: string, timestamp: number) {
  return {
    [WEBHOOK_ID_HEADER]: id,
    [WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
    [WEBHOOK_SIGNATURE_HEADER]: keys.map((key) => `v1,${webhookSignature(key, id, timestamp, rawBody)}`).join(' '),
  };
}

/** What the leg's state tells about the SDK leg a message or event belongs to. */
export interface LegIdentity {
  parentCallSid: string | null;
  identity: string | null;
}

/** A message from the SDK as it is forwarded (and stored). */
export type InboundMessage = StoredMessage & { sid: string; sequence: number };

/**
 * The body of a `call.message` event, as its exact text: `content` is the JSON text the SDK sent,
 * embedded as it is (never parsed and re-serialised), so the app sees the content as sent and no
 * nesting depth can make writing the body recurse. Content that is not JSON (`irregular` holds
 * `content`) is embedded as a JSON string of its text.
 */
export function messageEventBody(message: InboundMessage, leg: LegIdentity): string {
  const head = {
    type: 'call.message' satisfies ForwardedEventType,
    callSid: message.callSid,
    parentCallSid: leg.parentCallSid,
    identity: leg.identity,
    sid: message.sid,
    sequence: message.sequence,
    timestamp: message.timestamp,
    contentType: message.contentType,
    ...(message.valid === false ? { valid: false, validationError: message.validationError ?? null } : {}),
    ...(message.irregular ? { irregular: message.irregular } : {}),
  };
  const text = JSON.stringify(head);
  const content = message.irregular?.includes('content') ? JSON.stringify(message.content) : message.content;
  return `${text.slice(0, -1)},"content":${content}}`;
}

/** A `call.started` / `call.ended` event for one SDK leg. */
export interface LegEvent {
  type: Exclude<ForwardedEventType, 'call.message'>;
  callSid: string;
  parentCallSid: string;
  identity: string;
  role: 'parent' | 'child';
  /** The CallStatus that made the event (e.g. ringing, completed, busy). */
  status: string;
  timestamp: string;
  durationSeconds?: number;
}

export const legEventBody = (event: LegEvent) => JSON.stringify(event);
/** One key per leg and event: the app dedupes on it (a repeated status callback may repeat it). */
export const legEventKey = (event: Pick<LegEvent, 'callSid' | 'type'>) => `${event.callSid}:${event.type}`;

export interface Delivery {
  /** The backend answered 2xx. */
  ok: boolean;
  status?: number;
  /** Why it failed: `timeout`, `network`, `no-time` (not tried: the invocation is out of time), `status`. */
  failure?: 'timeout' | 'network' | 'no-time' | 'status';
  ms: number;
  /** `reply` of a 2xx JSON answer `{"reply": …}`, when there is one. */
  reply?: unknown;
}

/** How long a delivery may take now: DELIVERY_TIMEOUT_MS, less when the invocation must keep `reserveMs` after it. */
export function deliveryTimeout(deadline: number, reserveMs: number, now = Date.now()): number {
  return Math.min(DELIVERY_TIMEOUT_MS, deadline - now - reserveMs);
}

/**
 * POSTs one event to the backend, signed, its `webhook-id` (and Idempotency-Key) the event's stable
 * key, and waits at most `timeoutMs`.
 * Never throws: a failure is a Delivery with ok false. No redirects are followed (a signed body
 * goes only where APP_WEBHOOK_URL says).
 */
export async function deliver(
  settings: ForwardingSettings,
  body: string,
  idempotencyKey: string,
  timeoutMs: number,
  now = () => Date.now(),
): Promise<Delivery> {
  const started = now();
  if (timeoutMs < MIN_DELIVERY_MS) return { ok: false, failure: 'no-time', ms: 0 };
  const headers = {
    'Content-Type': 'application/json',
    'User-Agent': 'call-message-events-forwarder/2',
    [IDEMPOTENCY_HEADER]: idempotencyKey,
    ...webhookHeaders(settings.keys, idempotencyKey, body, Math.floor(started / 1000)),
  };
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(settings.url, { method: 'POST', headers, body, redirect: 'manual', signal });
    const ok = res.status >= 200 && res.status < 300;
    const text = await readBounded(res, MAX_ANSWER_BYTES);
    const delivery: Delivery = { ok, status: res.status, ms: now() - started };
    if (!ok) return { ...delivery, failure: 'status' };
    const reply = replyOf(text, res.headers.get('content-type'));
    return reply === undefined ? delivery : { ...delivery, reply };
  } catch (err) {
    const timedOut = signal.aborted || (err as Error)?.name === 'TimeoutError';
    return { ok: false, failure: timedOut ? 'timeout' : 'network', ms: now() - started };
  }
}

/** Reads at most `limit` bytes of an answer (a huge answer is cut, never buffered whole). */
async function readBounded(res: Response, limit: number): Promise<string | undefined> {
  if (!res.body) return undefined;
  // Node's fetch types its body's chunks as `any`; they are bytes (WHATWG fetch).
  const reader: ReadableStreamDefaultReader<Uint8Array> = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
      if (size > limit) return undefined; // too big to hold a reply we could send
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** `reply` of a JSON answer `{"reply": …}`; undefined for anything else (an empty 200 is just an acknowledgement). */
export function replyOf(text: string | undefined, contentType: string | null): unknown {
  if (!text || !/^application\/(.+\+)?json\b/i.test((contentType ?? '').trim())) return undefined;
  const parsed = parseJson(text);
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value))
    return undefined;
  return (parsed.value as Record<string, unknown>).reply;
}
