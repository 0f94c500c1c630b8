// Issue #14: call messages forwarded to the app's backend over real twilio-run + the sandbox, with
// the example backend (scripts/example-backend.ts) as the app: signed and verifiable, one
// acknowledged delivery per message under redelivered and reordered callbacks and under a backend
// that fails or stalls first attempts (Twilio's retries, asked for by the callback URL's fragment),
// replies back on the SDK phone, message schemas both ways, and call.started / call.ended for the leg.
import { callMessages, sendMessage, verifyForwardedRequest } from '../../client/src';
import type { CallMessagePageItem } from '../../lib/shared/api-types';
import { replyKey } from '../../lib/forwarding/messages';
import { startExampleBackend, type ExampleBackend } from '../../scripts/example-backend';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';
import { defined } from '../support/narrow';

let backend: ExampleBackend;
let leg: string;
const requests: { raw: Buffer; headers: Record<string, string | string[] | undefined> }[] = [];

beforeAll(async () => {
  backend = await startExampleBackend({ onRequest: (raw, headers) => requests.push({ raw, headers }) });
});
afterAll(() => backend?.close());

// Message schemas on too (the example's types: chat, order.update; anything else passes).
const stack = useTestStack(() => ({
  env: { ...backend.env, MESSAGE_SCHEMAS_ASSET: '/message-schemas.example.json' },
}));

beforeAll(async () => {
  const ctl = stack.control;
  await ctl.registerPhone('alice', { autoAnswer: true });
  await ctl.callIn('+15551239014');
  leg = (
    await waitFor(async () => (await ctl.phone('alice')).calls.find((c) => c.state === 'open'), "alice's leg to open")
  ).callSid;
  await waitFor(async () => (await ctl.call(leg)).subscriptions.length > 0, 'the subscription', 15_000);
}, 60_000);

const send = (content: unknown) => stack.control.sendFromPhone('alice', leg, content);

async function history(): Promise<CallMessagePageItem[]> {
  const page = await callMessages(stack.fn, leg, { pageSize: 100 });
  expect(page.status).toBe(200);
  return page.body.messages;
}

/** Replays a stored message's callback as Twilio would redeliver it (same parameters, signed, to the same URL). */
async function redeliver(message: CallMessagePageItem) {
  const subscription = defined((await stack.control.call(leg)).subscriptions[0]);
  return stack.sandbox.webhooks.send({
    kind: 'message',
    url: subscription.callback,
    method: 'POST',
    retry: true,
    params: {
      ContentType: 'application/json',
      Content: message.content,
      SequenceNumber: String(message.sequence),
      CallSid: leg,
      Timestamp: new Date(message.timestamp).toUTCString(),
      AccountSid: stack.sandbox.accountSid,
      Sid: message.sid ?? '',
    },
  });
}

it('forwards a message signed (verifiable with verifyForwardedRequest), keyed on its Sid, and records it forwarded', async () => {
  const sent = await send({ hello: 'app' });
  const key = sent.voiceEventSid;
  expect(backend.stats.delivered[key]).toBe(1);
  const request = requests.find((r) => r.headers['idempotency-key'] === key);
  expect(request).toBeDefined();
  const raw = request?.raw ?? Buffer.alloc(0);
  expect(verifyForwardedRequest(raw, request?.headers ?? {}, backend.secret)).toBe(true);
  expect(verifyForwardedRequest(raw, request?.headers ?? {}, `whsec_${Buffer.alloc(32, 1).toString('base64')}`)).toBe(
    false,
  );
  expect(
    verifyForwardedRequest(Buffer.from(raw.toString().replace('app', 'ppa')), request?.headers ?? {}, backend.secret),
  ).toBe(false);
  expect(JSON.parse(raw.toString())).toMatchObject({
    type: 'call.message',
    callSid: leg,
    identity: 'alice',
    sid: key,
    contentType: 'application/json',
    content: { hello: 'app' },
  });
  expect(backend.stats.refused).toBe(0);
  expect((await history()).find((m) => m.sid === key)).toMatchObject({ forwarded: true });
  // The leg's start went to the backend too, keyed <CallSid>:call.started. /call-status forwards it
  // after recording the subscription, which can finish after the subscription exists at Twilio.
  const started = await waitFor(
    async () => backend.stats.events.find((e) => e.key === `${leg}:call.started`),
    "the leg's call.started event",
  );
  expect(started.body).toMatchObject({
    type: 'call.started',
    callSid: leg,
    identity: 'alice',
  });
});

