// The trust figures of conference mode (docs/CONFERENCES.md §3.9): TRUST_CONFERENCES rooms per
// IdempotencyKey variant, every conference and call status callback delivered up to 4 times and
// the rooms' events reordered. Each SDK participant must be subscribed once, every message from an
// SDK stored once under its leg and once in its room, every broadcast delivered once per leg, and
// no leg subscribed or reopened after its room ended. Counts are asserted, never speed. The three
// bugs this suite found in lib (B1–B3, below) are fixed, and their rows must hold; the one thing
// shown but not failed is Twilio's own residual under `ignored` (a reused key making a second one).
import { callMessages, signedPost } from '../../client/src';
import type { BroadcastAnswer, ConferenceMessagesPage } from '../../lib/shared/api-types';
import { roomOf } from '../../lib/calls/conference';
import { legMapName } from '../../lib/store/call-store';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { IDEMPOTENCY_VARIANTS } from '../../sandbox/knobs';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';
import { Figures } from './figures';

/** Rooms per IdempotencyKey variant, half phone → agent, half SDK → client. */
const ROOMS = Number(process.env.TRUST_CONFERENCES ?? 60);
/** Rooms played at once. */
const BATCH = 15;
/** Between the starts of two rooms of a batch. */
const STAGGER_MS = 250;
/** Messages each SDK participant sends. */
const SDK_MESSAGES = 2;
/** The shared budget of every wait of one variant's rooms (a loaded 2-core machine is slow). */
const BUDGET_MS = 360_000;
/** The longest one room's wait for its participants or their subscriptions may take. */
const ROOM_WAIT_MS = 60_000;
/** How often a broadcast answered 503 is tried again with the same key before the test gives up. */
const BROADCAST_ATTEMPTS = 10;

const figures = new Figures();
const stack = useTestStack({ env: { CONFERENCE_MODE: 'always' }, captureOutput: true });
const ctl = () => stack.control;

afterAll(() => {
  figures.report(
    `${ROOMS} rooms per variant, batches of ${BATCH} started ${STAGGER_MS} ms apart`,
    'conference-trust-figures.md',
  );
  if (process.env.TRUST_DUMP_OUTPUT) process.stdout.write(stack.output.join('').slice(-20_000));
});

interface Room {
  kind: 'phone → agent' | 'SDK → client';
  callerSid: string;
  room: string;
  /** The SDK participants' legs and whose phone each is. */
  sdkLegs: { callSid: string; identity: string }[];
  /** What each SDK leg sent (JSON text), in order. */
  sent: Map<string, string[]>;
  broadcast: string;
  broadcastKey: string;
  /** The legs the broadcast's answer says it reached. */
  broadcastLegs: string[];
  /** Broadcast attempts answered 503 (retried with the same key). */
  broadcastRetries: number;
  /** Known bug B2: the SDK caller's subscription claim stuck, so the room was only ended. */
  claimStuck: boolean;
}

/** Why a room's legs are not as expected: their callbacks and the function log lines naming them. */
function roomReport(r: Room): string {
  const sids = [...new Set([r.callerSid, ...r.sdkLegs.map((l) => l.callSid)])];
  const lines = [`${r.kind} ${r.room}: legs ${sids.join(', ')}`];
  for (const w of stack.sandbox.webhooks.log)
    if (w.callSid !== undefined && sids.includes(w.callSid))
      lines.push(
        `  ${w.at} ${new URL(w.url).pathname} ${w.callStatus ?? ''} → ${w.status ?? 'no answer'} (attempt ${w.attempt})`,
      );
  for (const out of stack.output.join('').split('\n'))
    if (sids.some((s) => out.includes(s)) || out.includes(r.room)) lines.push(`  log: ${out.slice(0, 300)}`);
  return lines.slice(0, 120).join('\n');
}

