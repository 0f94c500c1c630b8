// The client for your backend, a package of its own (client/package.json): it imports nothing but
// Node's built-ins (global fetch, node:crypto), so it installs and runs without this repository.
// - With a backend key (BACKEND_API_KEYS): `/backend-send` and `/backend-messages`, with
//   `Authorization: Bearer <key>`. What a backend should use.
// - With the Auth Token (or a SharedKey): `/send-message` and `/call-messages`, signed the way Twilio
//   signs webhooks (X-Twilio-Signature), for backends that already hold it.
// - Forwarded events (APP_WEBHOOK_URL) are signed as the Standard Webhooks specification says:
//   `verifyForwardedRequest` checks them (so does the specification's own `standardwebhooks`).
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

// ---- The API's answers (the same shapes as lib/shared/api-types.ts; tests check they agree) ----

export type MessageDirection = 'from-sdk' | 'to-sdk';
export type LegStatus =
  'initiated' | 'ringing' | 'in-progress' | 'completed' | 'busy' | 'failed' | 'no-answer' | 'canceled';

export interface SubscriptionRecord {
  status: 'claimed' | 'subscribed' | 'refused' | 'failed';
  at: string;
  by: string;
  sid?: string;
}

export interface LegState {
  callSid: string;
  parentCallSid: string;
  role: 'parent' | 'child';
  identity: string;
  peer: string;
  status: LegStatus;
  updatedAt: string;
  endedAt?: string;
  durationSeconds?: number;
  subscription?: SubscriptionRecord;
}

/** One message in a history page: `content` is the JSON text as it was sent, `data` a parsed copy (≤ 64 levels). */
export interface CallMessagePageItem {
  sid: string | null;
  callSid: string;
  direction: MessageDirection;
  sequence?: number;
  contentType: string;
  content: string;
  timestamp: string;
  idempotencyKey?: string;
  forwarded?: boolean;
  valid?: boolean;
  validationError?: string;
  irregular?: ('sid' | 'content' | 'content-type')[];
  cursor: string;
  data?: unknown;
}

/** A history page (`/backend-messages`, `/call-messages`). */
export interface CallMessagesPage {
  callSid: string;
  state?: LegState | null;
  messages: CallMessagePageItem[];
  order: 'asc' | 'desc';
  nextPageToken: string | null;
}

/** A send's answer (`/backend-send`, `/send-message`). */
export interface SendMessageResult {
  sid: string | null;
  callSid: string;
  idempotencyKey: string;
  outcome: 'sent' | 'already-sent';
}

/** Every refusal: a code of the error catalogue and a sentence. */
export interface ApiError {
  code: string;
  message: string;
}

// ---- Calling the functions ----

export interface FunctionsClientOptions {
  /** Where the functions are: https://<service>-1234-dev.twil.io, or http://localhost:3000. */
  baseUrl: string;
  /** A backend key from BACKEND_API_KEYS (`<id>.<secret>`): the key routes, with `Authorization: Bearer`. */
  apiKey?: string;
  /** Or the account's Auth Token: the Twilio-signed routes, signed as Twilio signs webhooks. */
  authToken?: string;
  /**
   * Sign with a SharedKey instead of the Auth Token (HMAC-SHA256, as Twilio's Webhooks configuration
   * API signs): the functions verify it with WEBHOOK_SHARED_KEY_SECRET.
   */
  sharedKey?: { id: string; secret: string };
}

export interface FunctionsResponse<T = unknown> {
  status: number;
  body: T;
  /** Seconds the answer asks to wait before the same request is made again (its Retry-After), if any. */
  retryAfterSeconds?: number;
}

/**
 * X-Twilio-Signature as Twilio computes it (twilio-node's getExpectedTwilioSignature): the base64
 * HMAC of the URL followed by each parameter's name and value, names sorted. SHA-1 with the Auth
 * Token; SHA-256 with a SharedKey. Written here so the package needs no `twilio`; a unit test
 * compares it with twilio-node's own.
 */
