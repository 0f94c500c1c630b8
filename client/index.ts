// A small signed client for your backend: calls the protected functions with X-Twilio-Signature,
// so no backend hand-rolls signatures. Import it, or use `npm run send-message`.
import twilio from 'twilio';
import type { CallMessagesPage, SendMessageResult } from '../lib/shared/api-types';

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
  /** The answer's Retry-After in seconds, when it has one (a 503 always does). */
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

/** Server → SDK: `/send-message`. */
export function sendMessage(opts: FunctionsClientOptions, req: SendMessageRequest) {
  const params: Record<string, string> = {
    content: typeof req.content === 'string' ? req.content : JSON.stringify(req.content),
  };
  if (req.callSid !== undefined) params.callSid = req.callSid;
  if (req.identity !== undefined) params.identity = req.identity;
  if (req.idempotencyKey !== undefined) params.idempotencyKey = req.idempotencyKey;
  return signedPost<SendMessageResult | { code: string; message: string }>(opts, '/send-message', params);
}

/**
 * `/send-message`, retried until it is done or `budgetMs` has passed: a 503 (Twilio or Sync busy,
 * Sync's write limit on the call reached, sent but not recorded), a 504 (the invocation ran out of
 * time) and a 409 send-in-progress are tried again after their Retry-After (1 s without one), always
 * with the same idempotencyKey, so the message is sent exactly once. Any other answer is returned.
 */
export async function sendMessageRetrying(
  opts: FunctionsClientOptions,
  req: SendMessageRequest,
  { budgetMs = 30_000 }: { budgetMs?: number } = {},
) {
  const once = { ...req, idempotencyKey: req.idempotencyKey ?? `cme-client-${crypto.randomUUID()}` };
  const giveUpAt = Date.now() + budgetMs;
  for (;;) {
    const res = await sendMessage(opts, once);
    const code = (res.body as { code?: unknown } | null)?.code;
    const again = res.status === 503 || res.status === 504 || (res.status === 409 && code === 'send-in-progress');
    const waitMs = (res.retryAfterSeconds ?? 1) * 1000;
    if (!again || Date.now() + waitMs > giveUpAt) return res;
    await new Promise((resolve) => setTimeout(resolve, waitMs));
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
export { checkForwardedRequest, verifyForwardedRequest } from '../lib/forwarding/webhook';
export type { ForwardedEventType, LegEvent } from '../lib/forwarding/webhook';
