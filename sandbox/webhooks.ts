// Every request the sandbox makes to the functions, signed exactly as Twilio signs:
// X-Twilio-Signature = base64 HMAC-SHA1 over URL + sorted params (form bodies), or over the URL
// carrying bodySHA256 with no params (JSON bodies). Knobs let tests duplicate, delay (and so
// reorder) and retry deliveries.
import twilio from 'twilio';
import { SIGNED_FRAGMENT_HEADER } from './functions-gateway';
import { seededRandom, StatusCallbackOrder } from './status-order';

export type WebhookKind = 'voice' | 'status' | 'message';

export interface WebhookKnobs {
  /** Probability (0-1) that a status or message callback is delivered more than once. */
  duplicateRate: number;
  /** Most copies of one callback when duplicated. */
  maxCopies: number;
  /** Each status callback waits a random 0..N ms before it is sent, so they may arrive out of order. */
  maxDelayMs: number;
  /** Which callbacks `duplicateRate` applies to (default both). */
  duplicateKinds: ('status' | 'message')[];
  /**
   * `as-sent`: status callbacks go when they happen (plus the maxDelayMs jitter). `reordered`: with
   * probability `reorderRate` one is held back until the call's next status callback was delivered
   * (at most `maxHoldMs`): ringing before initiated, completed before in-progress (status-order.ts).
   */
  statusCallbackOrder: 'as-sent' | 'reordered';
  reorderRate: number;
  maxHoldMs: number;
  /** Seeds the randomness of duplicates, delays and reordering (same decisions in the same order); unset = Math.random. */
  seed?: number | null;
  /** How message callbacks are encoded: form (default) or JSON with the bodySHA256 scheme. */
  messageEncoding: 'form' | 'json';
  /** Message callback retries after a 5xx or no answer (with backoff). Twilio documents none: 0. */
  messageRetries: number;
  /** Twilio waits at most this long for a webhook answer (15 s). */
  timeoutMs: number;
  /**
   * Which key signs: `auth-token` (HMAC-SHA1, the classic scheme) or `shared-key` (the Webhooks
   * configuration API's SharedKey: HMAC-SHA256 with `sharedKey.secret`, announced by the
   * X-Twilio-Webhooks-Signature-Settings header).
   */
  signWith: 'auth-token' | 'shared-key';
  sharedKey: { id: string; secret: string };
  /** Whether the signed URL keeps its connection-override fragment (`#rc=…`): undocumented, so both. */
  signFragment: boolean;
  /**
   * How a JSON message callback body is written (the raw bytes bodySHA256 hashes): `compact` as
   * JavaScript writes it, `spaced` with ", " and ": " (Python's default), `ascii` compact with
   * non-ASCII escaped (\u00e9), `pretty` indented. Twilio's own writer is undocumented.
   */
  jsonStyle: JsonStyle;
}

export type JsonStyle = 'compact' | 'spaced' | 'ascii' | 'pretty';
export const JSON_STYLES: readonly JsonStyle[] = ['compact', 'spaced', 'ascii', 'pretty'];

/** The sandbox's SharedKey (a test value, not a secret): the functions get it as WEBHOOK_SHARED_KEY_SECRET. */
export const SANDBOX_SHARED_KEY = {
  id: 'webhooks_sharedkey_5a4db0c55a4db0c55a4db0c55a4db0c5',
  secret: '5a4db0c5-sandbox-shared-key-secret-00000000',
};

