// The sandbox's knobs for Twilio's freedoms (sandbox/README.md): missing-Map code, status callback
// order, SequenceNumber start, jittered latency, reused IdempotencyKeys, dropped SDK messages and
// the `realistic` profile. The sandbox runs in-process; a small local server plays the functions.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSandbox, type Sandbox } from '../../sandbox/app';
import { networkInterfaces } from 'node:os';
import { SandboxControl } from '../../sandbox/control-client';
import { defaultWebhookKnobs } from '../../sandbox/webhooks';
import { waitFor } from '../../testing/stack';
import { defined } from '../support/narrow';

interface Received {
  path: string;
  params: Record<string, string>;
}

let sandbox: Sandbox;
let ctl: SandboxControl;
let receiver: http.Server;
let receiverUrl: string;
const received: Received[] = [];
/** What /voice answers: the TwiML for each new call. */
let voiceTwiml = '<Response><Hangup/></Response>';

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      received.push({ path: url.pathname, params: Object.fromEntries(new URLSearchParams(body)) });
      if (url.pathname === '/voice') {
        res.writeHead(200, { 'Content-Type': 'text/xml' });
        res.end(voiceTwiml);
        return;
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  sandbox = await startSandbox({ functionsUrl: receiverUrl });
  ctl = new SandboxControl(sandbox.url);
});

