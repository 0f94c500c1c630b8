// A small signed client for your backend: calls the protected functions with X-Twilio-Signature,
// so no backend hand-rolls signatures. Import it, or use `npm run send-message`.
import { randomUUID } from 'node:crypto';
import twilio from 'twilio';
import type { CallMessagesPage, SendMessageResult } from '../../lib/shared/api-types';

export interface FunctionsClientOptions {
  /** Where the functions are: https://<service>-1234-dev.twil.io, or http://localhost:3000. */
  baseUrl: string;
  /** The Auth Token of the account the functions run in (it signs and they verify). */
  authToken: string;
  /**
   * Sign with a SharedKey instead (HMAC-SHA256, as Twilio's Webhooks configuration API signs): the
   * functions verify it with WEBHOOK_SHARED_KEY_SECRET.
   */
  sharedKey?: { id: string; secret: string };
}

export interface FunctionsResponse<T = unknown> {
  status: number;
  body: T;
  /** Seconds the answer asks to wait before the same request is made again (its Retry-After), if any. */
  retryAfterSeconds?: number;
}

/** POSTs form parameters to a protected function, signed as Twilio signs webhooks. */
export async function signedPost<T = unknown>(
  opts: FunctionsClientOptions,
  path: string,
  params: Record<string, string>,
): Promise<FunctionsResponse<T>> {
  const url = `${opts.baseUrl.replace(/\/+$/, '')}${path}`;
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
  if (opts.sharedKey) {
    const { id, secret } = opts.sharedKey;
    headers['X-Twilio-Signature'] = twilio.getExpectedTwilioSignature(secret, url, params, twilio.HMAC_SHA256);
    headers[twilio.SIGNATURE_SETTINGS_HEADER] = `key=${id},algorithm=${twilio.HMAC_SHA256}`;
  } else {
    headers['X-Twilio-Signature'] = twilio.getExpectedTwilioSignature(opts.authToken, url, params);
  }
  const res = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
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
  };
}

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

type SendAnswer = FunctionsResponse<SendMessageResult | { code: string; message: string }>;

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
 * Server → SDK: `/send-message`. A 409 send-in-progress, a 503 or a 504 is asked again after its
 * Retry-After, with the same idempotencyKey (one is made up when none is given, so a retry can
 * never send twice), up to `maxTries` requests or `budgetMs`; the last answer is returned.
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
  for (let tries = 1; ; tries++) {
    const res: SendAnswer = await signedPost(opts, '/send-message', params);
    const waitSeconds = res.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
    if (tries >= maxTries || !isRetryableSendAnswer(res) || waitSeconds > maxWaitSeconds) return res;
    if (Date.now() + waitSeconds * 1000 > giveUpAt) return res;
    await sleep(waitSeconds * 1000);
  }
}

/** A call leg's state and messages: `/call-messages`. */
export function callMessages(
  opts: FunctionsClientOptions,
  callSid: string,
  page: {
    pageSize?: number | undefined;
    pageToken?: string | undefined;
    after?: string | undefined;
    order?: 'asc' | 'desc' | undefined;
  } = {},
) {
  const params: Record<string, string> = { callSid };
  if (page.pageSize !== undefined) params.pageSize = String(page.pageSize);
  if (page.pageToken !== undefined) params.pageToken = page.pageToken;
  if (page.after !== undefined) params.after = page.after;
  if (page.order !== undefined) params.order = page.order;
  // Each message: `content` is the JSON text as it arrived, `data` a parsed copy when it nests ≤ 64 levels.
  return signedPost<CallMessagesPage>(opts, '/call-messages', params);
}

// Forwarded events (APP_WEBHOOK_URL): check X-CME-Signature over the raw body before trusting one.
export { checkForwardedRequest, verifyForwardedRequest } from '../../lib/forwarding/webhook';
export type { ForwardedEventType, LegEvent } from '../../lib/forwarding/webhook';