export function twilioSignature(
  key: string,
  url: string,
  params: Record<string, string>,
  hash: 'sha1' | 'sha256' = 'sha1',
): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, name) => acc + name + params[name], url);
  return createHmac(hash, key).update(Buffer.from(data, 'utf8')).digest('base64');
}

/** Why a request never got an answer, in a line that names the URL (fetch says only "fetch failed"). */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    const inner = (cause as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
    const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const why =
      text(inner?.code) ?? text(inner?.message) ?? text((cause as { message?: unknown })?.message) ?? 'no answer';
    super(`Could not reach ${url} (${why})`, { cause });
  }
}

async function postForm<T>(url: string, headers: Record<string, string>, params: Record<string, string>) {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(params).toString(),
    });
  } catch (err) {
    throw new UnreachableError(url, err);
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (TwiML); keep the text
  }
  const retryAfter = Number(res.headers.get('retry-after') ?? NaN);
  return {
    status: res.status,
    body: body as T,
    ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterSeconds: retryAfter } : {}),
  } satisfies FunctionsResponse<T>;
}

const urlOf = (opts: FunctionsClientOptions, path: string) => `${opts.baseUrl.replace(/\/+$/, '')}${path}`;

/** POSTs form parameters to a Twilio-signed function, signed as Twilio signs webhooks. */
export async function signedPost<T = unknown>(
  opts: FunctionsClientOptions,
  path: string,
  params: Record<string, string>,
): Promise<FunctionsResponse<T>> {
  const url = urlOf(opts, path);
  const headers: Record<string, string> = {};
  if (opts.sharedKey) {
    const { id, secret } = opts.sharedKey;
    headers['X-Twilio-Signature'] = twilioSignature(secret, url, params, 'sha256');
    headers['X-Twilio-Webhooks-Signature-Settings'] = `key=${id},algorithm=HMAC_SHA256`;
  } else if (opts.authToken !== undefined) {
    headers['X-Twilio-Signature'] = twilioSignature(opts.authToken, url, params);
  } else {
    throw new TypeError('signedPost needs authToken or sharedKey.');
  }
  return postForm<T>(url, headers, params);
}

/** POSTs form parameters to a backend-key function, with `Authorization: Bearer <apiKey>`. */
export async function keyPost<T = unknown>(
  opts: FunctionsClientOptions,
  path: string,
  params: Record<string, string>,
): Promise<FunctionsResponse<T>> {
  if (opts.apiKey === undefined) throw new TypeError('keyPost needs apiKey.');
  return postForm<T>(urlOf(opts, path), { Authorization: `Bearer ${opts.apiKey}` }, params);
}

/** The route and the way of calling it: the key routes with an apiKey, the signed ones otherwise. */
const routeOf = (opts: FunctionsClientOptions, operation: 'send' | 'read') =>
  opts.apiKey !== undefined
    ? { path: operation === 'send' ? '/backend-send' : '/backend-messages', post: keyPost }
    : { path: operation === 'send' ? '/send-message' : '/call-messages', post: signedPost };

export interface SendMessageRequest {
  callSid?: string | undefined;
  identity?: string | undefined;
  /** A JSON object, or a string that holds one. */
  content: unknown;
  idempotencyKey?: string | undefined;
}

export interface SendRetryOptions {
  /**
   * How many requests one send may make (default 3, or unbounded when `budgetMs` is given; 1 never
   * retries). A 409 send-in-progress, a 503 and a 504 are made again with the same idempotencyKey
   * once their Retry-After has passed.
   */
  maxTries?: number;
  /** Stop retrying when the next try would start after this many ms from the first (default: no limit). */
  budgetMs?: number;
  /** Longest wait honoured between two tries, in seconds (default 10); a longer Retry-After ends the tries. */
  maxWaitSeconds?: number;
  sleep?: (ms: number) => Promise<void>;
}

type SendAnswer = FunctionsResponse<SendMessageResult | ApiError>;

const DEFAULT_SEND_TRIES = 3;
const DEFAULT_MAX_WAIT_SECONDS = 10;
/** The wait before retrying an answer that names none (a 503 from a proxy, say). */
const DEFAULT_RETRY_AFTER_SECONDS = 1;

