// Table 2c: Twilio REST and Sync requests per conference event (docs/CONFERENCES.md §3.7), counted by
// the sandbox as Table 2 counts its events: each callback is signed and played alone on live SDK
// legs (the stack idle before and after), so every request between two events belongs to the one
// in between. The functions run with CONFERENCE_MODE=always; the sandbox is at the floor
// (deterministic profile: no latency, duplicates or reordering).
import { conferenceStatusUrl, participantStatusUrl } from '../lib/calls/callback-urls';
import { roomOf, sdkLabel, PHONE_CALLEE_LABEL, PHONE_CALLER_LABEL } from '../lib/calls/conference';
import { SANDBOX_DEFAULTS } from '../sandbox/defaults';
import { randomCallSid, randomMessageSid, randomSid } from '../testing/sids';
import { count, summarise, warmConsoleIndex } from './events';
import { post } from './http';
import { heldSdkLegs, messageCallback, voiceFromSdk, voiceInbound, type BenchStack } from './stack';
import { nth } from './stats';

type Requests = BenchStack['sandbox']['requests'];
type Answer = { status: number; text?: string };

export interface ConferenceEventRow {
  event: string;
  samples: number;
  /** REST (api) and Sync requests in the most common run, and the spread of the totals. */
  rest: number;
  sync: number;
  min: number;
  max: number;
  breakdown: string;
  /** §3.7's estimate, as written before the code. */
  estimate: string;
  estimateRest: number;
  estimateSync: number;
  /** Why the measurement differs from the estimate, read from the code (empty when it does not). */
  why: string;
}

/**
 * Holds every webhook the sandbox would send until `release` is called: /voice's own Participants
 * create starts the added party's call, whose callbacks would otherwise land inside /voice's count.
 */
function holdWebhooks(b: BenchStack): { release: () => void } {
  const sender = b.sandbox.webhooks;
  const send = sender.send.bind(sender);
  const held: (() => void)[] = [];
  sender.send = (req) => new Promise((resolve, reject) => held.push(() => void send(req).then(resolve, reject)));
  return {
    release: () => {
      sender.send = send;
      for (const go of held) go();
    },
  };
}

const conferenceSidOf = new Map<string, string>();

/** A signed conference status callback for `room`, as the sandbox (and Twilio) sends one. */
function conferenceEvent(
  b: BenchStack,
  room: string,
  sequence: number,
  event: string,
  fields: Record<string, string> = {},
) {
  const url = conferenceStatusUrl(b.fn.baseUrl, room);
  let cf = conferenceSidOf.get(room);
  if (!cf) conferenceSidOf.set(room, (cf = randomSid('CF')));
  const params = {
    ConferenceSid: cf,
    FriendlyName: room,
    AccountSid: b.sandbox.accountSid,
    SequenceNumber: String(sequence),
    Timestamp: new Date().toUTCString(),
    StatusCallbackEvent: event,
    ...fields,
  };
  return post(b.fn, url.slice(b.fn.baseUrl.length), params, { signed: true });
}

/** A participant's fields in a participant-* event. */
const participant = (callSid: string, label: string, extra: Record<string, string> = {}) => ({
  CallSid: callSid,
  ParticipantLabel: label,
  Muted: 'false',
  Hold: 'false',
  Coaching: 'false',
  EndConferenceOnExit: 'true',
  StartConferenceOnEnter: 'true',
  ...extra,
});

/** The status callback of an SDK leg added to `room` by the Participants API (its own call). */
function participantCallStatus(
  b: BenchStack,
  callSid: string,
  identity: string,
  room: string,
  status: 'initiated' | 'ringing' | 'in-progress' | 'completed',
) {
  const url = participantStatusUrl(b.fn.baseUrl, identity, room);
  const params: Record<string, string> = {
    AccountSid: b.sandbox.accountSid,
    ApiVersion: '2010-04-01',
    CallSid: callSid,
    CallStatus: status,
    Direction: 'outbound-api',
    From: b.sandbox.phoneNumber,
    To: `client:${identity}`,
    CallbackSource: 'call-progress-events',
    SequenceNumber: String(['initiated', 'ringing', 'in-progress', 'completed'].indexOf(status)),
    Timestamp: new Date().toUTCString(),
    ...(status === 'completed' ? { CallDuration: '1' } : {}),
  };
  return post(b.fn, url.slice(b.fn.baseUrl.length), params, { signed: true });
}

