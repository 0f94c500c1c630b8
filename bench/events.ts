// Table 2: Twilio REST requests per event, counted by the sandbox. Each event is played alone (the
// stack idle before and after), so every request between two events belongs to the one in between.
// Then whole calls through the sandbox's call engine check that the per-event counts add up.
import { nth } from './stats';
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
import { randomCallSid, randomMessageSid } from '../testing/sids';
import { sandboxStore } from '../testing/fill';
import { CONSOLE_INDEX_SHARDS, consoleIndexMapOf } from '../lib/shared/sync-names';

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
  floorValue?: number | undefined;
}

export interface CallKindRow {
  kind: string;
  calls: number;
  sdkLegs: number;
  messagesEachWay: number;
  statusCallbacksPerCall: number;
  restPerCall: number;
  expectedPerCall: number;
  /** Requests answered 404, 409 or 412 (a missing Map, an existing key, a lost If-Match race). */
  conflictsPerCall: number;
}

export const settle = () => new Promise((r) => setTimeout(r, 5));

/** Runs `event` and returns the REST requests the sandbox served for it. */
/** Runs `event` and returns the requests the sandbox served for it (it must answer `expected`). */
export async function count(
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

/** A request's route with every leg's, identity's and room's Map and item keys folded, so runs compare. */
const shortRoute = (r: { method: string; product: string; route: string; status: number }) => {
  const route = restRoute(r.route)
    .replace('/2010-04-01/Accounts/{Sid}', '')
    .replace('/v1/Services/default', '')
    .replace('/Maps/cme.call.{Sid}', '/Map')
    .replace('/Maps/cme.identity.{identity}', '/identity Map')
    .replace(/\/Maps\/cme\.calls\.\d+/, '/Maps/cme.calls.{n}')
    .replace(/\/Maps\/cme\.conf\.[a-z0-9-]+/, '/room Map')
    .replace(/\/Conferences\/[^/]+/, '/Conferences/{room}')
    // Item keys by kind (lib/store/call-store.ts, conference-store.ts): from-sdk.<seq>.<Sid>,
    // to-sdk-r.<inverted ms>.<hash>, ~send.<hash>; a room's ~bcast.<hash>, log.…, p.<CallSid>.
    .replace(/\/Items\/(from-sdk|to-sdk-r|to-sdk|~send|~bcast|log|p)\..*$/, '/Items/$1.…');
  return `${r.method} ${r.product}${route}${r.status >= 400 ? ` (${r.status})` : ''}`;
};

/**
 * The most common breakdown of the runs: its total (`typical`), its REST and Sync counts, and the
 * spread of every run's total.
 */
export function summarise(runs: { method: string; product: string; route: string; status: number }[][]): {
  min: number;
  max: number;
  typical: number;
  rest: number;
  sync: number;
  breakdown: string;
} {
  const byShape = new Map<string, { n: number; run: (typeof runs)[number] }>();
  for (const run of runs) {
    const shape = Object.entries(
      run.reduce<Record<string, number>>((acc, r) => ((acc[shortRoute(r)] = (acc[shortRoute(r)] ?? 0) + 1), acc), {}),
    )
      .map(([k, v]) => (v > 1 ? `${v}× ${k}` : k))
      .join(' + ');
    byShape.set(shape, { n: (byShape.get(shape)?.n ?? 0) + 1, run });
  }
  const top = [...byShape].sort((a, b) => b[1].n - a[1].n)[0];
  if (top === undefined) throw new Error('summarise needs at least one run');
  const [breakdown, { run }] = top;
  const counts = runs.map((r) => r.length);
  return {
    min: Math.min(...counts),
    max: Math.max(...counts),
    typical: run.length,
    rest: run.filter((r) => r.product === 'api').length,
    sync: run.filter((r) => r.product === 'sync').length,
    breakdown: breakdown || 'none',
  };
}

/**
 * Makes the console index's shards (lib/shared/sync-names.ts), each made once by the first leg
 * that hashes to it, so a count sees an account that has taken calls: it has them all.
 */
export async function warmConsoleIndex(b: BenchStack): Promise<void> {
  const store = sandboxStore(b.sandbox);
  const madeShards = new Set<string>();
  while (madeShards.size < CONSOLE_INDEX_SHARDS) {
    const sid = randomCallSid();
    await store.indexLeg(
      { callSid: sid, role: 'child', identity: 'count-warm', peer: '+15550004444', parentCallSid: randomCallSid() },
      new Date(),
    );
    await store.unindexLeg(sid);
    madeShards.add(consoleIndexMapOf(sid));
  }
}

/** A <Dial> callback whose parent leg is an SDK leg (the SDK's call out to a number). */
const parentLeg = (parentCallSid: string, identity: string): StatusCallbackLeg => ({
  callSid: randomCallSid(),
  parentCallSid,
  from: `client:${identity}`,
  to: '+15550004444',
  sdk: { parent: identity },
});

const NOTE = '{"type":"note","text":"hi"}';

/** The events Table 2b adds up, by the name they have in Table 2. */
export const E = {
  childInitiated: 'into the SDK (child leg): initiated',
  childRinging: 'into the SDK (child leg): ringing (subscribes)',
  childInProgress: 'into the SDK (child leg): in-progress',
  childInProgressAgain: 'into the SDK (child leg): in-progress, delivered again',
  childInProgressFirst: 'into the SDK (child leg): in-progress first (no earlier callback)',
  childCompleted: 'into the SDK (child leg): completed',
  parentInitiated: 'out of the SDK (parent leg): initiated (subscribes)',
  parentRinging: 'out of the SDK (parent leg): ringing',
  parentInProgress: 'out of the SDK (parent leg): in-progress',
  parentCompleted: 'out of the SDK (parent leg): completed',
  bothInitiated: 'client → client (2 SDK legs): initiated',
  bothRinging: 'client → client (2 SDK legs): ringing',
  bothInProgress: 'client → client (2 SDK legs): in-progress',
  bothCompleted: 'client → client (2 SDK legs): completed',
  message: '/message-callback',
  send: '/send-message by callSid',
} as const;

/**
 * Each event alone, `samples` times, on live SDK legs; `design` is what lib/store/call-store.ts and the
 * routes say the event costs (the header of lib/store/call-store.ts, commit 25744a3), checked, not assumed.
 */
export async function countEvents(b: BenchStack, samples: number): Promise<EventRow[]> {
  const rows: EventRow[] = [];
  const add = (event: string, runs: (typeof b.sandbox.requests)[], design: string, designValue?: number) =>
    rows.push({ event, samples: runs.length, ...summarise(runs), floor: design, floorValue: designValue });
  const run = async (fn: (i: number) => Promise<{ status: number; text?: string }>, expected = [200]) => {
    const runs: (typeof b.sandbox.requests)[] = [];
    for (let i = 0; i < samples; i++) runs.push(await count(b, () => fn(i), expected));
    return runs;
  };

  // Calls into the SDK: its leg is the <Dial> child (one held SDK leg per sample).
  const legs = await heldSdkLegs(b, 'count-callee', samples);
  const child = legs.map((sid) => childLeg(sid, randomCallSid(), 'count-callee'));
  // Calls out of the SDK: its leg is the parent, the callback's CallSid the number's leg.
  const parents = (await heldSdkLegs(b, 'count-caller', samples)).map((sid) => parentLeg(sid, 'count-caller'));
  // Client → client: both legs are SDK legs in the same callback.
  const pairs = await heldSdkLegs(b, 'count-pair', samples * 2);
  const both: StatusCallbackLeg[] = Array.from({ length: samples }, (_, i) => ({
    callSid: nth(pairs, 2 * i + 1),
    parentCallSid: nth(pairs, 2 * i),
    from: 'client:count-pair',
    to: 'client:count-pair',
    sdk: { parent: 'count-pair', child: 'count-pair' },
  }));
  // A call into the SDK whose in-progress callback comes first (Twilio may reorder them).
  const late = (await heldSdkLegs(b, 'count-late', samples)).map((sid) => childLeg(sid, randomCallSid(), 'count-late'));
  // Each identity's own Map (lib/store/keys.ts) is made by its first leg and kept while it has calls:
  // one leg of each identity first, not counted, so the rows below count a leg of a known identity.
  // What the first leg of an identity costs more is its own row.
  for (const identity of ['count-callee', 'count-caller', 'count-pair', 'count-late']) {
    const warm = childLeg(nth(await heldSdkLegs(b, identity, 1), 0), randomCallSid(), identity);
    for (const status of ['ringing', 'completed'] as const) await statusCallback(b, warm, status);
  }
  // So are the console index's shards: an account that has taken calls has them all.
  await warmConsoleIndex(b);

  add('/voice: phone-network call to our number', await run(() => voiceInbound(b, randomCallSid())), '0', 0);
  add(
    '/voice: SDK call to a number',
    await run(() => voiceFromSdk(b, randomCallSid(), 'count-caller', '+15550004444')),
    '0',
    0,
  );
  add(
    '/voice: SDK call to a client',
    await run(() => voiceFromSdk(b, randomCallSid(), 'count-caller', 'client:count-callee')),
    '0',
    0,
  );

  add(E.childInitiated, await run((i) => statusCallback(b, nth(child, i), 'initiated')), 'the Map = 1', 1);
  add(
    E.childRinging,
    await run((i) => statusCallback(b, nth(child, i), 'ringing')),
    'claim + subscribe + record + the identity Map item + the console index item = 5',
    5,
  );
  add(
    E.childInProgress,
    await run((i) => statusCallback(b, nth(child, i), 'in-progress')),
    'read + update the state = 2',
    2,
  );
  add(E.childInProgressAgain, await run((i) => statusCallback(b, nth(child, i), 'in-progress')), 'read = 1', 1);
  add(
    E.childInProgressFirst,
    await run((i) => statusCallback(b, nth(late, i), 'in-progress')),
    'read (404) + claim (404) + the Map + claim + subscribe + record + the identity Map item + the console index item = 8',
    8,
  );
  // A fresh identity per sample: its first leg also makes its Map (the item's 404, the Map, the item).
  const firsts: StatusCallbackLeg[] = [];
  for (let i = 0; i < samples; i++) {
    const identity = `count-first-${i}`;
    const first = childLeg(nth(await heldSdkLegs(b, identity, 1), 0), randomCallSid(), identity);
    await statusCallback(b, first, 'initiated'); // the leg's own Map, as on every call
    firsts.push(first);
  }
  add(
    "into the SDK (child leg): ringing, the identity's first leg",
    await run((i) => statusCallback(b, nth(firsts, i), 'ringing')),
    'claim + subscribe + record + the identity Map (item 404, Map, item) + the console index item = 7',
    7,
  );

  add(
    E.parentInitiated,
    await run((i) => statusCallback(b, nth(parents, i), 'initiated')),
    'the Map + claim + subscribe + record + the identity Map item + the console index item = 6',
    6,
  );
  add(
    E.parentRinging,
    await run((i) => statusCallback(b, nth(parents, i), 'ringing')),
    'claim (409: initiated made the state) + read + update = 3',
    3,
  );
  add(
    E.parentInProgress,
    await run((i) => statusCallback(b, nth(parents, i), 'in-progress')),
    'read + update the state = 2',
    2,
  );

  add(
    E.bothInitiated,
    await run((i) => statusCallback(b, nth(both, i), 'initiated')),
    "parent 6 (as above) + the child's Map 1 = 7",
    7,
  );
  add(
    E.bothRinging,
    await run((i) => statusCallback(b, nth(both, i), 'ringing')),
    'parent 3 (as above) + child 5 = 8',
    8,
  );
  add(E.bothInProgress, await run((i) => statusCallback(b, nth(both, i), 'in-progress')), '2 + 2 = 4', 4);

  const sids = legs.map(() => randomMessageSid());
  add(E.message, await run((i) => messageCallback(b, nth(legs, i), nth(sids, i), 1, NOTE)), '1 Sync write', 1);
  add(
    '/message-callback, delivered again (same Sid)',
    await run((i) => messageCallback(b, nth(legs, i), nth(sids, i), 1, NOTE)),
    '1 (409: stored already)',
    1,
  );
  const key = (i: number) => `count-send-${nth(legs, i)}`;
  add(
    E.send,
    await run((i) => sendMessageRequest(b, { callSid: nth(legs, i), content: NOTE, idempotencyKey: key(i) }), [201]),
    'claim + the leg state + send + record = 4',
    4,
  );
  add(
    '/send-message again, same idempotencyKey',
    await run((i) => sendMessageRequest(b, { callSid: nth(legs, i), content: NOTE, idempotencyKey: key(i) })),
    'claim (409) + the leg state + 2 reads, no send = 4',
    4,
  );
  // By identity: the identity must have exactly one active call: one held, subscribed leg each.
  for (let i = 0; i < samples; i++) {
    const identity = `count-solo-${i}`;
    const sid = nth(await heldSdkLegs(b, identity, 1), 0);
    const leg = childLeg(sid, randomCallSid(), identity);
    for (const status of ['initiated', 'ringing', 'in-progress'] as const) await statusCallback(b, leg, status);
  }
  const solo = (i: number) => sendMessageRequest(b, { identity: `count-solo-${i}`, content: NOTE });
  add(
    '/send-message by identity',
    await run(solo, [201]),
    "the identity Map + the leg's state (never the lagging Calls API) + 3 = 5",
    5,
  );
  add('/call-messages (a page)', await run((i) => callMessagesRequest(b, nth(legs, i))), '2 range reads', 2);
  const lastCursor = new Map<number, string>();
  for (let i = 0; i < samples; i++) {
    const page = await callMessagesRequest(b, nth(legs, i));
    lastCursor.set(i, (JSON.parse(page.text) as { messages: { cursor: string }[] }).messages.at(-1)?.cursor ?? '');
  }
  add(
    '/call-messages after= the last message',
    await run((i) => callMessagesRequest(b, nth(legs, i), { after: lastCursor.get(i)! })),
    '1 range read (from-SDK cursor → state → to-SDK cursor)',
    1,
  );
  add(
    E.childCompleted,
    await run((i) => statusCallback(b, nth(child, i), 'completed')),
    'the state + the identity Map and console index items removed = 3',
    3,
  );
  add(
    E.parentCompleted,
    await run((i) => statusCallback(b, nth(parents, i), 'completed')),
    'the state + the identity Map and console index items removed = 3',
    3,
  );
  add(E.bothCompleted, await run((i) => statusCallback(b, nth(both, i), 'completed')), '3 + 3 = 6', 6);
  add('/token', await run((i) => tokenRequest(b, `agent-${i}`)), '0', 0);
  return rows;
}

/**
 * Whole calls through the sandbox's call engine, one at a time, `messages` each way per SDK leg
 * (after the leg is subscribed): the REST requests per call should equal the sum of Table 2's counts.
 */
export async function wholeCalls(
  b: BenchStack,
  callsPerKind: number,
  messages: number,
  events: EventRow[],
): Promise<CallKindRow[]> {
  await b.control.registerPhone('alice', { autoAnswer: true });
  await b.control.registerPhone('whole-caller');
  await b.control.registerPhone('whole-callee', { autoAnswer: true });
  const ev = (name: string) => events.find((e) => e.event === name)?.typical ?? NaN;
  const perMessage = ev(E.message) + ev(E.send);
  const kinds = [
    {
      kind: 'phone → SDK (our number)',
      legs: 1,
      expected: ev(E.childInitiated) + ev(E.childRinging) + ev(E.childInProgress) + ev(E.childCompleted),
    },
    {
      kind: 'SDK → phone number',
      legs: 1,
      expected: ev(E.parentInitiated) + ev(E.parentRinging) + ev(E.parentInProgress) + ev(E.parentCompleted),
    },
    {
      kind: 'SDK → SDK (client → client)',
      legs: 2,
      expected: ev(E.bothInitiated) + ev(E.bothRinging) + ev(E.bothInProgress) + ev(E.bothCompleted),
    },
  ];
  const rows: CallKindRow[] = [];
  for (const [k, spec] of kinds.entries()) {
    // One call of the kind first, not counted: its identities' own Maps are made by their first legs
    // (Table 2 counts what that costs more), so every call counted is a call of known identities.
    await b.control.idle();
    await oneCall(b, k, `+1555${String(3_900_000 + k).padStart(7, '0')}`, messages);
    let rest = 0;
    let status = 0;
    let conflicts = 0;
    for (let c = 0; c < callsPerKind; c++) {
      await b.control.idle();
      const before = b.sandbox.requests.length;
      const webhooksBefore = b.sandbox.webhooks.log.length;
      await oneCall(b, k, `+1555${String(3_000_000 + k * 1000 + c).padStart(7, '0')}`, messages);
      rest += b.sandbox.requests.length - before;
      conflicts += b.sandbox.requests.slice(before).filter((q) => [404, 409, 412].includes(q.status)).length;
      status += b.sandbox.webhooks.log.slice(webhooksBefore).filter((w) => w.kind === 'status').length;
    }
    rows.push({
      kind: spec.kind,
      calls: callsPerKind,
      sdkLegs: spec.legs,
      messagesEachWay: messages,
      statusCallbacksPerCall: status / callsPerKind,
      restPerCall: rest / callsPerKind,
      expectedPerCall: spec.expected + spec.legs * messages * perMessage,
      conflictsPerCall: conflicts / callsPerKind,
    });
  }
  return rows;
}

/**
 * One whole call of kind `k` (0: phone → SDK, 1: SDK → number, 2: SDK → SDK) to or from `number`,
 * `messages` each way per SDK leg once subscribed, then hung up; returns once every webhook is done.
 */
async function oneCall(b: BenchStack, k: number, number: string, messages: number): Promise<void> {
  const { engine } = b.sandbox;
  const parent =
    k === 0
      ? (await b.control.callIn(number)).callSid
      : (await b.control.placeCall('whole-caller', k === 1 ? number : 'client:whole-callee')).callSid;
  const dialed = await waitUntil(() => engine.calls.get(parent)?.dialedLeg);
  const sdkLegs: [leg: string, identity: string][] =
    k === 0
      ? [[dialed, 'alice']]
      : k === 1
        ? [[parent, 'whole-caller']]
        : [
            [parent, 'whole-caller'],
            [dialed, 'whole-callee'],
          ];
  for (const [leg] of sdkLegs) await waitUntil(() => engine.calls.get(leg)?.subscriptions[0]);
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