/**
 * An answer the same send may get past by asking again later: a send under way, Twilio or Sync busy
 * (Sync's write limit on the call reached, or sent but not recorded: 503), or an invocation that ran
 * out of time (504). The same idempotencyKey makes each retry safe: the message is sent once.
 */
function isRetryableSendAnswer(res: SendAnswer): boolean {
  if (res.status === 503 || res.status === 504) return true;
  const code = typeof res.body === 'object' && res.body !== null && 'code' in res.body ? res.body.code : undefined;
  return res.status === 409 && code === 'send-in-progress';
}

/**
 * Server → SDK (`/backend-send` with an apiKey, else `/send-message`). A 409 send-in-progress, a
 * 503 or a 504 is asked again after its Retry-After, with the same idempotencyKey (one is made up
 * when none is given, so a retry can never send twice), up to `maxTries` requests or `budgetMs`;
 * the last answer is returned.
 */
export async function sendMessage(
  opts: FunctionsClientOptions,
  req: SendMessageRequest,
  retry: SendRetryOptions = {},
): Promise<SendAnswer> {
  const { budgetMs, maxWaitSeconds = DEFAULT_MAX_WAIT_SECONDS } = retry;
  const maxTries = retry.maxTries ?? (budgetMs === undefined ? DEFAULT_SEND_TRIES : Infinity);
  const giveUpAt = budgetMs === undefined ? Infinity : Date.now() + budgetMs;
  const sleep = retry.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const params: Record<string, string> = {
    content: typeof req.content === 'string' ? req.content : JSON.stringify(req.content),
  };
  if (req.callSid !== undefined) params.callSid = req.callSid;
  if (req.identity !== undefined) params.identity = req.identity;
  if (req.idempotencyKey !== undefined) params.idempotencyKey = req.idempotencyKey;
  else if (maxTries > 1) params.idempotencyKey = `cme-${randomUUID()}`;
  const { path, post } = routeOf(opts, 'send');
  for (let tries = 1; ; tries++) {
    const res: SendAnswer = await post(opts, path, params);
    const waitSeconds = res.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
    if (tries >= maxTries || !isRetryableSendAnswer(res) || waitSeconds > maxWaitSeconds) return res;
    if (Date.now() + waitSeconds * 1000 > giveUpAt) return res;
    await sleep(waitSeconds * 1000);
  }
}

/** A call leg's state and messages, a page at a time (`/backend-messages` with an apiKey, else `/call-messages`). */
export function callMessages(
  opts: FunctionsClientOptions,
  callSid: string,
  page: {
    pageSize?: number | undefined;
    pageToken?: string | undefined;
    after?: string | undefined;
    order?: 'asc' | 'desc' | undefined;
  } = {},
): Promise<FunctionsResponse<CallMessagesPage>> {
  const params: Record<string, string> = { callSid };
  if (page.pageSize !== undefined) params.pageSize = String(page.pageSize);
  if (page.pageToken !== undefined) params.pageToken = page.pageToken;
  if (page.after !== undefined) params.after = page.after;
  if (page.order !== undefined) params.order = page.order;
  const { path, post } = routeOf(opts, 'read');
  return post<CallMessagesPage>(opts, path, params);
}

// ---- Forwarded events: Standard Webhooks ----

export type ForwardedEventType = 'call.message' | 'call.started' | 'call.ended';

/** A `call.started` / `call.ended` event for one SDK leg. */
export interface LegEvent {
  type: Exclude<ForwardedEventType, 'call.message'>;
  callSid: string;
  parentCallSid: string;
  identity: string;
  role: 'parent' | 'child';
  status: string;
  timestamp: string;
  durationSeconds?: number;
}

/** How old (or how far in the future) `webhook-timestamp` may be by default: the specification's five minutes. */
export const DEFAULT_TOLERANCE_SECONDS = 300;
/** The shortest signing key accepted (the bytes of the base64 after `whsec_`). */
export const MIN_SECRET_BYTES = 32;

/** Request headers as Node (IncomingHttpHeaders), Express, or fetch (`Headers`) give them. */
export type HeadersLike = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

