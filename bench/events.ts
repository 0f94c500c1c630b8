// Table 2: Twilio REST requests per event, counted by the sandbox. Each event is played alone (the
// stack idle before and after), so every request between two events belongs to the one in between.
// Then whole calls through the sandbox's call engine check that the per-event counts add up.
import { fakeSid } from './http';
import { median, percentile } from './stats';
import {
  callMessagesRequest,
  childLeg,
  heldSdkLegs,
  messageCallback,
  restRoute,
  sendMessageRequest,
  statusCallback,
  tokenRequest,
  voiceFromSdk,
  voiceInbound,
  type BenchStack,
  type StatusCallbackLeg,
} from './stack';

export interface EventRow {
  event: string;
  samples: number;
  /** Requests per event: min-max over the samples, and the most common breakdown. */
  min: number;
  max: number;
  /** Requests in the most common breakdown. */
  typical: number;
  breakdown: string;
  floor: string;
  floorValue?: number;
}

export interface CallKindRow {
  kind: string;
  calls: number;
  sdkLegs: number;
  messagesEachWay: number;
  statusCallbacksPerCall: number;
  restPerCall: number;
  expectedPerCall: number;
}

const settle = () => new Promise((r) => setTimeout(r, 5));

/** Runs `event` and returns the REST requests the sandbox served for it. */
async function count(
  b: BenchStack,
  event: () => Promise<{ status: number; text?: string }>,
  expected: number[],
): Promise<typeof b.sandbox.requests> {
  await settle();
  const before = b.sandbox.requests.length;
  const res = await event();
  if (!expected.includes(res.status)) throw new Error(`event answered ${res.status}: ${res.text?.slice(0, 300)}`);
  await settle();
  return b.sandbox.requests.slice(before);
}

const shortRoute = (r: { method: string; product: string; route: string; status: number }) => {
  const route = restRoute(r.route)
    .replace('/2010-04-01/Accounts/{Sid}', '')
    .replace('/v1/Services/default', '')
    .replace('/Maps/cme.call.{Sid}', '/Map')
    .replace(/\/Items\/state$/, '/Items/state');
  return `${r.method} ${r.product}${route}${r.status >= 400 ? ` (${r.status})` : ''}`;
};

function summarise(runs: { method: string; product: string; route: string; status: number }[][]): {
  min: number;
  max: number;
  typical: number;
  breakdown: string;
} {
  const counts = runs.map((r) => r.length);
  const byShape = new Map<string, number>();
  const sizeOf = new Map<string, number>();
  for (const run of runs) {
    const shape = Object.entries(
      run.reduce<Record<string, number>>((acc, r) => ((acc[shortRoute(r)] = (acc[shortRoute(r)] ?? 0) + 1), acc), {}),
    )
      .map(([k, v]) => (v > 1 ? `${v}× ${k}` : k))
      .join(' + ');
    byShape.set(shape, (byShape.get(shape) ?? 0) + 1);
    sizeOf.set(shape, run.length);
  }
  const common = [...byShape].sort((a, b) => b[1] - a[1])[0][0];
  return {
    min: Math.min(...counts),
    max: Math.max(...counts),
    typical: sizeOf.get(common) ?? NaN,
    breakdown: common || 'none',
  };
}