afterAll(async () => {
  await sandbox?.close();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

beforeEach(() => {
  sandbox.reset();
  Object.assign(sandbox.webhooks.knobs, defaultWebhookKnobs()); // reset() leaves webhook knobs as they are
  received.length = 0;
  voiceTwiml = '<Response><Hangup/></Response>';
});

const auth = () => 'Basic ' + Buffer.from(`${sandbox.accountSid}:${sandbox.authToken}`).toString('base64');

async function rest(method: string, path: string, form?: Record<string, string>) {
  const res = await fetch(`${sandbox.url}${path}`, {
    method,
    headers: { Authorization: auth(), 'Content-Type': 'application/x-www-form-urlencoded' },
    ...(form ? { body: new URLSearchParams(form) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as Record<string, unknown> };
}

const callsPath = () => `/api/2010-04-01/Accounts/${sandbox.accountSid}/Calls`;
const subscribe = (callSid: string, form: Record<string, string>) =>
  rest('POST', `${callsPath()}/${callSid}/UserDefinedMessageSubscriptions.json`, form);
const sendToSdk = (callSid: string, form: Record<string, string>) =>
  rest('POST', `${callsPath()}/${callSid}/UserDefinedMessages.json`, form);

/** A phone `amy` calls `bob` (who does not answer until told): amy's parent leg rings meanwhile. */
async function ringingCall() {
  await ctl.registerPhone('amy');
  await ctl.registerPhone('bob');
  voiceTwiml = `<Response><Dial answerOnBridge="true"><Client statusCallback="${receiverUrl}/status" statusCallbackEvent="initiated ringing answered completed">bob</Client></Dial></Response>`;
  const { callSid: parent } = await ctl.placeCall('amy', 'client:bob');
  const child = await waitFor(
    async () => (await ctl.calls()).calls.find((c) => c.parentCallSid === parent && c.status === 'ringing'),
    'bob ringing',
  );
  return { parent, child: child.sid };
}

const statusOrder = (callSid: string) =>
  received.filter((r) => r.path === '/status' && r.params.CallSid === callSid).map((r) => r.params.CallStatus);

describe('knobs through the control API', () => {
  it('applies a profile, then sections over it; refuses bad values and changes nothing', async () => {
    const realistic = await ctl.knobs({ profile: 'realistic', idempotency: { variant: 'refused' } });
    expect(realistic).toMatchObject({
      profile: 'realistic',
      faults: { latency: { minMs: 20, maxMs: 150 } },
      webhooks: { statusCallbackOrder: 'reordered', duplicateKinds: ['status'], maxDelayMs: 150 },
      sync: { missingMapCode: 20404 },
      messages: { firstSequenceNumber: 1 },
      idempotency: { variant: 'refused' },
      calls: { lagMs: 1000, subresources: 'current' },
    });
    for (const bad of [
      { sync: { missingMapCode: 404 } },
      { messages: { firstSequenceNumber: 2 } },
      { messages: { sdkSidFormat: 'android' } },
      { messages: { ringingSubscriptions: 'sometimes' } },
      { calls: { lagMs: -1 } },
      { calls: { lagMs: '1000' } },
      { calls: { lagMs: 60_001 } },
      { calls: { subresources: 'maybe' } },
      { idempotency: { variant: 'maybe' } },
      { faults: { latency: { minMs: 10, maxMs: 5 } } },
      { webhooks: { statusCallbackOrder: 'random' } },
      { profile: 'chaos', sync: { missingMapCode: 54300 } },
      { sync: { writeLimits: { from10KiB: 0 } } },
      { sync: { writeLimits: { over1KiB: 'fast' } } },
      { sync: { writeLimits: { windowSeconds: 0 } } },
      { sync: { writeLimits: { perSecond: 0.05 } } },
      { functions: { timeoutMs: 0 } },
      { functions: { oversizeAnswerStatus: 413 } },
      { functions: { sharedKeySignatures: 'maybe' } },
      { functions: { requestMaxBytes: '1mb' } },
      { functions: { answerLimit: 1 } },
    ]) {
      await expect(ctl.knobs(bad as never)).rejects.toMatchObject({ status: 400, body: { code: 20001 } });
    }
    expect(await ctl.getKnobs()).toEqual(realistic);
    const deterministic = await ctl.knobs({ profile: 'deterministic' });
    expect(deterministic).toMatchObject({
      profile: 'deterministic',
      webhooks: { statusCallbackOrder: 'as-sent', duplicateRate: 0, maxDelayMs: 0 },
      idempotency: { variant: 'refused' }, // not a knob the profiles set
    });
    expect(deterministic.faults.latency).toBeUndefined();
    expect(deterministic.calls.lagMs).toBe(0);
    // reset: back to how the sandbox started (no profile, defaults).
    await ctl.reset();
    expect(await ctl.getKnobs()).toMatchObject({ profile: null, idempotency: { variant: 'same' } });
  });

  it.each([20404, 54200, 54300] as const)('answers a missing Map with 404/%i', async (code) => {
    if (code !== 20404) await ctl.knobs({ sync: { missingMapCode: code } });
    for (const path of ['/Maps/nope', '/Maps/nope/Items/k', '/Maps/nope/Items']) {
      const res = await rest('GET', `/sync/v1/Services/default${path}`);
      expect([res.status, res.body.code]).toEqual([404, code]);
    }
  });

  it("plays Sync's write limits by payload size by default; each tier changes, and all switch off", async () => {
    expect((await ctl.getKnobs()).sync.writeLimits).toEqual({
      perSecond: 20,
      over1KiB: 10,
      from10KiB: 2,
      windowSeconds: 10,
    });
    // A 1 s window and 1 write/s from 10 KiB: one 11 KB write per Document per second.
    const narrowed = await ctl.knobs({ sync: { writeLimits: { windowSeconds: 1, from10KiB: 1 } } });
    expect(narrowed.sync.writeLimits).toEqual({ perSecond: 20, over1KiB: 10, from10KiB: 1, windowSeconds: 1 });
    const big = JSON.stringify({ pad: 'x'.repeat(11_000) });
    const docs = '/sync/v1/Services/default/Documents';
    expect((await rest('POST', docs, { UniqueName: 'size-limited', Data: big })).status).toBe(201);
    const refused = await fetch(`${sandbox.url}${docs}/size-limited`, {
      method: 'POST',
      headers: { Authorization: auth(), 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ Data: big }),
    });
    expect([refused.status, ((await refused.json()) as { code: number }).code]).toEqual([429, 54009]);
    expect(refused.headers.get('retry-after')).toBe('1');
    // Another object has its own window.
    expect((await rest('POST', docs, { UniqueName: 'other', Data: big })).status).toBe(201);
    // over1KiB's readings; then off altogether.
    expect((await ctl.knobs({ sync: { writeLimits: { over1KiB: 'by-size' } } })).sync.writeLimits?.over1KiB).toBe(
      'by-size',
    );
    await ctl.knobs({ sync: { writeLimits: null } });
    expect((await ctl.getKnobs()).sync.writeLimits).toBeNull();
    expect((await rest('POST', `${docs}/size-limited`, { Data: big })).status).toBe(200);
    expect((await rest('POST', `${docs}/size-limited`, { Data: big })).status).toBe(200);
    // A setting over "off" starts from Twilio's limits.
    expect((await ctl.knobs({ sync: { writeLimits: { over1KiB: 2 } } })).sync.writeLimits).toEqual({
      perSecond: 20,
      over1KiB: 2,
      from10KiB: 2,
      windowSeconds: 10,
    });
  });

  it('adds jittered latency to every REST and Sync request', async () => {
    await ctl.knobs({ faults: { latency: { minMs: 60, maxMs: 80 } } });
    for (const path of [`${callsPath()}.json`, '/sync/v1/Services/default']) {
      const started = Date.now();
      expect((await rest('GET', path)).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    }
    await ctl.knobs({ faults: { latency: null } });
    const started = Date.now();
    await rest('GET', '/sync/v1/Services/default');
    expect(Date.now() - started).toBeLessThan(55);
  });
});

describe('call messages', () => {
  it('accepts subscriptions and messages on a ringing leg, refuses them once it ended (31211)', async () => {
    const { parent, child } = await ringingCall();
    expect((await ctl.call(parent)).status).toBe('ringing');
    expect((await subscribe(parent, { Callback: `${receiverUrl}/msg` })).status).toBe(201);
    expect((await subscribe(child, { Callback: `${receiverUrl}/msg` })).status).toBe(201);
    expect((await sendToSdk(child, { Content: '{"early":true}' })).status).toBe(201);
    await ctl.hangup('amy', parent);
    const refused = await subscribe(child, { Callback: `${receiverUrl}/msg` });
    expect([refused.status, refused.body.code]).toEqual([400, 31211]);
  });

  it('hands a phone content nested thousands deep, and shows it back, without overflowing', async () => {
    const { parent } = await ringingCall();
    const deep = `{"d":${'['.repeat(4_990)}${']'.repeat(4_990)}}`;
    expect(deep.length).toBeLessThanOrEqual(10_000);
    expect((await sendToSdk(parent, { Content: deep })).status).toBe(201);
    const amy = await ctl.phone('amy');
    const last = amy.calls.find((c) => c.callSid === parent)?.received.at(-1);
    expect(last?.content).toHaveProperty('d');
    // Still serving, and the SDK can answer with the same content.
    expect((await ctl.sendFromPhone('amy', parent, JSON.parse(deep))).voiceEventSid).toMatch(/^KX/);
    await ctl.hangup('amy', parent);
  });

  it('drops an SDK message on a leg without a subscription, and counts it', async () => {
    const { parent } = await ringingCall();
    const sent = await ctl.sendFromPhone('amy', parent, { nobody: 'listens' });
    expect(sent).toMatchObject({ deliveries: [], dropped: true });
    expect(received.filter((r) => r.path === '/msg')).toEqual([]);
    const stats = await ctl.stats();
    expect(stats.messagesDropped).toEqual({ total: 1, perLeg: { [parent]: 1 } });
    expect((await ctl.call(parent)).messagesDropped).toBe(1);
  });

  it.each([1, 0] as const)('numbers SDK messages per leg from %i', async (first) => {
    await ctl.knobs({ messages: { firstSequenceNumber: first } });
    const { parent } = await ringingCall();
    await subscribe(parent, { Callback: `${receiverUrl}/msg` });
    for (let i = 0; i < 3; i++) expect((await ctl.sendFromPhone('amy', parent, { i })).deliveries).toHaveLength(1);
    const numbers = received.filter((r) => r.path === '/msg').map((r) => Number(r.params.SequenceNumber));
    expect(numbers).toEqual([first, first + 1, first + 2]);
  });

  it('names SDK messages as the JS SDK does, or with an upper-case UUID (sdkSidFormat)', async () => {
    const { parent } = await ringingCall();
    await subscribe(parent, { Callback: `${receiverUrl}/msg` });
    await ctl.knobs({ messages: { sdkSidFormat: 'uuid' } });
    await ctl.sendFromPhone('amy', parent, { i: 1 });
    await ctl.knobs({ messages: { sdkSidFormat: 'js' } });
    await ctl.sendFromPhone('amy', parent, { i: 2 });
    const sids = received.filter((r) => r.path === '/msg').map((r) => r.params.Sid);
    expect(sids).toEqual([
      expect.stringMatching(/^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/),
      expect.stringMatching(/^KX[0-9a-f]{32}$/),
    ]);
  });

  it('reused IdempotencyKey, variant same: the first resource again', async () => {
    const { parent } = await ringingCall();
    const a = await subscribe(parent, { Callback: `${receiverUrl}/msg`, IdempotencyKey: 'k' });
    const b = await subscribe(parent, { Callback: `${receiverUrl}/msg`, IdempotencyKey: 'k' });
    expect([a.status, b.status, b.body.sid]).toEqual([201, 201, a.body.sid]);
    const m1 = await sendToSdk(parent, { Content: '{}', IdempotencyKey: 'm' });
    const m2 = await sendToSdk(parent, { Content: '{}', IdempotencyKey: 'm' });
    expect(m2.body.sid).toBe(m1.body.sid);
    expect(defined((await ctl.phone('amy')).calls[0]).received).toHaveLength(1);
  });

  it('reused IdempotencyKey, variant refused: 409/20409 in Twilio shape', async () => {
    await ctl.knobs({ idempotency: { variant: 'refused' } });
    const { parent } = await ringingCall();
    expect((await subscribe(parent, { Callback: `${receiverUrl}/msg`, IdempotencyKey: 'k' })).status).toBe(201);
    const again = await subscribe(parent, { Callback: `${receiverUrl}/msg`, IdempotencyKey: 'k' });
    expect(again).toMatchObject({ status: 409, body: { code: 20409, status: 409, message: expect.any(String) } });
    expect((await sendToSdk(parent, { Content: '{}', IdempotencyKey: 'm' })).status).toBe(201);
    expect((await sendToSdk(parent, { Content: '{}', IdempotencyKey: 'm' })).status).toBe(409);
    expect((await ctl.call(parent)).subscriptionsCreated).toBe(1);
    expect(defined((await ctl.phone('amy')).calls[0]).received).toHaveLength(1);
  });

  it('reused IdempotencyKey, variant ignored: a second resource, and each SDK message goes to both', async () => {
    await ctl.knobs({ idempotency: { variant: 'ignored' } });
    const { parent } = await ringingCall();
    const a = await subscribe(parent, { Callback: `${receiverUrl}/msg?n=1`, IdempotencyKey: 'k' });
    const b = await subscribe(parent, { Callback: `${receiverUrl}/msg?n=2`, IdempotencyKey: 'k' });
    expect(b.body.sid).not.toBe(a.body.sid);
    expect((await ctl.call(parent)).subscriptionsCreated).toBe(2);
    const sent = await ctl.sendFromPhone('amy', parent, { twice: true });
    expect(sent.deliveries).toEqual([{ status: 200 }, { status: 200 }]);
    const got = received.filter((r) => r.path === '/msg');
    expect(got).toHaveLength(2);
    // One message: the same Sid and SequenceNumber in both callbacks.
    expect(new Set(got.map((r) => `${r.params.Sid} ${r.params.SequenceNumber}`)).size).toBe(1);
    await sendToSdk(parent, { Content: '{}', IdempotencyKey: 'm' });
    await sendToSdk(parent, { Content: '{}', IdempotencyKey: 'm' });
    expect(defined((await ctl.phone('amy')).calls[0]).received).toHaveLength(2);
  });
});

describe('the Calls API lag (calls.lagMs, calls.subresources) and subscriptions at ringing', () => {
  const fetchCall = (callSid: string) => rest('GET', `${callsPath()}/${callSid}.json`);
  const listed = async (callSid: string) =>
    ((await rest('GET', `${callsPath()}.json?PageSize=100`)).body.calls as { sid: string; status: string }[]).find(
      (c) => c.sid === callSid,
    );

  it('fetch and list show each call as it was lagMs ago; subresource creates see it as it is', async () => {
    await ctl.knobs({ calls: { lagMs: 600 } });
    const { parent, child } = await ringingCall();
    // Too young to be shown: fetch 404 / 20404, left out of lists; a subscription sees it already.
    const early = await fetchCall(child);
    expect([early.status, early.body.code]).toEqual([404, 20404]);
    expect(await listed(child)).toBeUndefined();
    expect((await subscribe(child, { Callback: `${receiverUrl}/msg` })).status).toBe(201);
    expect((await sendToSdk(child, { Content: '{"early":true}' })).status).toBe(201);
    // Shown once it is lagMs old, with the status it had then (it rang from its first moments).
    await waitFor(async () => (await listed(child))?.status === 'ringing', 'the call listed, ringing', 3000);
    await ctl.answer('bob', child);
    expect((await ctl.call(child)).status).toBe('in-progress');
    expect((await fetchCall(child)).body.status).toBe('ringing');
    await waitFor(async () => (await fetchCall(child)).body.status === 'in-progress', 'the answer shown', 3000);
    await ctl.hangup('amy', parent);
  });

  it('subresources lagged: creates see what fetch sees (20404 while too young, then the call)', async () => {
    await ctl.knobs({ calls: { lagMs: 600, subresources: 'lagged' } });
    const { parent, child } = await ringingCall();
    const tooYoung = await subscribe(child, { Callback: `${receiverUrl}/msg` });
    expect([tooYoung.status, tooYoung.body.code]).toEqual([404, 20404]);
    const message = await sendToSdk(child, { Content: '{}' });
    expect([message.status, message.body.code]).toEqual([404, 20404]);
    await waitFor(async () => (await fetchCall(child)).body.status === 'ringing', 'the call shown ringing', 3000);
    expect((await subscribe(child, { Callback: `${receiverUrl}/msg` })).status).toBe(201);
    expect((await ctl.call(child)).subscriptionsCreated).toBe(1);
    await ctl.hangup('amy', parent);
  });

  it('ringingSubscriptions refused: 400 / 31211 on a ringing leg, accepted once it is answered', async () => {
    await ctl.knobs({ messages: { ringingSubscriptions: 'refused' } });
    const { parent, child } = await ringingCall();
    for (const leg of [parent, child]) {
      const refused = await subscribe(leg, { Callback: `${receiverUrl}/msg` });
      expect([refused.status, refused.body.code]).toEqual([400, 31211]);
    }
    // Messages to the SDK are not affected.
    expect((await sendToSdk(child, { Content: '{"ringing":true}' })).status).toBe(201);
    await ctl.answer('bob', child);
    expect((await subscribe(child, { Callback: `${receiverUrl}/msg` })).status).toBe(201);
    expect((await ctl.call(child)).subscriptionsCreated).toBe(1);
    await ctl.hangup('amy', parent);
  });
});

describe('status callback order', () => {
  it('as sent by default (each once, numbered in order)', async () => {
    const { parent, child } = await ringingCall();
    await ctl.answer('bob', child);
    await ctl.hangup('amy', parent);
    await ctl.idle();
    const got = received.filter((r) => r.path === '/status' && r.params.CallSid === child);
    const bySequence = got.sort((a, b) => Number(a.params.SequenceNumber) - Number(b.params.SequenceNumber));
    expect(bySequence.map((r) => [r.params.SequenceNumber, r.params.CallStatus])).toEqual([
      ['0', 'initiated'],
      ['1', 'ringing'],
      ['2', 'in-progress'],
      ['3', 'completed'],
    ]);
  });

  it('reordered: each held back until the next was delivered; a final status is never held', async () => {
    await ctl.knobs({ webhooks: { statusCallbackOrder: 'reordered', reorderRate: 1 } });
    const { parent, child } = await ringingCall();
    await waitFor(() => statusOrder(child).length === 2, 'ringing, then initiated');
    expect(statusOrder(child)).toEqual(['ringing', 'initiated']);
    await ctl.answer('bob', child);
    await ctl.hangup('amy', parent);
    await ctl.idle();
    expect(statusOrder(child)).toEqual(['ringing', 'initiated', 'completed', 'in-progress']);
    expect((await ctl.stats()).statusCallbacksHeld).toEqual({ held: 2, timedOut: 0 });
  });

  it('reordered: a held callback goes after maxHoldMs when nothing follows', async () => {
    await ctl.knobs({ webhooks: { statusCallbackOrder: 'reordered', reorderRate: 1, maxHoldMs: 150 } });
    const { parent, child } = await ringingCall();
    await waitFor(() => statusOrder(child).length === 2, 'ringing, then initiated');
    // in-progress is held back, and nothing follows while the call goes on.
    const answered = Date.now();
    await ctl.answer('bob', child);
    await waitFor(() => statusOrder(child).length === 3, 'the held in-progress callback');
    expect(Date.now() - answered).toBeGreaterThanOrEqual(140);
    expect(statusOrder(child)).toEqual(['ringing', 'initiated', 'in-progress']);
    expect((await ctl.stats()).statusCallbacksHeld).toEqual({ held: 2, timedOut: 1 });
    await ctl.hangup('amy', parent);
    await ctl.idle();
    expect(statusOrder(child)).toEqual(['ringing', 'initiated', 'in-progress', 'completed']);
  });

  it('duplicates only the kinds asked for, seeded', async () => {
    await ctl.knobs({ webhooks: { duplicateRate: 1, maxCopies: 2, duplicateKinds: ['status'], seed: 7 } });
    const { parent, child } = await ringingCall();
    await subscribe(parent, { Callback: `${receiverUrl}/msg` });
    await ctl.sendFromPhone('amy', parent, { once: true });
    await ctl.answer('bob', child);
    await ctl.hangup('amy', parent);
    await ctl.idle();
    expect(received.filter((r) => r.path === '/msg')).toHaveLength(1);
    expect(statusOrder(child).sort()).toEqual([
      'completed',
      'completed',
      'in-progress',
      'in-progress',
      'initiated',
      'initiated',
      'ringing',
      'ringing',
    ]);
  });
});

it('listens on 127.0.0.1 only (REST, control API and gateway)', async () => {
  expect(new URL(sandbox.url).hostname).toBe('127.0.0.1');
  const outside = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  if (!outside) return; // no other interface on this machine to try
  await expect(fetch(`http://${outside}:${sandbox.port}/sandbox`)).rejects.toThrow();
  const gateway = await startSandbox({ gatewayPort: 0 });
  try {
    await expect(fetch(`https://${outside}:${gateway.gateway!.port}/`)).rejects.toThrow();
  } finally {
    await gateway.close();
  }
});
