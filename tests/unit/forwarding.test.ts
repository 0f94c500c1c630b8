// Forwarding to the app's backend: the signature (sign here, verify as the app does), the payloads,
// the settings, one delivery against a real HTTP server, and /message-callback with forwarding on
// over the in-process Sync sandbox: exactly one acknowledged delivery per message, 1 Sync write on
// the happy path, a failed delivery answered 503 and delivered on the redelivery, replies sent back.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { handler } from '../../functions/message-callback.protected';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { checkForwardedRequest as clientCheck, verifyForwardedRequest as clientVerify } from '../../client/src';
import { inboundKey, legMapName } from '../../lib/store/call-store';
import { TO_SDK } from '../../lib/store/keys';
import { messageCallbackUrl } from '../../lib/calls/callback-urls';
import {
  deliver,
  DELIVERY_TIMEOUT_MS,
  forwardingSettings,
  messageEventBody,
  replyOf,
  webhookHeaders,
  type InboundMessage,
} from '../../lib/forwarding/webhook';
import { replyKey } from '../../lib/forwarding/messages';
import {
  eventFor,
  expectError,
  installTwilioGlobal,
  invoke,
  LOCAL_BASE,
  makeContext,
} from '../support/function-harness';
import { startSyncSandbox, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type SyncSandbox } from '../support/sync-sandbox';
import { defined, withoutFragment } from '../support/narrow';
import { callSid, messageSid } from '../../testing/sids';

const KEY = Buffer.alloc(32, 7);
const SECRET = `whsec_${KEY.toString('base64')}`;
const OLD_KEY = Buffer.alloc(32, 9);
const OLD_SECRET = `whsec_${OLD_KEY.toString('base64')}`;
const SETTINGS = (url: string) => ({ url, keys: [KEY] });