function headerValue(headers: HeadersLike, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

/**
 * The keys of `whsec_<base64>` secrets (one, or several while rotating: an array, or one string
 * with spaces or commas between them). Throws for a secret that is not one, or whose key is under
 * MIN_SECRET_BYTES: a verifier with a weak key must not start.
 */
export function secretKeys(secrets: string | readonly string[]): Buffer[] {
  const entries = (typeof secrets === 'string' ? [secrets] : [...secrets]).flatMap((s) =>
    s.split(/[\s,]+/).filter(Boolean),
  );
  if (entries.length === 0) throw new TypeError('No webhook secret given.');
  return entries.map((entry) => {
    const text = entry.startsWith('whsec_') ? entry.slice(6) : '';
    const key = /^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length % 4 === 0 ? Buffer.from(text, 'base64') : undefined;
    if (!key || key.length < MIN_SECRET_BYTES) {
      throw new TypeError(`A webhook secret is whsec_<base64 of at least ${MIN_SECRET_BYTES} bytes>.`);
    }
    return key;
  });
}

export type VerifyFailure =
  'header-missing' | 'header-malformed' | 'timestamp-outside-tolerance' | 'signature-mismatch';

export interface VerifyOptions {
  /** Seconds `webhook-timestamp` may be from now, either way (default 300): a finite number above 0. */
  toleranceSeconds?: number;
  /** Now, in ms since the epoch (for tests): a finite number. */
  now?: number;
}

/**
 * Checks a forwarded request as the backend receives it, as the Standard Webhooks specification
 * says: `rawBody` must be the bytes as received (Express: `express.raw({ type: 'application/json' })`),
 * not a re-serialised parse. Any `v1,` signature may match any secret (rotation). Throws TypeError
 * for a malformed or short secret, a tolerance that is not a finite positive number, or a `now`
 * that is not finite.
 */
export function checkForwardedRequest(
  rawBody: string | Uint8Array,
  headers: HeadersLike,
  secrets: string | readonly string[],
  options: VerifyOptions = {},
): { valid: true; id: string; timestamp: number } | { valid: false; reason: VerifyFailure } {
  const keys = secretKeys(secrets);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (typeof tolerance !== 'number' || !Number.isFinite(tolerance) || tolerance <= 0) {
    throw new TypeError('toleranceSeconds must be a finite number above 0.');
  }
  const nowMs = options.now ?? Date.now();
  // A NaN `now` would turn the timestamp check off, as a NaN tolerance did.
  if (typeof nowMs !== 'number' || !Number.isFinite(nowMs)) throw new TypeError('now must be a finite number.');
  const id = headerValue(headers, 'webhook-id');
  const stamp = headerValue(headers, 'webhook-timestamp');
  const signature = headerValue(headers, 'webhook-signature');
  if (!id || !stamp || !signature) return { valid: false, reason: 'header-missing' };
  if (!/^\d{1,12}$/.test(stamp)) return { valid: false, reason: 'header-malformed' };
  const given = signature
    .split(' ')
    .filter((part) => part.startsWith('v1,'))
    .map((part) => Buffer.from(part.slice(3), 'base64'));
  if (given.length === 0) return { valid: false, reason: 'header-malformed' };
  const timestamp = Number(stamp);
  if (Math.abs(nowMs / 1000 - timestamp) > tolerance) {
    return { valid: false, reason: 'timestamp-outside-tolerance' };
  }
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  const expected = keys.map((key) => createHmac('sha256', key).update(`${id}.${stamp}.`).update(body).digest());
  const matches = expected.some((want) =>
    given.some((got) => got.length === want.length && timingSafeEqual(got, want)),
  );
  return matches ? { valid: true, id, timestamp } : { valid: false, reason: 'signature-mismatch' };
}

/** True when `rawBody` carries a valid Standard Webhooks signature made with one of `secrets`. */
export function verifyForwardedRequest(
  rawBody: string | Uint8Array,
  headers: HeadersLike,
  secrets: string | readonly string[],
  options: VerifyOptions = {},
): boolean {
  return checkForwardedRequest(rawBody, headers, secrets, options).valid;
}