it('answers {"reply": …} back on the SDK phone, once, recorded like /send-message', async () => {
  const sent = await send({ ping: 'p-1' });
  const received = await waitFor(
    async () => (await stack.control.phone('alice')).calls.find((c) => c.callSid === leg)?.received,
    'the reply on the phone',
  ).then((r) => r.filter((m) => (m.content as { pong?: unknown }).pong === 'p-1'));
  expect(received).toHaveLength(1);
  const messages = await history();
  const reply = messages.find((m) => m.direction === 'to-sdk' && m.idempotencyKey === replyKey(sent.voiceEventSid));
  expect(reply?.data).toMatchObject({ pong: 'p-1' });
  // Redelivered, the message is not delivered again, so no second reply is even asked for.
  const stored = messages.find((m) => m.sid === sent.voiceEventSid);
  if (!stored) throw new Error('message not stored');
  expect((await redeliver(stored))?.status).toBe(200);
  expect(backend.stats.delivered[sent.voiceEventSid]).toBe(1);
  const after = (await stack.control.phone('alice')).calls.find((c) => c.callSid === leg)?.received ?? [];
  expect(after.filter((m) => (m.content as { pong?: unknown }).pong === 'p-1')).toHaveLength(1);
});

it('delivers each message once when Twilio redelivers its callbacks, repeatedly and out of order', async () => {
  const sids: string[] = [];
  for (let i = 0; i < 8; i++) sids.push((await send({ batch: 'redeliver', i })).voiceEventSid);
  const stored = (await history()).filter((m) => sids.includes(m.sid ?? ''));
  expect(stored).toHaveLength(8);
  // Every callback twice more, newest first: a redelivery lands after its message was handled.
  const replays = [...stored, ...stored].reverse();
  for (const message of replays) expect((await redeliver(message))?.status).toBe(200);
  for (const sid of sids) expect(backend.stats.delivered[sid]).toBe(1);
  expect((await history()).filter((m) => sids.includes(m.sid ?? '')).every((m) => m.forwarded === true)).toBe(true);
});

it('loses and doubles nothing when the backend fails 30% of first attempts and stalls some past the timeout', async () => {
  Object.assign(backend.knobs, { failFirstRate: 0.3, slowFirstRate: 0.2, slowMs: 4500 });
  try {
    const sent = await Promise.all(Array.from({ length: 20 }, (_, i) => send({ batch: 'faults', i })));
    await stack.control.idle();
    const sids = sent.map((s) => s.voiceEventSid);
    const retried = sids.filter((sid) => (backend.stats.attempts[sid] ?? 0) > 1);
    // The knobs drew some failures (stable per key): the retry path was exercised, not skipped.
    expect(retried.length).toBeGreaterThanOrEqual(3);
    for (const sid of sids) expect(backend.stats.delivered[sid]).toBe(1);
    const stored = (await history()).filter((m) => sids.includes(m.sid ?? ''));
    expect(stored).toHaveLength(20);
    expect(stored.filter((m) => m.forwarded !== true)).toEqual([]);
    // Twilio saw the failures as 503s and retried them (the fragment's rp=5xx).
    const answers = stack.sandbox.webhooks.log.filter((w) => w.kind === 'message' && w.callSid === leg);
    expect(answers.filter((w) => w.status === 503).length).toBeGreaterThanOrEqual(retried.length);
  } finally {
    Object.assign(backend.knobs, { failFirstRate: 0, slowFirstRate: 0, slowMs: 0 });
  }
}, 45_000);