/**
 * Whether the only unsubscribed SDK leg of a room is its SDK caller, with no subscription ever made
 * and its state's claim never recorded (or no state at all): known bug B2's signature.
 */
async function claimStuck(r: Room): Promise<boolean> {
  if (r.kind !== 'SDK → client') return false;
  for (const l of r.sdkLegs) {
    const call = await ctl().call(l.callSid);
    if (l.callSid !== r.callerSid) {
      if (call.subscriptions.length === 0) return false;
      continue;
    }
    if (call.subscriptionsCreated !== 0) return false;
    const state = await stack.twilio.sync.v1
      .services('default')
      .syncMaps(legMapName(l.callSid))
      .syncMapItems('state')
      .fetch()
      .then((item) => item.data as { subscription?: { status?: string } })
      .catch(() => undefined);
    if (state && state.subscription?.status !== 'claimed') return false;
  }
  return true;
}

describe.each(IDEMPOTENCY_VARIANTS)('conferences under IdempotencyKey variant %s', (variant) => {
  const of = `conferences (${variant})`;
  beforeAll(() => ctl().knobs({ idempotency: { variant } }));

  it(`${ROOMS} rooms with every callback up to 4 times and events reordered: 1 subscription per SDK leg, 0 lost, 1 broadcast per leg`, async () => {
    const agent = SANDBOX_DEFAULTS.clientIdentity; // answers every call to our number
    await ctl().registerPhone(agent, { autoAnswer: true });
    const conferenceCallbacks = () =>
      stack.sandbox.webhooks.log.filter((w) => w.url.includes('/conference-status')).length;
    const callbacksBefore = conferenceCallbacks();
    const start = Date.now();
    const deadline = start + BUDGET_MS;
    // A room's wait ends with the shared budget, or after ROOM_WAIT_MS: a leg not subscribed by then
    // never will be (Twilio stops retrying a callback after 15 s), so its room fails fast.
    const timeLeft = () => Math.max(1000, Math.min(ROOM_WAIT_MS, deadline - Date.now()));
    const rooms: Room[] = [];

    /** One room: connect, wait for the SDK legs' subscriptions, messages both ways, hang up. */
    const playRoom = async (n: number): Promise<Room> => {
      const kind = n % 2 === 0 ? 'phone → agent' : 'SDK → client';
      const tag = `${variant}-${n}`;
      let callerSid: string;
      let identities: string[];
      if (kind === 'phone → agent') {
        callerSid = (await ctl().callIn(`+1555700${String(n).padStart(4, '0')}`)).callSid;
        identities = [agent];
      } else {
        // A pair of phones per room: each phone's call list stays short to read.
        const [caller, callee] = [`ct-${tag}-a`, `ct-${tag}-b`];
        await ctl().registerPhone(caller);
        await ctl().registerPhone(callee, { autoAnswer: true });
        callerSid = (await ctl().placeCall(caller, `client:${callee}`)).callSid;
        identities = [caller, callee];
      }
      const room = roomOf(callerSid);
      // One room at a time, never the whole call list (the trust suite's lesson): its participants
      // until every SDK party has joined.
      const sdkLegs = await waitFor(
        async () => {
          const view = await ctl().conference(room);
          const legs = identities.map((identity) => ({
            identity,
            callSid: view.participants.find((p) => p.label === `sdk.${identity}` && p.status === 'connected')?.callSid,
          }));
          return legs.every((l) => l.callSid !== undefined)
            ? legs.map((l) => ({ identity: l.identity, callSid: l.callSid ?? '' }))
            : undefined;
        },
        `${room}'s SDK participants to join`,
        timeLeft(),
      );
      const r: Room = {
        kind,
        callerSid,
        room,
        sdkLegs,
        sent: new Map(),
        broadcast: JSON.stringify({ to: 'all', room: tag }),
        broadcastKey: `bc-${tag}`,
        broadcastLegs: [],
        broadcastRetries: 0,
        claimStuck: false,
      };
      const subscribed = await waitFor(
        async () => {
          for (const l of sdkLegs) if ((await ctl().call(l.callSid)).subscriptions.length === 0) return false;
          return true;
        },
        `${room}'s SDK legs to be subscribed`,
        timeLeft(),
      ).catch(async (err: unknown) => {
        // B2 (fixed): an SDK caller whose claim stayed `claimed` for good (its claimant ran out of
        // time before recording). It is subscribed in /voice now, and a subscribe keeps time to
        // record its outcome; a room where it happens anyway is counted (its row fails), then ended.
        if (await claimStuck(r)) return false;
        throw new Error(`${String(err)}\n${roomReport(r)}`);
      });
      if (!subscribed) {
        r.claimStuck = true;
        await ctl().hangupCall(callerSid);
        return r;
      }
      for (const l of sdkLegs) {
        const texts: string[] = [];
        for (let m = 1; m <= SDK_MESSAGES; m++) {
          const content = { from: l.identity, leg: l.callSid, m };
          await ctl().sendFromPhone(l.identity, l.callSid, content);
          texts.push(JSON.stringify(content));
        }
        r.sent.set(l.callSid, texts);
      }
      for (let attempt = 1; ; attempt++) {
        const res = await signedPost(stack.fn, '/conference-send', {
          conference: room,
          content: r.broadcast,
          idempotencyKey: r.broadcastKey,
        });
        if (res.status === 201 || res.status === 200) {
          // Its targets are the room's SDK participants, each sent (or found sent by a retry).
          r.broadcastLegs = Object.entries((res.body as BroadcastAnswer).legs)
            .filter(([, outcome]) => outcome === 'sent' || outcome === 'already-sent')
            .map(([leg]) => leg)
            .sort();
          break;
        }
        if (res.status !== 503 || attempt >= BROADCAST_ATTEMPTS)
          throw new Error(`broadcast to ${room} answered ${res.status}: ${JSON.stringify(res.body)}`);
        r.broadcastRetries++;
        await new Promise((done) => setTimeout(done, 500));
      }
      await ctl().hangupCall(callerSid);
      return r;
    };

    await stack.withKnobs(
      { webhooks: { duplicateRate: 1, maxCopies: 4, maxDelayMs: 150 }, conferences: { eventOrder: 'reordered' } },
      async () => {
        for (let batch = 0; batch < ROOMS; batch += BATCH)
          rooms.push(
            ...(await Promise.all(
              Array.from({ length: Math.min(BATCH, ROOMS - batch) }, async (_, i) => {
                // Rooms of a batch start STAGGER_MS apart: all at once, their first callbacks (each up
                // to 4 times) starved a loaded 2-core machine's functions past Twilio's 15 s.
                await new Promise((go) => setTimeout(go, i * STAGGER_MS));
                return playRoom(batch + i);
              }),
            )),
          );
        // Every copy of every callback lands before anything is read back.
        await ctl().idle();
      },
    );
    const tookSeconds = Math.round((Date.now() - start) / 1000);

    // Read back, one room at a time.
    let sdkLegCount = 0;
    let notOne = 0;
    let secondAfterLostAnswer = 0;
    let callersClaimStuck = 0;
    let lostFromLeg = 0;
    let lostFromRoom = 0;
    let storedTwiceLeg = 0;
    let storedTwiceRoom = 0;
    let broadcastsNotOnce = 0;
    let leftOutJoinLate = 0;
    let broadcastEntriesNotOne = 0;
    let subscribedAfterEnd = 0;
    let reopened = 0;
    let roomsNotEnded = 0;
    let broadcastRetries = 0;
    const faults: string[] = [];
    const count = (texts: (string | null)[], text: string) => texts.filter((t) => t === text).length;
    let reported = 0;
    for (const r of rooms) {
      if (r.claimStuck) {
        callersClaimStuck++;
        notOne++;
        sdkLegCount += r.sdkLegs.length;
        continue;
      }
      const faultsBefore = faults.length;
      broadcastRetries += r.broadcastRetries;
      const conference = stack.sandbox.engine.conferences.latestByName(r.room);
      const ended = conference?.status === 'completed' ? conference.dateUpdated : undefined;
      if (ended === undefined) roomsNotEnded++;
      const page = await signedPost(stack.fn, '/conference-messages', { conference: r.room });
      const roomMessages = page.status === 200 ? (page.body as ConferenceMessagesPage).messages : [];
      if (page.status !== 200) faults.push(`${r.room}: /conference-messages answered ${page.status}`);
      // Every SDK participant in the room must be a broadcast's target, its join recorded or not
      // (B1, fixed: a leg subscribed as the room's participant counts as in it until its events say).
      const leftOut = new Set(r.sdkLegs.map((l) => l.callSid).filter((leg) => !r.broadcastLegs.includes(leg)));
      for (const leg of leftOut) {
        leftOutJoinLate++;
        faults.push(`${r.room}: the broadcast left out ${leg}`);
      }
      const broadcasts = roomMessages.filter((m) => m.callSid === 'broadcast');
      if (broadcasts.length !== 1 || broadcasts[0]?.content !== r.broadcast) {
        broadcastEntriesNotOne++;
        faults.push(`${r.room}: ${broadcasts.length} broadcast entries in its history`);
      }
      for (const l of r.sdkLegs) {
        sdkLegCount++;
        const call = await ctl().call(l.callSid);
        if (call.subscriptionsCreated !== 1) {
          notOne++;
          // A subscribe whose answer was lost (twilio-unavailable) may have been made by Twilio; the
          // claim that takes over sends the same key (B3, fixed), so only where Twilio ignores a
          // reused key (`ignored`) can a second one be made: the residual LIMITS.md names.
          const lostAnswer = stack.output
            .join('')
            .split('\n')
            .some((line) => line.includes(l.callSid) && line.includes('"error":"twilio-unavailable"'));
          if (call.subscriptionsCreated === 2 && lostAnswer) secondAfterLostAnswer++;
          else faults.push(`${l.callSid} (${r.kind}): ${call.subscriptionsCreated} subscriptions`);
        }
        const late = stack.sandbox.engine
          .call(l.callSid)
          .subscriptions.filter((s) => ended === undefined || s.dateCreated > ended).length;
        subscribedAfterEnd += late;
        const state = (
          await stack.twilio.sync.v1.services('default').syncMaps(legMapName(l.callSid)).syncMapItems('state').fetch()
        ).data as { status: string };
        if (state.status !== 'completed') {
          reopened++;
          faults.push(`${l.callSid} (${r.kind}): left ${state.status}`);
        }
        const history = await callMessages(stack.fn, l.callSid, { pageSize: 50 });
        const fromLeg = history.body.messages.filter((m) => m.direction === 'from-sdk').map((m) => m.content);
        const fromRoom = roomMessages
          .filter((m) => m.direction === 'from-sdk' && m.callSid === l.callSid)
          .map((m) => m.content);
        for (const text of r.sent.get(l.callSid) ?? []) {
          const inLeg = count(fromLeg, text);
          const inRoom = count(fromRoom, text);
          if (inLeg === 0) lostFromLeg++;
          if (inLeg > 1) storedTwiceLeg++;
          if (inRoom === 0) lostFromRoom++;
          if (inRoom > 1) storedTwiceRoom++;
          if (inLeg !== 1 || inRoom !== 1)
            faults.push(`${l.callSid}: ${text} ${inLeg}× in its leg, ${inRoom}× in room`);
        }
        // Nothing but what was sent: a stray or foreign message is a fault too.
        if (fromLeg.length !== SDK_MESSAGES || fromRoom.length !== SDK_MESSAGES) {
          faults.push(`${l.callSid}: ${fromLeg.length} from-sdk in its leg, ${fromRoom.length} in the room`);
          if (fromLeg.length > SDK_MESSAGES) storedTwiceLeg++;
          if (fromRoom.length > SDK_MESSAGES) storedTwiceRoom++;
        }
        const phoneCall = (await ctl().phone(l.identity)).calls.find((c) => c.callSid === l.callSid);
        const deliveries = (phoneCall?.received ?? []).filter((m) => JSON.stringify(m.content) === r.broadcast).length;
        if (deliveries !== (leftOut.has(l.callSid) ? 0 : 1)) {
          broadcastsNotOnce++;
          faults.push(`${l.callSid} (${r.kind}): the broadcast delivered ${deliveries}×`);
        }
      }
      // The first few rooms with a fault get their callbacks and log lines too.
      if (faults.length > faultsBefore && reported++ < 3) faults.push(roomReport(r));
    }
    const sdkMessages = sdkLegCount * SDK_MESSAGES;
    const conferenceEvents = conferenceCallbacks() - callbacksBefore;
    figures.add(of, 'rooms / SDK participant legs', `${rooms.length} / ${sdkLegCount}`, '-', true);
    figures.add(of, 'conference callbacks delivered (with copies)', conferenceEvents, '-', true);
    // A second subscription after a lost answer is Twilio's to avoid only where it honours a reused
    // key: under `ignored` it is the residual LIMITS.md names, shown as such; elsewhere it must be 0.
    const residual = variant === 'ignored' ? 'ignored reuse' : undefined;
    figures.add(
      of,
      'SDK legs without exactly 1 subscription',
      notOne,
      '= 0',
      notOne === 0,
      notOne > 0 && residual && notOne === secondAfterLostAnswer ? residual : undefined,
    );
    figures.add(
      of,
      'of them: SDK callers never subscribed, claim stuck',
      callersClaimStuck,
      '= 0',
      callersClaimStuck === 0,
    );
    figures.add(
      of,
      'of them: a 2nd after a lost subscribe answer',
      secondAfterLostAnswer,
      '= 0',
      secondAfterLostAnswer === 0,
      residual,
    );
    figures.add(of, 'SDK messages sent', sdkMessages, '-', true);
    figures.add(of, 'SDK messages lost from their leg’s history', lostFromLeg, '= 0', lostFromLeg === 0);
    figures.add(of, 'SDK messages lost from their room’s history', lostFromRoom, '= 0', lostFromRoom === 0);
    figures.add(of, 'SDK messages stored twice (leg)', storedTwiceLeg, '= 0', storedTwiceLeg === 0);
    figures.add(of, 'SDK messages stored twice (room)', storedTwiceRoom, '= 0', storedTwiceRoom === 0);
    figures.add(of, 'broadcasts retried after a 503', broadcastRetries, '-', true);
    figures.add(
      of,
      'SDK legs targeted by the broadcast without exactly 1 delivery',
      broadcastsNotOnce,
      '= 0',
      broadcastsNotOnce === 0,
    );
    figures.add(of, 'SDK legs in the room the broadcast left out', leftOutJoinLate, '= 0', leftOutJoinLate === 0);
    figures.add(
      of,
      'rooms without exactly 1 broadcast entry',
      broadcastEntriesNotOne,
      '= 0',
      broadcastEntriesNotOne === 0,
    );
    figures.add(of, 'rooms not ended', roomsNotEnded, '= 0', roomsNotEnded === 0);
    figures.add(of, 'subscriptions created after the room ended', subscribedAfterEnd, '= 0', subscribedAfterEnd === 0);
    figures.add(of, 'SDK legs not left completed', reopened, '= 0', reopened === 0);
    figures.add(
      of,
      'seconds to play every room',
      tookSeconds,
      `≤ ${BUDGET_MS / 1000}`,
      tookSeconds <= BUDGET_MS / 1000,
    );
    if (faults.length > 0) process.stdout.write(`\n${of} faults:\n${faults.slice(0, 80).join('\n')}\n`);
    expect(faults.slice(0, 20)).toEqual([]);
    expect({
      notOne: notOne - (residual ? secondAfterLostAnswer : 0),
      lostFromLeg,
      lostFromRoom,
      storedTwiceLeg,
      storedTwiceRoom,
    }).toEqual({
      notOne: 0,
      lostFromLeg: 0,
      lostFromRoom: 0,
      storedTwiceLeg: 0,
      storedTwiceRoom: 0,
    });
    expect({ broadcastsNotOnce, broadcastEntriesNotOne, roomsNotEnded, subscribedAfterEnd, reopened }).toEqual({
      broadcastsNotOnce: 0,
      broadcastEntriesNotOne: 0,
      roomsNotEnded: 0,
      subscribedAfterEnd: 0,
      reopened: 0,
    });
  }, 600_000);
});

