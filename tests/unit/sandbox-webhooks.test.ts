// The sandbox's webhook sender plays Twilio's documented delivery options: connection-override
// fragments (#rc, #rp, #rt, #tt), SharedKey signatures, and (undocumented, so a knob) whether the
// fragment is part of the signed URL.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { connectionOverrides, SANDBOX_SHARED_KEY, WebhookSender, writeJson, JSON_STYLES } from '../../sandbox/webhooks';
import { defined } from '../support/narrow';
import { callSid } from '../../testing/sids';

const TOKEN = 'sandbox-webhook-test-auth-token';
let server: http.Server;
let base: string;
/** What the server answers next (status, or 'hang' = never answer); then 200. */
let script: (number | 'hang')[] = [];
let received: { url: string; headers: http.IncomingHttpHeaders; body: string; at: number }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, body, at: Date.now() });
      const next = script.shift() ?? 200;
      if (next === 'hang') return; // never answers
      res.writeHead(next, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  script = [];
  received = [];
});

const params = { CallSid: callSid(1), Content: '{"a":"é"}' };
const sender = () => new WebhookSender(TOKEN);

describe('connectionOverrides', () => {
  it('reads rc, rp, rt and tt from the fragment, within the documented ranges', () => {
    expect(connectionOverrides('https://h/x?a=1#rc=3&rp=5xx,ct,rt&rt=10000&tt=15000')).toEqual({
      retries: 3,
      policy: new Set(['5xx', 'ct', 'rt']),
      readMs: 10_000,
      totalMs: 15_000,
    });
    expect(connectionOverrides('https://h/x#rc=9&rt=50&tt=99999&rp=all')).toEqual({
      retries: 5,
      policy: new Set(['ct', 'rt', '4xx', '5xx']),
      readMs: 100,
      totalMs: 15_000,
    });
  });

  it('defaults to one retry on connection failures only (Twilio without a fragment)', () => {
    expect(connectionOverrides('https://h/x?a=1')).toEqual({
      retries: 1,
      policy: new Set(['ct']),
      readMs: 15_000,
      totalMs: 15_000,
    });
  });
});

describe('WebhookSender deliveries', () => {
  it('retries a 5xx as often as rc says when rp has 5xx, then stops at the first success', async () => {
    script = [503, 500];
    const res = await sender().send({ kind: 'message', url: `${base}/cb#rc=3&rp=5xx`, method: 'POST', params });
    expect(res?.status).toBe(200);
    expect(received).toHaveLength(3);
    expect(received.every((r) => !r.url.includes('#'))).toBe(true);
  });

  it('does not retry a 5xx without a fragment, or when rp lacks 5xx', async () => {
    script = [503, 503];
    expect((await sender().send({ kind: 'message', url: `${base}/cb`, method: 'POST', params }))?.status).toBe(503);
    expect(received).toHaveLength(1);
    received = [];
    script = [503];
    const s = sender();
    expect((await s.send({ kind: 'status', url: `${base}/cb#rc=3&rp=ct,rt`, method: 'POST', params }))?.status).toBe(
      503,
    );
    expect(received).toHaveLength(1);
    expect(s.log.map((l) => l.attempt)).toEqual([1]);
  });

  it('gives up after rc retries', async () => {
    script = [500, 500, 500, 500];
    const s = sender();
    expect((await s.send({ kind: 'message', url: `${base}/cb#rc=2&rp=5xx`, method: 'POST', params }))?.status).toBe(
      500,
    );
    expect(s.log.map((l) => [l.attempt, l.status])).toEqual([
      [1, 500],
      [2, 500],
      [3, 500],
    ]);
  });

  it('treats no answer within rt as a read timeout (retried with rp=rt), all attempts within tt', async () => {
    script = ['hang', 'hang', 'hang', 'hang'];
    const started = Date.now();
    const s = sender();
    const res = await s.send({ kind: 'message', url: `${base}/cb#rc=5&rp=rt&rt=300&tt=1000`, method: 'POST', params });
    const took = Date.now() - started;
    expect(res).toBeUndefined();
    expect(took).toBeLessThan(1_500);
    expect(s.log.length).toBeGreaterThanOrEqual(2);
    expect(s.log.every((l) => l.status === null)).toBe(true);
  });

  it('retries a refused connection once by default (rp=ct)', async () => {
    const s = sender();
    const res = await s.send({ kind: 'status', url: 'http://127.0.0.1:9/cb', method: 'POST', params });
    expect(res).toBeUndefined();
    expect(s.log.map((l) => l.attempt)).toEqual([1, 2]);
  });
});