const conferenceSend = (b: BenchStack, room: string, key: string) =>
  post(b.fn, '/conference-send', { conference: room, content: NOTE, idempotencyKey: key }, { signed: true });

const NOTE = '{"type":"note","text":"hi"}';

const BROADCAST_ROW = '/conference-send to N SDK legs';

/** Where a row differs from §3.7's estimate (or is made otherwise), read from the code. */
const WHY: Record<string, string> = {
  'conference-start (the room’s first event)':
    'recordRoom reads `state` before it writes (a room’s status only moves forward), and a create-if-absent tries the item before the Map (the item 404, the Map, the item): +2 on a room’s first event',
  'participant-join, SDK caller not yet subscribed (its /voice attempt refused)':
    'the `<Conference>` caller’s leg has no call status callback, and here its /voice attempt made nothing (the bench’s callers are crafted), so no Map: claim 404 + the Map (+2, Table 2’s in-progress-first case); p.* is read before it is created (+1, 404); the claim adds the identity and console index items (+2, as Table 2’s ringing)',
  'added SDK leg: initiated':
    'lib/routes/call-status.ts reads the room’s `state` at every non-final status, initiated too (a leg of an ended room is neither prepared nor subscribed): +1',
  'participant-join, SDK leg already subscribed':
    'applyParticipant reads p.* before it writes it, a first record too (404: the SequenceNumber merge needs what is there): +1',
  'participant-join, phone': 'the same read of p.* before its first write (404): +1',
  [BROADCAST_ROW]:
    'as many, other parts: it reads the room’s `state` (an ended room is refused) and writes no outcomes item (a retry rebuilds the answer from each leg’s own send key)',
  '/conference-send to 2 SDK legs, retried after success':
    'a retry is not known before its claim: `state` and p.* are read (2), the claim 409 and its read (2), each leg’s send goes through sendMessage again, whose own key answers already-sent (4 a leg: Table 2’s “/send-message again”), and the history entry is put again (409)',
  'added SDK leg: completed (after its leave)':
    'finishLeg runs again: the `state` write, and the identity and console index items’ deletes, answered 404 (the leave removed them): Table 2’s completed (3)',
};

/** One room of Table 2c: an SDK caller (its leg opened the room), an added SDK callee, a phone. */
interface Room {
  room: string;
  caller: string;
  callee: string;
  phone: string;
  seq: number;
}

/**
 * Each conference event alone, `samples` times (one room per sample); the estimates are §3.7's,
 * and `why` says, from the code, where the measurement differs.
 */
