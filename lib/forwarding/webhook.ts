// Forwarding to the app's own backend (APP_WEBHOOK_URL): the signed POST, its payloads, and the
// check the app runs on what it receives. Signed the way Stripe signs webhooks, so app developers
// know it: `X-CME-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.
// Plain module (node:crypto and fetch only): client/ re-exports the verifier from here.
import { createHmac } from 'node:crypto';
import type { StoredMessage } from '../store/records';
import { isLocalDomain, type Config } from '../platform/config';
import { apiError } from '../shared/error-catalogue';
import { parseJson } from '../shared/json-text';
import { secretsMatch } from '../platform/secrets';

export const SIGNATURE_HEADER = 'X-CME-Signature';
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
/** How old (or how far in the future) a signature's `t` may be by default: Stripe's five minutes. */
export const DEFAULT_TOLERANCE_SECONDS = 300;
/** Longest one delivery may take: a slow or dead backend never pushes the invocation past its deadline. */
export const DELIVERY_TIMEOUT_MS = 3000;
/** Below this, a delivery is not even tried (it could not get an answer): the callback answers 503. */
export const MIN_DELIVERY_MS = 250;
/** Most of the backend's answer that is read (enough for a reply of 10,000 three-byte characters). */
export const MAX_ANSWER_BYTES = 64 * 1024;
/** APP_WEBHOOK_SECRET is a shared secret like the others: at least this long. */
export const MIN_WEBHOOK_SECRET_CHARS = 32;

export type ForwardedEventType = 'call.message' | 'call.started' | 'call.ended';

export interface ForwardingSettings {
  url: string;
  secret: string;
}

const configurationInvalid = (message: string) => apiError('configuration-invalid', message);

/**
 * APP_WEBHOOK_URL + APP_WEBHOOK_SECRET, or undefined (forwarding off) when neither is set. One
 * without the other, a short secret, or a URL that is not http(s) is refused (500
 * configuration-invalid naming the variable): a half-configured forwarding must not silently drop
 * what the app expects. A deployed Function forwards over https only (the body carries the content).
 */
export function forwardingSettings(config: Pick<Config, 'raw'>): ForwardingSettings | undefined {
  const url = (config.raw.APP_WEBHOOK_URL ?? '').trim();
  const secret = config.raw.APP_WEBHOOK_SECRET ?? '';
  if (!url && !secret) return undefined;
  if (!url) throw configurationInvalid('APP_WEBHOOK_SECRET is set but APP_WEBHOOK_URL is not: set both, or neither.');
  if (!secret)
    throw configurationInvalid('APP_WEBHOOK_URL is set but APP_WEBHOOK_SECRET is not: set both, or neither.');
  if (secret.length < MIN_WEBHOOK_SECRET_CHARS) {
    throw configurationInvalid(
      `APP_WEBHOOK_SECRET must be at least ${MIN_WEBHOOK_SECRET_CHARS} characters (openssl rand -base64 32).`,
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
  return { url, secret };
}

/** The signature over `<t>.<raw body>`: hex HMAC-SHA256 with the shared secret. */
export function signatureOf(secret: string, timestamp: number, rawBody: string | Uint8Array): string {
  return createHmac('sha256', secret)
    .update(`${timestamp}.`)
    .update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody)
    .digest('hex');
}

/** The X-CME-Signature header value for a body sent at `timestamp` (Unix seconds). */
export function signatureHeader(secret: string, rawBody: string, timestamp: number): string {
  return `t=${timestamp},v1=${signatureOf(secret, timestamp, rawBody)}`;
}

/** Request headers as Node (IncomingHttpHeaders), Express, or fetch (`Headers`) give them. */
export type HeadersLike = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

function headerValue(headers: HeadersLike, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() === wanted) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

export type VerifyFailure =
  'header-missing' | 'header-malformed' | 'timestamp-outside-tolerance' | 'signature-mismatch';

/**
 * Checks a forwarded request as the app receives it. `rawBody` must be the bytes as received
 * (Express: `express.raw({ type: 'application/json' })`), not a re-serialised parse. Any `v1`
 * entry may match (more than one lets a secret be rotated). `now` is for tests.
 */
export function checkForwardedRequest(
  rawBody: string | Uint8Array,
  headers: HeadersLike,
  secret: string,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
  now = Date.now(),
): { valid: true; timestamp: number } | { valid: false; reason: VerifyFailure } {
  const header = headerValue(headers, SIGNATURE_HEADER);
  if (!header) return { valid: false, reason: 'header-missing' };
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
  }
  if (timestamp === undefined || signatures.length === 0) return { valid: false, reason: 'header-malformed' };
  if (Math.abs(now / 1000 - timestamp) > toleranceSeconds)
    return { valid: false, reason: 'timestamp-outside-tolerance' };
  const expected = signatureOf(secret, timestamp, rawBody);
  const matches = signatures.some((given) => secretsMatch(given, expected));
  return matches ? { valid: true, timestamp } : { valid: false, reason: 'signature-mismatch' };
}

/** True when `rawBody` carries a valid X-CME-Signature made with `secret` within `toleranceSeconds`. */
export function verifyForwardedRequest(
  rawBody: string | Uint8Array,
  headers: HeadersLike,
  secret: string,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): boolean {
  return checkForwardedRequest(rawBody, headers, secret, toleranceSeconds).valid;
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
 * POSTs one event to the backend, signed, with its Idempotency-Key, and waits at most `timeoutMs`.
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
    'User-Agent': 'call-message-events-forwarder/1',
    [IDEMPOTENCY_HEADER]: idempotencyKey,
    [SIGNATURE_HEADER]: signatureHeader(settings.secret, body, Math.floor(started / 1000)),
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