// B1 (lib/messages/broadcast.ts, fixed): a broadcast's targets were the participants whose
// participant-join had arrived. Twilio may deliver a join late (no order is promised), so an SDK
// participant already in the room, subscribed and sending, was left out, for good (the claim fixes
// the targets). Played here without chance: the agent's join is held back until the broadcast has
// answered.
describe('B1: a broadcast before its participant’s join arrives', () => {
  let answer: { status: number; body: unknown } | undefined;
  let agentLeg = '';
  let callerSid = '';

  beforeAll(async () => {
    const agent = SANDBOX_DEFAULTS.clientIdentity;
    await ctl().registerPhone(agent, { autoAnswer: true });
    const sender = stack.sandbox.webhooks;
    const send = sender.send.bind(sender);
    const held: (() => void)[] = [];
    // Only the added agent's participant-join waits; every other callback goes as it comes.
    sender.send = (req) =>
      req.url.includes('/conference-status') &&
      req.params.StatusCallbackEvent === 'participant-join' &&
      req.params.ParticipantLabel === `sdk.${agent}`
        ? new Promise((resolve, reject) => held.push(() => void send(req).then(resolve, reject)))
        : send(req);
    try {
      callerSid = (await ctl().callIn('+15557999001')).callSid;
      const room = roomOf(callerSid);
      agentLeg = await waitFor(
        async () =>
          (await ctl().conference(room)).participants.find(
            (p) => p.label === `sdk.${agent}` && p.status === 'connected',
          )?.callSid,
        'the agent to join',
        30_000,
      );
      await waitFor(async () => (await ctl().call(agentLeg)).subscriptions.length > 0, 'its subscription', 30_000);
      await ctl().sendFromPhone(agent, agentLeg, { from: 'agent', before: 'broadcast' });
      answer = await signedPost(stack.fn, '/conference-send', {
        conference: room,
        content: JSON.stringify({ to: 'all' }),
        idempotencyKey: 'b1-repro',
      });
    } finally {
      sender.send = send;
      for (const go of held) go();
    }
    await ctl().hangupCall(callerSid);
    await ctl().idle();
  }, 120_000);

  it('the room is set: the agent is in it and subscribed, the broadcast answered 201', () => {
    expect(agentLeg).toMatch(/^CA/);
    expect(answer?.status).toBe(201);
  });

  it('the broadcast reaches the agent already in the room', () => {
    expect(Object.keys((answer?.body as BroadcastAnswer | undefined)?.legs ?? {})).toEqual([agentLeg]);
  });
});

describe('the table', () => {
  it('every figure meets its rule', () => {
    expect(figures.rows.length).toBeGreaterThan(IDEMPOTENCY_VARIANTS.length * 10);
    // Every figure must hold but Twilio's residual under `ignored`, which is shown as such.
    expect(figures.rows.filter((r) => !r.ok && !r.knownBug)).toEqual([]);
  });
});