it('leaves a message it could never deliver visible as forwarded: false, and delivers it on a later redelivery', async () => {
  Object.assign(backend.knobs, { failRate: 1 });
  let sid: string;
  try {
    sid = (await send({ batch: 'dead-backend' })).voiceEventSid;
    await stack.control.idle();
  } finally {
    Object.assign(backend.knobs, { failRate: 0 });
  }
  expect(backend.stats.delivered[sid]).toBeUndefined();
  expect(backend.stats.attempts[sid]).toBe(4); // the first attempt and the fragment's rc=3 retries
  const stored = (await history()).find((m) => m.sid === sid);
  expect(stored).toMatchObject({ forwarded: false });
  if (!stored) throw new Error('message not stored');
  expect((await redeliver(stored))?.status).toBe(200);
  expect(backend.stats.delivered[sid]).toBe(1);
  expect((await history()).find((m) => m.sid === sid)).toMatchObject({ forwarded: true });
}, 30_000);

it('concurrent copies of a callback (no delay between them): none lost, every delivery of a message under its one key', async () => {
  // Copies that arrive together both find the message unstored and both deliver: the floor (one
  // Sync write, no claim before the delivery) cannot tell them apart. The Idempotency-Key can.
  const sids = await stack.withKnobs(
    { webhooks: { duplicateRate: 1, maxCopies: 2, maxDelayMs: 0, duplicateKinds: ['message'] } },
    async () => {
      const sent = await Promise.all(Array.from({ length: 10 }, (_, i) => send({ batch: 'concurrent', i })));
      await stack.control.idle();
      return sent.map((s) => s.voiceEventSid);
    },
  );
  const twice = sids.filter((sid) => (backend.stats.delivered[sid] ?? 0) > 1);
  console.log(`concurrent copies: ${twice.length} of ${sids.length} messages delivered twice (same Idempotency-Key)`);
  for (const sid of sids) {
    expect(backend.stats.delivered[sid]).toBeGreaterThanOrEqual(1);
    expect(backend.stats.delivered[sid]).toBeLessThanOrEqual(2);
    const bodies = new Set(requests.filter((r) => r.headers['idempotency-key'] === sid).map((r) => r.raw.toString()));
    expect(bodies.size).toBe(1);
    // The app, deduping on the key, acts once.
    expect(backend.stats.events.filter((e) => e.key === sid)).toHaveLength(1);
  }
  const stored = (await history()).filter((m) => sids.includes(m.sid ?? ''));
  expect(stored).toHaveLength(10);
  expect(stored.every((m) => m.forwarded === true)).toBe(true);
});

it('message schemas both ways: an SDK message that violates them is stored and forwarded flagged; /send-message refuses one', async () => {
  const bad = await send({ type: 'chat', text: 42 });
  const good = await send({ type: 'chat', text: 'hello' });
  const messages = await history();
  expect(messages.find((m) => m.sid === bad.voiceEventSid)).toMatchObject({
    valid: false,
    validationError: '/text: must be string (type)',
    forwarded: true,
  });
  const ok = messages.find((m) => m.sid === good.voiceEventSid);
  expect(ok?.valid).toBeUndefined();
  const forwarded = backend.stats.events.find((e) => e.key === bad.voiceEventSid)?.body;
  expect(forwarded).toMatchObject({
    valid: false,
    validationError: '/text: must be string (type)',
    content: { text: 42 },
  });
  expect(backend.stats.events.find((e) => e.key === good.voiceEventSid)?.body.valid).toBeUndefined();

  const refused = await sendMessage(stack.fn, { callSid: leg, content: { type: 'order.update', orderId: 'A-1' } });
  expect(refused.status).toBe(400);
  expect(refused.body).toMatchObject({ code: 'content-schema-invalid', path: '', rule: 'required' });
  const accepted = await sendMessage(stack.fn, {
    callSid: leg,
    content: { type: 'order.update', orderId: 'ORD-1', status: 'paid' },
  });
  expect(accepted.status).toBe(201);
});

it('forwards call.ended when the leg ends', async () => {
  await stack.control.hangup('alice', leg);
  const ended = await waitFor(
    () => backend.stats.events.find((e) => e.key === `${leg}:call.ended`),
    'call.ended at the backend',
    15_000,
  );
  expect(ended.body).toMatchObject({ type: 'call.ended', callSid: leg, identity: 'alice', status: 'completed' });
});
