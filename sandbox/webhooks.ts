// Every request the sandbox makes to the functions, signed exactly as Twilio signs:
// X-Twilio-Signature = base64 HMAC-SHA1 over URL + sorted params (form bodies), or over the URL
// carrying bodySHA256 with no params (JSON bodies). Knobs let tests duplicate, delay (and so
// reorder) and retry deliveries.
import twilio from 'twilio';

export type WebhookKind = 'voice' | 'status' | 'message';

export interface WebhookKnobs {
  /** Probability (0-1) that a status or message callback is delivered more than once. */
  duplicateRate: number;
  /** Most copies of one callback when duplicated. */
  maxCopies: number;
  /** Each status callback waits a random 0..N ms before it is sent, so they may arrive out of order. */
  maxDelayMs: number;
  /** How message callbacks are encoded: form (default) or JSON with the bodySHA256 scheme. */
  messageEncoding: 'form' | 'json';
  /** Message callback retries after a 5xx or no answer (with backoff). Twilio documents none: 0. */
  messageRetries: number;
  /** Twilio waits at most this long for a webhook answer (15 s). */
  timeoutMs: number;
}

export const defaultWebhookKnobs = (): WebhookKnobs => ({
  duplicateRate: 0,
  maxCopies: 1,
  maxDelayMs: 0,
  messageEncoding: 'form',
  messageRetries: 0,
  timeoutMs: 15_000,
});

export interface WebhookRequest {
  kind: WebhookKind;
  url: string;
  method: string;
  params: Record<string, string>;
  /** Status callbacks: no ordering guarantee (Twilio gives none). */
  unordered?: boolean;
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
    const { duplicateRate, maxCopies, maxDelayMs } = this.knobs;
    const shaken = req.kind !== 'voice';
    const copies =
      shaken && Math.random() < duplicateRate ? 2 + Math.floor(Math.random() * Math.max(0, maxCopies - 1)) : 1;
    const deliveries: Promise<WebhookResponse | undefined>[] = [];
    for (let i = 0; i < copies; i++) {
      const delay = shaken && (req.unordered || i > 0) ? Math.random() * maxDelayMs : 0;
      deliveries.push(this.track(this.deliverLater(req, delay)));
    }
    return deliveries[0];
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

  private async deliverLater(req: WebhookRequest, delayMs: number) {
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    const attempts = req.retry ? 1 + this.knobs.messageRetries : 1;
    let response: WebhookResponse | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      response = await this.deliverOnce(req, attempt);
      if (response && response.status < 500) break;
      if (attempt < attempts) await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    }
    return response;
  }

  /** Builds the signed request Twilio would send. Exposed for tests of signature checking. */
  signedRequest(req: Pick<WebhookRequest, 'kind' | 'url' | 'method' | 'params'>): { url: string; init: RequestInit } {
    const headers: Record<string, string> = {
      'User-Agent': 'TwilioProxy/1.1 (sandbox)',
      'I-Twilio-Idempotency-Token': crypto.randomUUID(),
    };
    if (req.method.toUpperCase() === 'GET') {
      const url = new URL(req.url);
      for (const [k, v] of Object.entries(req.params)) url.searchParams.append(k, v);
      headers['X-Twilio-Signature'] = twilio.getExpectedTwilioSignature(this.authToken, url.toString(), {});
      return { url: url.toString(), init: { method: 'GET', headers } };
    }
    if (req.kind === 'message' && this.knobs.messageEncoding === 'json') {
      const body = JSON.stringify(req.params);
      const url = new URL(req.url);
      url.searchParams.append('bodySHA256', twilio.getExpectedBodyHash(body));
      headers['Content-Type'] = 'application/json';
      headers['X-Twilio-Signature'] = twilio.getExpectedTwilioSignature(this.authToken, url.toString(), {});
      return { url: url.toString(), init: { method: 'POST', headers, body } };
    }
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    headers['X-Twilio-Signature'] = twilio.getExpectedTwilioSignature(this.authToken, req.url, req.params);
    return { url: req.url, init: { method: 'POST', headers, body: new URLSearchParams(req.params).toString() } };
  }

  private async deliverOnce(req: WebhookRequest, attempt: number): Promise<WebhookResponse | undefined> {
    const { url, init } = this.signedRequest(req);
    const started = Date.now();
    let result: WebhookResponse | undefined;
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(this.knobs.timeoutMs) });
      result = { status: res.status, body: await res.text() };
    } catch {
      result = undefined;
    }
    this.log.push({
      at: started,
      kind: req.kind,
      method: init.method ?? 'POST',
      url: req.url,
      callSid: req.params.CallSid,
      callStatus: req.params.CallStatus,
      status: result?.status ?? null,
      ms: Date.now() - started,
      attempt,
    });
    // Trimmed in chunks: one splice per 10,000 webhooks, not one per webhook.
    if (this.log.length > 110_000) this.log.splice(0, this.log.length - 100_000);
    return result;
  }
}