export async function countConferenceEvents(b: BenchStack, samples: number): Promise<ConferenceEventRow[]> {
  const rows: ConferenceEventRow[] = [];
  const add = (event: string, runs: Requests[], estimate: [rest: number, sync: number, text: string], why?: string) =>
    rows.push({
      event,
      samples: runs.length,
      ...summarise(runs),
      estimateRest: estimate[0],
      estimateSync: estimate[1],
      estimate: estimate[2],
      why:
        why ?? WHY[event.startsWith('/conference-send to') && !event.includes('retried') ? BROADCAST_ROW : event] ?? '',
    });
  const run = async (fn: (i: number) => Promise<Answer>, expected = [200]) => {
    const runs: Requests[] = [];
    for (let i = 0; i < samples; i++) runs.push(await count(b, () => fn(i), expected));
    return runs;
  };
  const agent = SANDBOX_DEFAULTS.clientIdentity;
  await b.control.registerPhone(agent, { autoAnswer: true });
  await b.control.registerPhone('conf-v-callee', { autoAnswer: true });
  await b.control.registerPhone('conf-v-caller');

  // The console index's shards and each identity's own Map are made once by the first leg that
  // needs them (Table 2 counts that): made here first, so every row counts a known account.
  await warmConsoleIndex(b);

  // /voice, conference mode: its one Participants create. The added party's call runs once the
  // count is taken, and the stack is idle again before the next sample.
  const voiceRooms: string[] = [];
  const voice = async (play: (callSid: string) => Promise<Answer>) => {
    const runs: Requests[] = [];
    for (let i = 0; i < samples; i++) {
      const sid = randomCallSid();
      voiceRooms.push(roomOf(sid));
      const held = holdWebhooks(b);
      try {
        runs.push(await count(b, () => play(sid), [200]));
      } finally {
        held.release();
      }
      await b.control.idle();
    }
    return runs;
  };
  const inbound = await voice((sid) => voiceInbound(b, sid));
  const fromSdk = await voice((sid) => voiceFromSdk(b, sid, 'conf-v-caller', 'client:conf-v-callee'));
  add('/voice, conference mode: phone → agent', inbound, [1, 0, '1 Participants create']);
  add(
    '/voice, conference mode: SDK → client',
    fromSdk,
    [2, 5, '1 Participants create + 1 subscription; Map + 3 writes + console index'],
    "as estimated, with the subscription's claim: /voice subscribes the SDK caller's leg while it rings (lib/routes/voice.ts), one attempt (it never waits out the Calls API's lag). The bench's callers are crafted CallSids the sandbox does not know, so that attempt is refused (20404) and recorded, and the join subscribes them: a real caller's is made here",
  );
  // Those rooms' added parties joined after /voice: end them (the crafted callers never existed).
  await b.control.idle();
  for (const name of voiceRooms) {
    const conference = b.sandbox.engine.conferences.activeByName(name);
    for (const callSid of conference?.participants.keys() ?? []) await b.control.hangupCall(callSid);
  }
  await b.control.idle();

  // The rooms of the event rows: an SDK caller (the room is named after its call), an SDK callee
  // added by the Participants API, and a phone. One untimed room first warms the identities.
  const callers = await heldSdkLegs(b, 'conf-caller', samples + 1);
  const callees = await heldSdkLegs(b, 'conf-callee', samples + 1);
  const rooms: Room[] = callers.map((caller, i) => ({
    room: roomOf(caller),
    caller,
    callee: nth(callees, i),
    phone: randomCallSid(),
    seq: 0,
  }));
  const next = (r: Room) => ++r.seq;
  const steps = {
    start: (r: Room) => conferenceEvent(b, r.room, next(r), 'conference-start'),
    callerJoin: (r: Room) =>
      conferenceEvent(b, r.room, next(r), 'participant-join', participant(r.caller, sdkLabel('conf-caller'))),
    calleeInitiated: (r: Room) => participantCallStatus(b, r.callee, 'conf-callee', r.room, 'initiated'),
    calleeRinging: (r: Room) => participantCallStatus(b, r.callee, 'conf-callee', r.room, 'ringing'),
    calleeInProgress: (r: Room) => participantCallStatus(b, r.callee, 'conf-callee', r.room, 'in-progress'),
    calleeJoin: (r: Room) =>
      conferenceEvent(b, r.room, next(r), 'participant-join', participant(r.callee, sdkLabel('conf-callee'))),
    phoneJoin: (r: Room) =>
      conferenceEvent(b, r.room, next(r), 'participant-join', participant(r.phone, PHONE_CALLEE_LABEL)),
    phoneHold: (r: Room) =>
      conferenceEvent(
        b,
        r.room,
        next(r),
        'participant-hold',
        participant(r.phone, PHONE_CALLEE_LABEL, { Hold: 'true' }),
      ),
    phoneHoldAgain: (r: Room) =>
      conferenceEvent(b, r.room, r.seq, 'participant-hold', participant(r.phone, PHONE_CALLEE_LABEL, { Hold: 'true' })),
    message: (r: Room) =>
      messageCallback(b, r.callee, randomMessageSid(), 1, NOTE, {
        parentCallSid: r.caller,
        identity: 'conf-callee',
        conference: r.room,
      }),
    calleeLeave: (r: Room) =>
      conferenceEvent(
        b,
        r.room,
        next(r),
        'participant-leave',
        participant(r.callee, sdkLabel('conf-callee'), {
          ParticipantCallStatus: 'completed',
          ReasonParticipantLeft: 'participant_hung_up',
        }),
      ),
    calleeCompleted: (r: Room) => participantCallStatus(b, r.callee, 'conf-callee', r.room, 'completed'),
    phoneLeave: (r: Room) =>
      conferenceEvent(
        b,
        r.room,
        next(r),
        'participant-leave',
        participant(r.phone, PHONE_CALLER_LABEL, {
          ParticipantCallStatus: 'completed',
          ReasonParticipantLeft: 'participant_hung_up',
        }),
      ),
    callerLeave: (r: Room) =>
      conferenceEvent(
        b,
        r.room,
        next(r),
        'participant-leave',
        participant(r.caller, sdkLabel('conf-caller'), {
          ParticipantCallStatus: 'in-progress',
          ReasonParticipantLeft: 'participant_hung_up',
        }),
      ),
    end: (r: Room) =>
      conferenceEvent(b, r.room, next(r), 'conference-end', { ReasonConferenceEnded: 'last-participant-left' }),
  } as const;
  const warm = nth(rooms, samples);
  for (const step of Object.values(steps)) await step(warm);
  const byRoom = (step: (r: Room) => Promise<Answer>) => run((i) => step(nth(rooms, i)));

  add('conference-start (the room’s first event)', await byRoom(steps.start), [0, 2, '1 write + 1 Map create']);
  add('participant-join, SDK caller not yet subscribed (its /voice attempt refused)', await byRoom(steps.callerJoin), [
    1,
    5,
    '2 reads + 1 write (p.*), +3 (claim, subscribe, record)',
  ]);
  add('added SDK leg: initiated', await byRoom(steps.calleeInitiated), [0, 1, 'as Table 2: the Map']);
  add('added SDK leg: ringing (subscribes)', await byRoom(steps.calleeRinging), [
    1,
    5,
    'as Table 2 (5) + 1 read of the room’s state',
  ]);
  add('added SDK leg: in-progress', await byRoom(steps.calleeInProgress), [
    0,
    3,
    'as Table 2 (2) + 1 read of the room’s state',
  ]);
  add('participant-join, SDK leg already subscribed', await byRoom(steps.calleeJoin), [
    0,
    3,
    '2 reads (room state, leg state) + 1 write (p.*)',
  ]);
  add('participant-join, phone', await byRoom(steps.phoneJoin), [0, 1, '1 write (create-if-absent)']);
  add('participant-hold', await byRoom(steps.phoneHold), [0, 2, '1 read + 1 write (If-Match)']);
  add('participant-hold, delivered again', await byRoom(steps.phoneHoldAgain), [0, 1, '1 read']);
  add('/message-callback from an SDK in a conference', await byRoom(steps.message), [0, 2, '2 writes (leg + log.*)']);

  // Broadcasts: one room per sample with N SDK participants, each joined (and so subscribed) first.
  for (const n of [1, 2, 4]) {
    const legsByRoom: string[][] = [];
    for (let i = 0; i < samples; i++) legsByRoom.push(await heldSdkLegs(b, `conf-bc-${n}-${i % 4}`, n));
    const bcRooms = legsByRoom.map((legs) => roomOf(nth(legs, 0)));
    for (const [i, legs] of legsByRoom.entries()) {
      const room = nth(bcRooms, i);
      await conferenceEvent(b, room, 1, 'conference-start');
      for (const [k, leg] of legs.entries())
        await conferenceEvent(b, room, 2 + k, 'participant-join', participant(leg, sdkLabel(`conf-bc-${n}-${i % 4}`)));
    }
    add(
      `/conference-send to ${n} SDK leg${n > 1 ? 's' : ''}`,
      await run((i) => conferenceSend(b, nth(bcRooms, i), `bc-${n}-${i}`), [201]),
      [n, 4 + 3 * n, `${n} UDM; 1 read (p.*) + 3 writes + ${n} × (2 writes + 1 read)`],
    );
    if (n === 2)
      add(
        '/conference-send to 2 SDK legs, retried after success',
        await run((i) => conferenceSend(b, nth(bcRooms, i), `bc-${n}-${i}`), [200, 201]),
        [0, 2, '1 write (409) + 1 read'],
      );
  }

  add('participant-leave, SDK leg, final ParticipantCallStatus', await byRoom(steps.calleeLeave), [
    0,
    5,
    '1 read + 1 write + 2 writes (leg final + TTL, identity item) + 1 console unindex',
  ]);
  add('added SDK leg: completed (after its leave)', await byRoom(steps.calleeCompleted), [
    0,
    2,
    'as Table 2: finds it finished (2 writes)',
  ]);
  add('participant-leave, phone', await byRoom(steps.phoneLeave), [0, 2, '1 read + 1 write']);
  add('participant-leave, SDK caller (its call’s end)', await byRoom(steps.callerLeave), [
    0,
    5,
    'as an SDK leg’s leave',
  ]);
  add('conference-end', await byRoom(steps.end), [0, 2, '1 read (p.*) + 1 write (state + TTL)']);
  return rows;
}