describe('Standard Webhooks signature', () => {
  const body = '{"type":"call.message","content":{"a":1}}';
  const now = Date.parse('2025-01-01T00:00:00Z');
  const t = now / 1000;
  const id = messageSid(3);
  const signed = (at = t, keys = [KEY], b = body) => webhookHeaders(keys, id, b, at);

  it('writes webhook-id, webhook-timestamp and v1,<base64 HMAC-SHA256 of "id.t.body"> with the key after whsec_', () => {
    const { createHmac } = jest.requireActual<typeof import('node:crypto')>('node:crypto');
    const expected = createHmac('sha256', KEY).update(`${id}.${t}.${body}`).digest('base64');
    expect(signed()).toEqual({
      'webhook-id': id,
      'webhook-timestamp': String(t),
      'webhook-signature': `v1,${expected}`,
    });
  });

  it("is accepted by the specification's own npm verifier (standardwebhooks), and a tampered body is not", () => {
    const headers = signed(Math.floor(Date.now() / 1000));
    expect(new Webhook(SECRET).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(SECRET).verify(body.replace('1', '2'), headers)).toThrow(WebhookVerificationError);
    expect(() => new Webhook(OLD_SECRET).verify(body, headers)).toThrow(WebhookVerificationError);
  });

  it('signs with every secret while rotating: each verifies alone', () => {
    const headers = signed(Math.floor(Date.now() / 1000), [KEY, OLD_KEY]);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(SECRET).verify(body, headers)).toBeTruthy();
    expect(new Webhook(OLD_SECRET).verify(body, headers)).toBeTruthy();
    expect(clientCheck(body, headers, OLD_SECRET, { now: Date.now() })).toMatchObject({ valid: true, id });
  });

  it('the client verifies it with Node headers, fetch Headers and a Buffer body', () => {
    expect(clientCheck(body, signed(), SECRET, { now })).toEqual({ valid: true, id, timestamp: t });
    expect(clientCheck(Buffer.from(body), new Headers(signed()), SECRET, { now })).toMatchObject({ valid: true });
    const upper = Object.fromEntries(Object.entries(signed()).map(([k, v]) => [k.toUpperCase(), [v]]));
    expect(clientCheck(body, upper, SECRET, { now })).toMatchObject({ valid: true });
    expect(clientCheck(body, signed(), [OLD_SECRET, SECRET], { now })).toMatchObject({ valid: true });
    expect(clientCheck(body, signed(), `${OLD_SECRET} ${SECRET}`, { now })).toMatchObject({ valid: true });
  });

  it.each([
    ['another secret', () => ({ h: signed(), b: body, s: OLD_SECRET }), 'signature-mismatch'],
    ['a changed body', () => ({ h: signed(), b: body.replace('1', '2'), s: SECRET }), 'signature-mismatch'],
    [
      'a re-serialised body',
      () => ({ h: signed(), b: JSON.stringify(JSON.parse(body), null, 1), s: SECRET }),
      'signature-mismatch',
    ],
    [
      'another timestamp',
      () => ({ h: { ...signed(), 'webhook-timestamp': String(t + 1) }, b: body, s: SECRET }),
      'signature-mismatch',
    ],
    ['another id', () => ({ h: { ...signed(), 'webhook-id': 'KXother' }, b: body, s: SECRET }), 'signature-mismatch'],
    ['no headers', () => ({ h: {}, b: body, s: SECRET }), 'header-missing'],
    ['no signature', () => ({ h: { ...signed(), 'webhook-signature': '' }, b: body, s: SECRET }), 'header-missing'],
    [
      'a v2 signature only',
      () => ({ h: { ...signed(), 'webhook-signature': 'v2,abc' }, b: body, s: SECRET }),
      'header-malformed',
    ],
    [
      'a timestamp that is not a number',
      () => ({ h: { ...signed(), 'webhook-timestamp': 'NaN' }, b: body, s: SECRET }),
      'header-malformed',
    ],
  ])('the client refuses %s', (_name, make, reason) => {
    const { h, b, s } = make();
    expect(clientCheck(b, h, s, { now })).toEqual({ valid: false, reason });
  });

  it('refuses a timestamp older or newer than the tolerance, and accepts one just inside it', () => {
    expect(clientCheck(body, signed(t - 301), SECRET, { now })).toMatchObject({
      reason: 'timestamp-outside-tolerance',
    });
    expect(clientCheck(body, signed(t + 301), SECRET, { now })).toMatchObject({
      reason: 'timestamp-outside-tolerance',
    });
    expect(clientCheck(body, signed(t - 299), SECRET, { now })).toMatchObject({ valid: true });
    expect(clientCheck(body, signed(t - 20), SECRET, { now, toleranceSeconds: 10 })).toMatchObject({
      reason: 'timestamp-outside-tolerance',
    });
    const fresh = signed(Math.floor(Date.now() / 1000));
    expect(clientVerify(body, fresh, SECRET)).toBe(true);
    expect(clientVerify(body, signed(Math.floor(Date.now() / 1000) - 400), SECRET)).toBe(false);
    expect(clientVerify(body, signed(Math.floor(Date.now() / 1000) - 400), SECRET, { toleranceSeconds: 500 })).toBe(
      true,
    );
  });

  it.each([
    ['an empty secret', ''],
    ['a one-character secret', 'x'],
    ['a secret without whsec_', KEY.toString('base64')],
    ['a key of 31 bytes', `whsec_${Buffer.alloc(31, 1).toString('base64')}`],
    ['a key that is not base64', 'whsec_not*base64*at*all*not*base64*at*all*not*base64*'],
    ['no secret at all', []],
  ])('the client will not verify with %s', (_name, secret: string | string[]) => {
    expect(() => clientVerify(body, signed(), secret)).toThrow(TypeError);
  });

  it.each([NaN, Infinity, -1, 0])('the client will not verify with a tolerance of %s', (toleranceSeconds) => {
    expect(() => clientVerify(body, signed(), SECRET, { toleranceSeconds })).toThrow(TypeError);
  });

  it.each([NaN, Infinity])('the client will not verify with a `now` of %s (no timestamp check)', (now) => {
    expect(() => clientVerify(body, signed(), SECRET, { now })).toThrow(TypeError);
  });
});