describe('WebhookSender signatures', () => {
  const url = () => `${base}/cb?k=v#rc=3&rp=5xx,ct,rt`;

  it('signs with the Auth Token over the URL without its fragment by default', async () => {
    await sender().send({ kind: 'status', url: url(), method: 'POST', params });
    const r = defined(received[0]);
    expect(r.headers['x-twilio-webhooks-signature-settings']).toBeUndefined();
    expect(r.headers['x-twilio-signature']).toBe(twilio.getExpectedTwilioSignature(TOKEN, `${base}/cb?k=v`, params));
  });

  it('signs the fragment too when signFragment is on', async () => {
    const s = sender();
    s.knobs.signFragment = true;
    await s.send({ kind: 'status', url: url(), method: 'POST', params });
    expect(defined(received[0]).headers['x-twilio-signature']).toBe(
      twilio.getExpectedTwilioSignature(TOKEN, url(), params),
    );
  });

  it('signs with the SharedKey and HMAC-SHA256, saying so in X-Twilio-Webhooks-Signature-Settings', async () => {
    const s = sender();
    s.knobs.signWith = 'shared-key';
    await s.send({ kind: 'status', url: url(), method: 'POST', params });
    const r = defined(received[0]);
    expect(r.headers['x-twilio-webhooks-signature-settings']).toBe(
      `key=${SANDBOX_SHARED_KEY.id},algorithm=HMAC_SHA256`,
    );
    expect(twilio.getSignatureAlgorithm(String(r.headers['x-twilio-webhooks-signature-settings']))).toBe('HMAC_SHA256');
    expect(r.headers['x-twilio-signature']).toBe(
      twilio.getExpectedTwilioSignature(SANDBOX_SHARED_KEY.secret, `${base}/cb?k=v`, params, twilio.HMAC_SHA256),
    );
  });

  it('signs JSON bodies (bodySHA256) and GETs the same ways, the fragment after the query', async () => {
    const s = sender();
    s.knobs.messageEncoding = 'json';
    s.knobs.signWith = 'shared-key';
    s.knobs.signFragment = true;
    await s.send({ kind: 'message', url: url(), method: 'POST', params });
    const r = defined(received[0]);
    const requested = `${base}${r.url}`;
    expect(requested).toContain('&bodySHA256=');
    expect(r.headers['x-twilio-signature']).toBe(
      twilio.getExpectedTwilioSignature(SANDBOX_SHARED_KEY.secret, `${requested}#rc=3&rp=5xx,ct,rt`, {}, 'HMAC_SHA256'),
    );
    expect(twilio.validateBody(r.body, new URL(requested).searchParams.get('bodySHA256') ?? '')).toBe(true);
    received = [];
    s.knobs.signWith = 'auth-token';
    await s.send({ kind: 'message', url: url(), method: 'GET', params });
    const get = defined(received[0]);
    expect(get.headers['x-twilio-signature']).toBe(
      twilio.getExpectedTwilioSignature(TOKEN, `${base}${get.url}#rc=3&rp=5xx,ct,rt`, {}),
    );
  });

  it.each(JSON_STYLES)('writes JSON bodies %s: the same parameters, other bytes', async (style) => {
    const s = sender();
    s.knobs.messageEncoding = 'json';
    s.knobs.jsonStyle = style;
    await s.send({ kind: 'message', url: `${base}/cb`, method: 'POST', params });
    const r = defined(received[0]);
    expect(r.body).toBe(writeJson(params, style));
    expect(JSON.parse(r.body)).toEqual(params);
  });
});