export async function countEvents(b: BenchStack, samples: number): Promise<EventRow[]> {
  const rows: EventRow[] = [];
  const add = (event: string, runs: (typeof b.sandbox.requests)[], floor: string, floorValue?: number) =>
    rows.push({ event, samples: runs.length, ...summarise(runs), floor, floorValue });

  // One SDK leg per sample (calls to our number: the SDK's leg is the <Dial> child).
  const legs = await heldSdkLegs(b, 'count-callee', samples);
  const cb = legs.map((sid) => childLeg(sid, fakeSid('CA'), 'count-callee'));
  // Client → client: both legs are SDK legs, each its own held call.
  const pairs = await heldSdkLegs(b, 'count-pair', samples * 2);
  const both: StatusCallbackLeg[] = Array.from({ length: samples }, (_, i) => ({
    callSid: pairs[2 * i + 1],
    parentCallSid: pairs[2 * i],
    from: 'client:count-pair',
    to: 'client:count-pair',
    sdk: { parent: 'count-pair', child: 'count-pair' },
  }));

  const run = async (fn: (i: number) => Promise<{ status: number; text?: string }>, expected = [200]) => {
    const runs: (typeof b.sandbox.requests)[] = [];
    for (let i = 0; i < samples; i++) runs.push(await count(b, () => fn(i), expected));
    return runs;
  };

  add('/voice: phone-network call to our number', await run(() => voiceInbound(b, fakeSid('CA'))), '0', 0);
  add(
    '/voice: SDK call to a number',
    await run(() => voiceFromSdk(b, fakeSid('CA'), 'count-caller', '+15550004444')),
    '0',
    0,
  );
  add(
    '/voice: SDK call to a client',
    await run(() => voiceFromSdk(b, fakeSid('CA'), 'count-caller', 'client:count-callee')),
    '0',
    0,
  );
  add(
    '/call-status initiated (1 SDK leg)',
    await run((i) => statusCallback(b, cb[i], 'initiated')),
    '≤ 1 with ringing (the Map, once)',
  );
  add('/call-status ringing (1 SDK leg)', await run((i) => statusCallback(b, cb[i], 'ringing')), '≤ 1 with initiated');
  add(
    '/call-status in-progress (1 SDK leg)',
    await run((i) => statusCallback(b, cb[i], 'in-progress')),
    '1 subscribe + 1 Sync write = 2',
    2,
  );
  add(
    '/call-status in-progress, repeated delivery',
    await run((i) => statusCallback(b, cb[i], 'in-progress')),
    '– (idempotent repeat)',
  );
  for (const leg of both) {
    await statusCallback(b, leg, 'initiated');
    await statusCallback(b, leg, 'ringing');
  }
  add(
    '/call-status in-progress (client → client, 2 SDK legs)',
    await run((i) => statusCallback(b, both[i], 'in-progress')),
    '2 subscribes + 2 Sync writes (a Map per leg) = 4',
    4,
  );
  const sids = legs.map(() => fakeSid('KX'));
  add(
    '/message-callback',
    await run((i) => messageCallback(b, legs[i], sids[i], 0, '{"type":"note","text":"hi"}')),
    '1 Sync write',
    1,
  );
  add(
    '/message-callback, repeated delivery (same Sid)',
    await run((i) => messageCallback(b, legs[i], sids[i], 0, '{"type":"note","text":"hi"}')),
    '– (dedupe)',
  );
  add(
    '/send-message by callSid',
    await run((i) => sendMessageRequest(b, { callSid: legs[i], content: '{"type":"note","text":"hi"}' }), [201]),
    '1 message + 1 Sync write = 2',
    2,
  );
  // By identity: the identity must have exactly one active call: one held, subscribed leg each.
  for (let i = 0; i < samples; i++) {
    const identity = `count-solo-${i}`;
    const [sid] = await heldSdkLegs(b, identity, 1);
    const leg = childLeg(sid, fakeSid('CA'), identity);
    for (const status of ['initiated', 'ringing', 'in-progress'] as const) await statusCallback(b, leg, status);
  }
  const solo = (i: number) =>
    sendMessageRequest(b, { identity: `count-solo-${i}`, content: '{"type":"note","text":"hi"}' });
  add('/send-message by identity', await run(solo, [201]), '1 message + 1 Sync write (+ finding the call)', 2);
  add('/call-messages', await run((i) => callMessagesRequest(b, legs[i])), '1 Sync read', 1);
  add('/call-status completed (1 SDK leg)', await run((i) => statusCallback(b, cb[i], 'completed')), '1 Sync write', 1);
  add('/token', await run((i) => tokenRequest(b, `agent-${i}`)), '0', 0);
  return rows;
}