describe('payloads and settings', () => {
  const message: InboundMessage = {
    sid: messageSid(1),
    callSid: callSid(1),
    direction: 'from-sdk',
    sequence: 7,
    contentType: 'application/json',
    content: '{ "b" : 1, "a":[1, 2] }',
    timestamp: '2025-01-01T00:00:00.000Z',
  };

  it('carries the content as sent: its exact text, not a re-serialisation', () => {
    const body = messageEventBody(message, { parentCallSid: callSid(2), identity: 'alice' });
    expect(body.endsWith(',"content":{ "b" : 1, "a":[1, 2] }}')).toBe(true);
    expect(JSON.parse(body)).toEqual({
      type: 'call.message',
      callSid: callSid(1),
      parentCallSid: callSid(2),
      identity: 'alice',
      sid: messageSid(1),
      sequence: 7,
      timestamp: '2025-01-01T00:00:00.000Z',
      contentType: 'application/json',
      content: { b: 1, a: [1, 2] },
    });
  });

  it('writes any nesting depth and any JSON value without recursing', () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    const body = messageEventBody({ ...message, content: deep }, { parentCallSid: null, identity: null });
    expect(body.length).toBeGreaterThan(40_000);
    expect(
      JSON.parse(messageEventBody({ ...message, content: '"text"' }, { parentCallSid: null, identity: null })),
    ).toMatchObject({ content: 'text', parentCallSid: null });
  });

  it('carries content that is not JSON as a JSON string, flagged, so the body stays JSON', () => {
    for (const content of ['hello', '', '{"unclosed', '"}, "evil": 1, "x": {"']) {
      const body = messageEventBody(
        { ...message, content, irregular: ['content', 'content-type'] },
        { parentCallSid: null, identity: null },
      );
      expect(JSON.parse(body)).toMatchObject({ content, irregular: ['content', 'content-type'] });
      expect(JSON.parse(body)).not.toHaveProperty('evil');
    }
  });

  it('flags a message that violates the schemas', () => {
    const body = messageEventBody(
      { ...message, valid: false, validationError: '/a: must be string' },
      {
        parentCallSid: null,
        identity: null,
      },
    );
    expect(JSON.parse(body)).toMatchObject({ valid: false, validationError: '/a: must be string' });
  });

  const settings = (raw: Record<string, string>) => forwardingSettings({ raw });
  const invalid = (raw: Record<string, string>, what: RegExp) => {
    try {
      settings(raw);
    } catch (err) {
      expect(err).toMatchObject({ status: 500, code: 'configuration-invalid' });
      expect((err as Error).message).toMatch(what);
      return;
    }
    throw new Error('expected configuration-invalid');
  };

  it('is off without both variables, and refuses half a configuration', () => {
    expect(settings({})).toBeUndefined();
    invalid({ APP_WEBHOOK_URL: 'https://app.example.com/hook' }, /APP_WEBHOOK_SECRET/);
    invalid({ APP_WEBHOOK_SECRET: SECRET }, /APP_WEBHOOK_URL/);
    for (const weak of [
      'short',
      'x',
      'forwarding-unit-test-secret-0123456789',
      `whsec_${Buffer.alloc(31).toString('base64')}`,
      'whsec_***',
    ])
      invalid({ APP_WEBHOOK_URL: 'https://app.example.com/hook', APP_WEBHOOK_SECRET: weak }, /whsec_.*32 bytes/);
    const four = [SECRET, OLD_SECRET, SECRET, OLD_SECRET].join(' ');
    invalid({ APP_WEBHOOK_URL: 'https://app.example.com/hook', APP_WEBHOOK_SECRET: four }, /up to 3/);
    invalid({ APP_WEBHOOK_URL: 'not a url', APP_WEBHOOK_SECRET: SECRET }, /absolute/);
    invalid({ APP_WEBHOOK_URL: 'ftp://app.example.com/', APP_WEBHOOK_SECRET: SECRET }, /https/);
  });

  it('takes http only under twilio-run (localhost), https everywhere', () => {
    const http = { APP_WEBHOOK_URL: 'http://127.0.0.1:3003/hook', APP_WEBHOOK_SECRET: SECRET };
    expect(settings({ ...http, DOMAIN_NAME: 'localhost:3000' })).toEqual({ url: http.APP_WEBHOOK_URL, keys: [KEY] });
    const rotating = settings({
      ...http,
      DOMAIN_NAME: 'localhost:3000',
      APP_WEBHOOK_SECRET: `${SECRET} ${OLD_SECRET}`,
    });
    expect(rotating?.keys).toEqual([KEY, OLD_KEY]);
    invalid({ ...http, DOMAIN_NAME: 'cme-1234-dev.twil.io' }, /https/);
    expect(
      settings({ APP_WEBHOOK_URL: 'https://app.example.com/h', APP_WEBHOOK_SECRET: SECRET, DOMAIN_NAME: 'x.twil.io' }),
    ).toEqual({ url: 'https://app.example.com/h', keys: [KEY] });
  });

  it('reads a reply only from a JSON object answer', () => {
    expect(replyOf('{"reply":{"pong":1}}', 'application/json; charset=utf-8')).toEqual({ pong: 1 });
    expect(replyOf('{"reply":{"pong":1}}', 'text/plain')).toBeUndefined();
    expect(replyOf('{"ok":true}', 'application/json')).toBeUndefined();
    expect(replyOf('[{"reply":1}]', 'application/json')).toBeUndefined();
    expect(replyOf('not json', 'application/json')).toBeUndefined();
    expect(replyOf('', 'application/json')).toBeUndefined();
  });
});