/** A body as `style` writes it (the sandbox's params are flat strings). */
export function writeJson(params: Record<string, string>, style: JsonStyle): string {
  if (style === 'pretty') return JSON.stringify(params, null, 2);
  if (style === 'spaced')
    return `{${Object.entries(params)
      .map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`)
      .join(', ')}}`;
  const compact = JSON.stringify(params);
  if (style === 'ascii')
    return compact.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return compact;
}

/** What makes Twilio retry (connection-override `rp`): connect timeout, read timeout, 4xx, 5xx, or `all`. */
export type RetryCondition = 'ct' | 'rt' | '4xx' | '5xx';

/**
 * A webhook URL's connection overrides (Twilio docs "Webhook connection overrides"):
 * `rc` retries 0-5 (default 1), `rp` policy (default `ct`: connection failures only), `rt` read
 * timeout 100-15000 ms (15000), `tt` total time of all attempts 100-15000 ms (15000). Out-of-range
 * values are clamped. `ct` (connect timeout) is not modelled: a local connection is refused at once.
 */
export function connectionOverrides(url: string): {
  retries: number;
  policy: Set<RetryCondition>;
  readMs: number;
  totalMs: number;
} {
  const hash = url.indexOf('#');
  const o = new URLSearchParams(hash === -1 ? '' : url.slice(hash + 1));
  const num = (key: string, min: number, max: number, fallback: number) => {
    const v = Number(o.get(key) ?? NaN);
    return Number.isFinite(v) ? Math.min(max, Math.max(min, Math.round(v))) : fallback;
  };
  const rp = (o.get('rp') ?? 'ct').split(',').map((p) => p.trim());
  const policy = new Set<RetryCondition>(
    rp.includes('all')
      ? ['ct', 'rt', '4xx', '5xx']
      : (rp.filter((p) => ['ct', 'rt', '4xx', '5xx'].includes(p)) as RetryCondition[]),
  );
  return {
    retries: num('rc', 0, 5, 1),
    policy,
    readMs: num('rt', 100, 15_000, 15_000),
    totalMs: num('tt', 100, 15_000, 15_000),
  };
}

export const defaultWebhookKnobs = (): WebhookKnobs => ({
  duplicateRate: 0,
  maxCopies: 1,
  maxDelayMs: 0,
  duplicateKinds: ['status', 'message'],
  statusCallbackOrder: 'as-sent',
  reorderRate: 0.5,
  maxHoldMs: 1000,
  messageEncoding: 'form',
  messageRetries: 0,
  timeoutMs: 15_000,
  signWith: 'auth-token',
  sharedKey: { ...SANDBOX_SHARED_KEY },
  signFragment: false,
  jsonStyle: 'compact',
});

export interface WebhookRequest {
  kind: WebhookKind;
  url: string;
  method: string;
  params: Record<string, string>;
  /** Status callbacks: no ordering guarantee (Twilio gives none). */
  unordered?: boolean;
  /** Whether it may be held back behind the next callback of its CallSid; unset: `statusCallbackOrder` says. */
  reorder?: boolean;
  retry?: boolean;
}

export interface WebhookRecord {
  /** When it was sent (ms since epoch). */
  at: number;
  kind: WebhookKind;
  method: string;
  url: string;
  callSid?: string;
  /** The CallStatus it reported (status callbacks). */
  callStatus?: string;
  status: number | null;
  ms: number;
  attempt: number;
  /** Status callbacks: the start of what our function answered (for a test to say why a leg is stuck). */
  answer?: string;
}

export interface WebhookResponse {
  status: number;
  body: string;
}

export class WebhookSender {
  readonly knobs: WebhookKnobs = defaultWebhookKnobs();
  readonly log: WebhookRecord[] = [];
  private inFlight = new Set<Promise<unknown>>();

  constructor(private readonly authToken: string) {}

  /** Sends a webhook (and any duplicates); resolves with the first copy's answer. */
  send(req: WebhookRequest): Promise<WebhookResponse | undefined> {
    const { duplicateRate, maxCopies, maxDelayMs, duplicateKinds } = this.knobs;
    const random = this.random();
    const shaken = req.kind !== 'voice';
    const duplicated = shaken && duplicateKinds.includes(req.kind as 'status' | 'message') && random() < duplicateRate;
    const copies = duplicated ? 2 + Math.floor(random() * Math.max(0, maxCopies - 1)) : 1;
    const deliveries: Promise<WebhookResponse | undefined>[] = [];
    for (let i = 0; i < copies; i++) {
      const delay = shaken && (req.unordered || i > 0) ? random() * maxDelayMs : 0;
      const deliver = () => this.deliverLater(req, delay);
      const reorder =
        i === 0 && req.kind === 'status' && (req.reorder ?? this.knobs.statusCallbackOrder === 'reordered');
      const { reorderRate: rate, maxHoldMs } = this.knobs;
      deliveries.push(
        this.track(
          reorder
            ? this.statusOrder.schedule(req.params.CallSid, req.params.CallStatus, { rate, maxHoldMs, random }, deliver)
            : deliver(),
        ),
      );
    }
    const first = deliveries[0];
    if (first === undefined) throw new Error('copies is at least 1, so there is always a first delivery');
    return first;
  }

  /** Status callbacks held back to be delivered out of order (knob statusCallbackOrder). */
  readonly statusOrder = new StatusCallbackOrder();
  private seeded?: { seed: number; next: () => number };

  /** The randomness of duplicates, delays and reordering: seeded by `knobs.seed`, else Math.random. */
  private random(): () => number {
    const seed = this.knobs.seed;
    if (seed === undefined || seed === null) return Math.random;
    if (this.seeded?.seed !== seed) this.seeded = { seed, next: seededRandom(seed) };
    return this.seeded.next;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  /** Resolves when no webhook is in flight (tests wait on it before asserting). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Delivers with the retries the URL's connection overrides ask for (all attempts within `tt`);
   * message callbacks also get `messageRetries` on a 5xx or no answer (the undocumented variant).
   */
  private async deliverLater(req: WebhookRequest, delayMs: number) {
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    const overrides = connectionOverrides(req.url);
    const extra = req.retry ? this.knobs.messageRetries : 0;
    const started = Date.now();
    let response: WebhookResponse | undefined;
    for (let attempt = 1; ; attempt++) {
      const left = overrides.totalMs - (Date.now() - started);
      const outcome = await this.deliverOnce(req, attempt, Math.min(overrides.readMs, this.knobs.timeoutMs, left));
      response = outcome.response;
      if (!outcome.failure) break;
      const asked = attempt <= overrides.retries && overrides.policy.has(outcome.failure);
      const legacy =
        attempt <= extra && (outcome.failure === '5xx' || outcome.failure === 'rt' || outcome.failure === 'ct');
      const backoff = 100 * 2 ** attempt;
      if (!(asked || legacy) || Date.now() - started + backoff + 100 > overrides.totalMs) break;
      await new Promise((r) => setTimeout(r, backoff));
    }
    return response;
  }

  /** Builds the signed request Twilio would send. Exposed for tests of signature checking. */
  signedRequest(req: Pick<WebhookRequest, 'kind' | 'url' | 'method' | 'params'>): { url: string; init: RequestInit } {
    const headers: Record<string, string> = {
      'User-Agent': 'TwilioProxy/1.1 (sandbox)',
      'I-Twilio-Idempotency-Token': crypto.randomUUID(),
    };
    const { signWith, sharedKey, signFragment, jsonStyle } = this.knobs;
    const shared = signWith === 'shared-key';
    if (shared) headers['X-Twilio-Webhooks-Signature-Settings'] = `key=${sharedKey.id},algorithm=${twilio.HMAC_SHA256}`;
    // The fragment is never sent; whether it is signed is the signFragment knob.
    const hash = req.url.indexOf('#');
    const fragment = hash === -1 ? '' : req.url.slice(hash);
    const requested = new URL(hash === -1 ? req.url : req.url.slice(0, hash));
    // The Functions gateway checks signatures as this sender makes them (it is Twilio too).
    if (signFragment && fragment) headers[SIGNED_FRAGMENT_HEADER] = fragment;
    const sign = (url: string, params: Record<string, string>) =>
      twilio.getExpectedTwilioSignature(
        shared ? sharedKey.secret : this.authToken,
        signFragment ? url + fragment : url,
        params,
        shared ? twilio.HMAC_SHA256 : twilio.HMAC_SHA1,
      );
    if (req.method.toUpperCase() === 'GET') {
      for (const [k, v] of Object.entries(req.params)) requested.searchParams.append(k, v);
      headers['X-Twilio-Signature'] = sign(requested.toString(), {});
      return { url: requested.toString(), init: { method: 'GET', headers } };
    }
    if (req.kind === 'message' && this.knobs.messageEncoding === 'json') {
      const body = writeJson(req.params, jsonStyle);
      requested.searchParams.append('bodySHA256', twilio.getExpectedBodyHash(body));
      headers['Content-Type'] = 'application/json';
      headers['X-Twilio-Signature'] = sign(requested.toString(), {});
      return { url: requested.toString(), init: { method: 'POST', headers, body } };
    }
    const url = hash === -1 ? req.url : req.url.slice(0, hash);
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    headers['X-Twilio-Signature'] = sign(url, req.params);
    return { url, init: { method: 'POST', headers, body: new URLSearchParams(req.params).toString() } };
  }

  private async deliverOnce(
    req: WebhookRequest,
    attempt: number,
    timeoutMs: number,
  ): Promise<{ response?: WebhookResponse | undefined; failure?: RetryCondition | undefined }> {
    const { url, init } = this.signedRequest(req);
    const started = Date.now();
    let result: WebhookResponse | undefined;
    let failure: RetryCondition | undefined;
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(Math.max(1, timeoutMs)) });
      result = { status: res.status, body: await res.text() };
      if (res.status >= 500) failure = '5xx';
      else if (res.status >= 400) failure = '4xx';
    } catch (err) {
      result = undefined;
      // No answer in time is a read timeout; anything else (refused, reset) a connection failure.
      failure = (err as Error)?.name === 'TimeoutError' ? 'rt' : 'ct';
    }
    this.log.push({
      at: started,
      kind: req.kind,
      method: init.method ?? 'POST',
      url: req.url,
      ...(req.params.CallSid === undefined ? {} : { callSid: req.params.CallSid }),
      ...(req.params.CallStatus === undefined ? {} : { callStatus: req.params.CallStatus }),
      status: result?.status ?? null,
      ms: Date.now() - started,
      attempt,
      ...(req.kind === 'status' && result ? { answer: result.body.slice(0, 300) } : {}),
    });
    // Trimmed in chunks: one splice per 10,000 webhooks, not one per webhook.
    if (this.log.length > 110_000) this.log.splice(0, this.log.length - 100_000);
    return { response: result, failure };
  }
}