export interface QuietCalls {
  kinds: CallKindRow[];
  answerToSubscription: number[];
}

/**
 * Whole calls through the sandbox's call engine, one at a time, `messages` each way per SDK leg:
 * the REST requests per call should equal the sum of the per-event counts.
 */
export async function wholeCalls(
  b: BenchStack,
  callsPerKind: number,
  messages: number,
  perEvent: Map<string, number>,
): Promise<QuietCalls> {
  const { engine } = b.sandbox;
  await b.control.registerPhone('alice', { autoAnswer: true });
  await b.control.registerPhone('whole-caller');
  await b.control.registerPhone('whole-callee', { autoAnswer: true });
  const ev = (name: string) => perEvent.get(name) ?? NaN;
  const kinds = [
    {
      kind: 'phone → SDK (our number)',
      legs: 1,
      expected: ev('initiated') + ev('ringing') + ev('in-progress') + ev('completed'),
    },
    {
      kind: 'SDK → phone number',
      legs: 1,
      expected: ev('initiated') + ev('ringing') + ev('in-progress') + ev('completed'),
    },
    {
      kind: 'SDK → SDK (client → client)',
      legs: 2,
      expected: 2 * (ev('initiated') + ev('ringing') + ev('completed')) + ev('in-progress-both'),
    },
  ];
  const rows: CallKindRow[] = [];
  const answerToSubscription: number[] = [];
  for (const [k, spec] of kinds.entries()) {
    let rest = 0;
    let status = 0;
    for (let c = 0; c < callsPerKind; c++) {
      await b.control.idle();
      const before = b.sandbox.requests.length;
      const webhooksBefore = b.sandbox.webhooks.log.length;
      const number = `+1555${String(3_000_000 + k * 1000 + c).padStart(7, '0')}`;
      const parent =
        k === 0
          ? (await b.control.callIn(number)).callSid
          : (await b.control.placeCall('whole-caller', k === 1 ? number : 'client:whole-callee')).callSid;
      const dialed = await waitUntil(() => engine.calls.get(parent)?.dialedLeg);
      const sdkLegs =
        k === 0
          ? [[dialed, 'alice']]
          : k === 1
            ? [[parent, 'whole-caller']]
            : [
                [parent, 'whole-caller'],
                [dialed, 'whole-callee'],
              ];
      for (const [leg] of sdkLegs) {
        const sub = await waitUntil(() => engine.calls.get(leg)?.subscriptions[0]);
        const answeredAt = engine.calls.get(dialed)?.startTime;
        if (answeredAt !== undefined) answerToSubscription.push(sub.dateCreated - answeredAt);
      }
      await b.control.idle();
      for (const [leg, identity] of sdkLegs) {
        for (let m = 0; m < messages; m++) {
          await b.control.sendFromPhone(identity, leg, { m });
          const sent = await sendMessageRequest(b, { callSid: leg, content: JSON.stringify({ m }) });
          if (sent.status !== 201) throw new Error(`/send-message answered ${sent.status}`);
        }
      }
      await b.control.hangupCall(parent);
      await b.control.idle();
      await settle();
      rest += b.sandbox.requests.length - before;
      status += b.sandbox.webhooks.log.slice(webhooksBefore).filter((w) => w.kind === 'status').length;
    }
    rows.push({
      kind: spec.kind,
      calls: callsPerKind,
      sdkLegs: spec.legs,
      messagesEachWay: messages,
      statusCallbacksPerCall: status / callsPerKind,
      restPerCall: rest / callsPerKind,
      expectedPerCall: spec.expected + spec.legs * messages * (ev('message') + ev('send')),
    });
  }
  return { kinds: rows, answerToSubscription };
}

async function waitUntil<T>(check: () => T | undefined): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting for the call engine');
    await new Promise((r) => setTimeout(r, 2));
  }
}

export const summariseMs = (v: number[]) => ({ n: v.length, p50: median(v), p99: percentile(v, 99) });