/** A backend: each request is recorded, and answered by the next behaviour in `plan` (then 200 {}). */
interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}
type Behaviour = { status: number; json?: unknown; delayMs?: number; raw?: string; headers?: Record<string, string> };

async function startBackend() {
  const received: Received[] = [];
  const plan: Behaviour[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const b = plan.shift() ?? { status: 200, json: {} };
      const answer = () => {
        if (res.destroyed) return;
        const text = b.raw ?? JSON.stringify(b.json ?? {});
        res.writeHead(b.status, { 'content-type': 'application/json', ...b.headers });
        res.end(text);
      };
      if (b.delayMs) setTimeout(answer, b.delayMs).unref();
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url,
    received,
    plan,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('deliver', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  beforeEach(async () => (backend = await startBackend()));
  afterEach(() => backend.close());

  it('POSTs the body signed, with the Idempotency-Key, and reads a reply', async () => {
    backend.plan.push({ status: 200, json: { reply: { pong: 1 } } });
    const d = await deliver(SETTINGS(backend.url), '{"x":1}', 'KEY-1', 1000);
    expect(d).toMatchObject({ ok: true, status: 200, reply: { pong: 1 } });
    const got = defined(backend.received[0]);
    expect(got.headers['idempotency-key']).toBe('KEY-1');
    expect(got.headers['webhook-id']).toBe('KEY-1');
    expect(got.headers['x-cme-signature']).toBeUndefined();
    expect(got.headers['content-type']).toBe('application/json');
    expect(clientVerify(got.body, got.headers, SECRET)).toBe(true);
  });

  it('fails on a non-2xx, a redirect (not followed), a refused connection, and no time left', async () => {
    backend.plan.push({ status: 500 }, { status: 302, headers: { location: 'https://elsewhere.example/' } });
    const s = SETTINGS(backend.url);
    expect(await deliver(s, '{}', 'k', 1000)).toMatchObject({ ok: false, status: 500, failure: 'status' });
    expect(await deliver(s, '{}', 'k', 1000)).toMatchObject({ ok: false, status: 302, failure: 'status' });
    expect(backend.received).toHaveLength(2);
    expect(await deliver(s, '{}', 'k', 100)).toEqual({ ok: false, failure: 'no-time', ms: 0 });
    expect(backend.received).toHaveLength(2);
    await backend.close();
    expect(await deliver(s, '{}', 'k', 1000)).toMatchObject({ ok: false, failure: 'network' });
  });

  it('gives up on a slow backend at its timeout', async () => {
    backend.plan.push({ status: 200, delayMs: 2000 });
    const started = Date.now();
    const d = await deliver(SETTINGS(backend.url), '{}', 'k', 400);
    expect(d).toMatchObject({ ok: false, failure: 'timeout' });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('ignores a reply in an answer too big to hold one', async () => {
    backend.plan.push({ status: 200, raw: JSON.stringify({ reply: { a: 'x'.repeat(70_000) } }) });
    backend.plan.push({ status: 200, raw: JSON.stringify({ reply: { a: 'x'.repeat(60_000) } }) });
    const big = await deliver(SETTINGS(backend.url), '{}', 'k', 1000);
    expect(big).toMatchObject({ ok: true, status: 200 });
    expect(big.reply).toBeUndefined();
    // Just under the limit, it is read.
    const fits = await deliver(SETTINGS(backend.url), '{}', 'k', 1000);
    expect(fits.reply).toEqual({ a: 'x'.repeat(60_000) });
  });
});

describe('/message-callback with forwarding on', () => {
  let sandbox: SyncSandbox;
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let syncRequests: string[];
  let udms: { callSid: string; content: string; idempotencyKey: string }[];
  let leg: string;
  let legCounter = 0x500;

  beforeAll(async () => {
    installTwilioGlobal();
    sandbox = await startSyncSandbox({}, (app) => {
      app.use((req, _res, next) => {
        if (req.path.startsWith('/sync/')) syncRequests.push(`${req.method} ${req.path}`);
        next();
      });
      // The one Calls API operation a reply uses, answered as Twilio does.
      app.post('/api/2010-04-01/Accounts/:account/Calls/:call/UserDefinedMessages.json', (req, res) => {
        const form = req.body as { Content: string; IdempotencyKey: string };
        udms.push({ callSid: req.params.call, content: form.Content, idempotencyKey: form.IdempotencyKey });
        res.status(201).json({
          account_sid: req.params.account,
          call_sid: req.params.call,
          sid: messageSid(0x9000 + udms.length),
          date_created: new Date().toUTCString(),
        });
      });
    });
  });
  afterAll(() => sandbox.close());
  beforeEach(async () => {
    sandbox.reset();
    backend = await startBackend();
    syncRequests = [];
    udms = [];
    leg = callSid(legCounter++);
    jest.spyOn(console, 'log').mockImplementation(() => {});
    // The leg as /call-status leaves it: its state names the parent and the identity.
    await sandbox.client.sync.v1.services('default').syncMaps.create({ uniqueName: legMapName(leg) });
    await sandbox.client.sync.v1
      .services('default')
      .syncMaps(legMapName(leg))
      .syncMapItems.create({
        key: 'state',
        data: {
          callSid: leg,
          parentCallSid: callSid(1),
          role: 'child',
          identity: 'alice',
          peer: '+15550001111',
          status: 'in-progress',
          updatedAt: new Date().toISOString(),
        },
      });
    syncRequests = [];
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await backend.close();
  });

  const env = () => ({
    APP_WEBHOOK_URL: backend.url,
    APP_WEBHOOK_SECRET: SECRET,
  });
  // The leg's names in its URL, as /call-status writes it; `legacy`: a URL issued before they were.
  const callback = (n: number, content = `{"n":${n}}`, legacy = false) => {
    const names = legacy ? undefined : { parentCallSid: callSid(1), identity: 'alice' };
    const url = withoutFragment(messageCallbackUrl(LOCAL_BASE, TEST_AUTH_TOKEN, leg, new Date(), names));
    const body = {
      ContentType: 'application/json',
      Content: content,
      SequenceNumber: String(n),
      CallSid: leg,
      Timestamp: 'Wed, 1 Jan 2025 00:00:00 +0000',
      AccountSid: TEST_ACCOUNT_SID,
      Sid: messageSid(n),
    };
    return eventFor(url, body, { 'x-twilio-signature': twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, url, body) });
  };
  const post = (n: number, envOver: Record<string, string> = {}, content?: string, legacy = false) =>
    invoke(handler, makeContext('/message-callback', { ...env(), ...envOver }), callback(n, content, legacy));
  const stored = async (n: number) =>
    (
      await sandbox.client.sync.v1
        .services('default')
        .syncMaps(legMapName(leg))
        .syncMapItems(inboundKey(n, messageSid(n)))
        .fetch()
    ).data as Record<string, unknown>;
  const writes = () => syncRequests.filter((r) => r.startsWith('POST') || r.startsWith('DELETE'));
  const reads = () => syncRequests.filter((r) => r.startsWith('GET'));

  it('delivers once, stores it forwarded with 1 Sync write, and a redelivery delivers nothing', async () => {
    const res = await post(1);
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({ sid: messageSid(1), outcome: 'stored', forwarded: true });
    expect(backend.received).toHaveLength(1);
    const got = defined(backend.received[0]);
    expect(clientVerify(got.body, got.headers, SECRET)).toBe(true);
    expect(got.headers['idempotency-key']).toBe(messageSid(1));
    expect(JSON.parse(got.body)).toMatchObject({
      type: 'call.message',
      callSid: leg,
      parentCallSid: callSid(1),
      identity: 'alice',
      sid: messageSid(1),
      sequence: 1,
      content: { n: 1 },
    });
    // 1 write and 1 read (is it stored?): the leg's parent and identity come from its callback URL.
    expect({ writes: writes().length, reads: reads().length }).toEqual({ writes: 1, reads: 1 });
    expect(await stored(1)).toMatchObject({ forwarded: true, content: '{"n":1}' });
    syncRequests = [];
    expect((await post(11)).body).toMatchObject({ outcome: 'stored', forwarded: true });
    expect({ writes: writes().length, reads: reads().length }).toEqual({ writes: 1, reads: 1 });

    syncRequests = [];
    const again = await post(1);
    expect(again.statusCode).toBe(200);
    expect(again.body).toMatchObject({ outcome: 'duplicate', forwarded: true });
    expect(backend.received).toHaveLength(2);
    expect(writes()).toHaveLength(0);
  });

  it("reads the leg's state for its names once per leg when its URL was issued without them", async () => {
    expect((await post(21, {}, undefined, true)).body).toMatchObject({ outcome: 'stored', forwarded: true });
    expect(JSON.parse(defined(backend.received[0]).body)).toMatchObject({
      parentCallSid: callSid(1),
      identity: 'alice',
    });
    expect({ writes: writes().length, reads: reads().length }).toEqual({ writes: 1, reads: 2 });
    syncRequests = [];
    expect((await post(22, {}, undefined, true)).body).toMatchObject({ outcome: 'stored', forwarded: true });
    expect({ writes: writes().length, reads: reads().length }).toEqual({ writes: 1, reads: 1 });
  });

  it('trusts the names in a URL only as Twilio signed it: another identity or parent is refused, nothing delivered', async () => {
    const genuine = callback(23);
    for (const [name, value] of [
      ['cme_identity', 'mallory'],
      ['cme_parent', callSid(2)],
    ] as const) {
      // The leg's own token, but a name changed: the token does not cover names, Twilio's signature does.
      const forged = { ...genuine, [name]: value };
      expectError(await invoke(handler, makeContext('/message-callback', env()), forged), 403, 'signature-invalid');
    }
    expect(backend.received).toHaveLength(0);
    expect(syncRequests).toEqual([]);
  });

  it('answers 503 when the backend fails, and the redelivery delivers it (same key) and marks it', async () => {
    backend.plan.push({ status: 500 });
    expectError(await post(2), 503, 'forwarding-failed');
    expect(await stored(2)).toMatchObject({ forwarded: false });
    const res = await post(2);
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({ outcome: 'duplicate', forwarded: true });
    expect(await stored(2)).toMatchObject({ forwarded: true, content: '{"n":2}' });
    expect(backend.received.map((r) => r.headers['idempotency-key'])).toEqual([messageSid(2), messageSid(2)]);
    // The same event both times: the app can tell it by its key and its body.
    const [first, second] = backend.received;
    expect(defined(first).body).toBe(defined(second).body);
    await post(2);
    expect(backend.received).toHaveLength(2);
  });

  it('treats a slow backend as a failure within the delivery timeout, not the invocation', async () => {
    backend.plan.push({ status: 200, delayMs: DELIVERY_TIMEOUT_MS + 2000 });
    const started = Date.now();
    const body = expectError(await post(3), 503, 'forwarding-failed') as unknown as Record<string, unknown>;
    expect(body.failure).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(DELIVERY_TIMEOUT_MS + 1500);
    expect(await stored(3)).toMatchObject({ forwarded: false });
  }, 15_000);

  it('sends the reply to the same leg, once, keyed on the message Sid', async () => {
    backend.plan.push({ status: 200, json: { reply: { pong: 'hello' } } });
    const res = await post(4, {}, '{"ping":"hello"}');
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({ forwarded: true, reply: { outcome: 'sent' } });
    expect(udms).toEqual([{ callSid: leg, content: '{"pong":"hello"}', idempotencyKey: replyKey(messageSid(4)) }]);
    // The reply is recorded like /send-message records a send.
    const items = await sandbox.client.sync.v1.services('default').syncMaps(legMapName(leg)).syncMapItems.list();
    expect(items.filter((i) => i.key.startsWith(TO_SDK)).map((i) => (i.data as { content: string }).content)).toEqual([
      '{"pong":"hello"}',
    ]);
  });

  it('reports a reply it cannot send (not a JSON object) without failing the delivered message', async () => {
    backend.plan.push({ status: 200, json: { reply: [1, 2] } });
    const res = await post(5);
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({ forwarded: true, reply: { outcome: 'failed', code: 'content-invalid' } });
    expect(udms).toHaveLength(0);
  });

  it('stores without delivering when forwarding is off, and refuses half a configuration', async () => {
    const off = await post(6, { APP_WEBHOOK_URL: '', APP_WEBHOOK_SECRET: '' });
    expect(off.statusCode).toBe(200);
    expect(off.body).toEqual({ sid: messageSid(6), outcome: 'stored', verification: 'signature' });
    expect(backend.received).toHaveLength(0);
    expect((await stored(6)).forwarded).toBeUndefined();
    // Stored while forwarding was off: a redelivery once it is on does not deliver it either.
    expect((await post(6)).body).toMatchObject({ outcome: 'duplicate', forwarded: false });
    expect(backend.received).toHaveLength(0);
    expectError(await post(7, { APP_WEBHOOK_SECRET: '' }), 500, 'configuration-invalid');
  });
});
