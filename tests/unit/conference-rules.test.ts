import {
  conferenceModeOf,
  conferencePlan,
  identityOfLabel,
  parseRoom,
  roomOf,
  sdkLabel,
  usesConference,
} from '../../lib/calls/conference';
import { routeVoiceCall, sdkLegsOfStatusCallback, type VoiceRoute } from '../../lib/calls/legs';
import {
  applyParticipantEvent,
  isPresent,
  parseParticipant,
  type ParticipantEvent,
  type StoredParticipant,
} from '../../lib/store/conference-records';
import { callSid } from '../../testing/sids';

const ORIGIN = callSid(0xa1);
const LEG = callSid(0xb2);
const config = { inboundIdentity: 'alice', callerId: '+15550001111' };
const routed = (event: Record<string, unknown>) =>
  routeVoiceCall(event, config) as Exclude<VoiceRoute, { kind: 'refuse' }>;

describe('conference mode', () => {
  it('reads CONFERENCE_MODE, off by default, and refuses anything else', () => {
    expect(conferenceModeOf({})).toBe('off');
    expect(conferenceModeOf({ CONFERENCE_MODE: 'always' })).toBe('always');
    expect(conferenceModeOf({ CONFERENCE_MODE: 'on-request' })).toBe('on-request');
    expect(() => conferenceModeOf({ CONFERENCE_MODE: 'yes' })).toThrow(/CONFERENCE_MODE must be one of/);
  });

  it('puts a call in a room as the setting and, on request, the SDK caller says', () => {
    const phoneIn = routed({ From: '+15557778888', To: '+15550001111' });
    const sdkOut = routed({ From: 'client:bob', To: '+15557778888' });
    expect(usesConference('off', sdkOut, { cmeMode: 'conference' })).toBe(false);
    expect(usesConference('always', phoneIn, {})).toBe(true);
    expect(usesConference('always', sdkOut, { cmeMode: 'dial' })).toBe(true);
    expect(usesConference('on-request', sdkOut, { cmeMode: 'conference' })).toBe(true);
    expect(usesConference('on-request', sdkOut, { cmeMode: 'dial' })).toBe(false);
    // A phone caller sends no custom parameters: a lookalike form field is not the SDK asking.
    expect(usesConference('on-request', phoneIn, { cmeMode: 'conference' })).toBe(false);
    expect(usesConference('always', { kind: 'refuse', reason: 'x', say: 'y' }, {})).toBe(false);
  });
});

describe('room names and labels', () => {
  it('names a room after its call, and parses back only names it made', () => {
    expect(roomOf(ORIGIN)).toBe(`cme-${ORIGIN.toLowerCase()}`);
    expect(parseRoom(roomOf(ORIGIN))).toEqual({ room: roomOf(ORIGIN), originCallSid: ORIGIN });
    for (const bad of [
      undefined,
      42,
      '',
      'cme-',
      `cme-${ORIGIN}`,
      `x-${ORIGIN.toLowerCase()}`,
      `cme-ca${'g'.repeat(32)}`,
    ])
      expect(parseRoom(bad)).toBeUndefined();
  });

  it('labels an SDK participant by its identity and a phone by its side', () => {
    expect(identityOfLabel(sdkLabel('alice.b-1'))).toBe('alice.b-1');
    for (const label of ['ext.caller', 'ext.callee', 'sdk.', 'sdk.a/b', 'alice', undefined, 7])
      expect(identityOfLabel(label)).toBeUndefined();
  });
});

describe('who sits where', () => {
  const room = roomOf(ORIGIN);
  it('a phone call to our number: the caller joins, CLIENT_IDENTITY is added from the number called', () => {
    const plan = conferencePlan(
      routed({ From: '+15557778888', To: '+15550009999' }),
      room,
      '+15550009999',
      '+15557778888',
      [],
    );
    expect(plan).toEqual({
      seat: { room, label: 'ext.caller' },
      party: { to: 'client:alice', from: '+15550009999', label: 'sdk.alice', identity: 'alice' },
    });
  });

  it('an SDK call to a number: the number is added from CALLER_ID', () => {
    const plan = conferencePlan(
      routed({ From: 'client:bob', To: '+15557778888' }),
      room,
      '+15557778888',
      'client:bob',
      [],
    );
    expect(plan).toEqual({
      seat: { room, label: 'sdk.bob' },
      party: { to: '+15557778888', from: '+15550001111', label: 'ext.callee' },
    });
  });

  it("an SDK call to a client: the callee gets the caller's parameters in its address", () => {
    const plan = conferencePlan(
      routed({ From: 'client:bob', To: 'client:carol' }),
      room,
      'client:carol',
      'client:bob',
      [{ name: 'ticket', value: 'A&B 1' }],
    );
    expect(plan?.party).toEqual({
      to: 'client:carol?ticket=A%26B+1',
      from: 'client:bob',
      label: 'sdk.carol',
      identity: 'carol',
    });
  });
});

describe('a participant status callback (cme_sdk=call)', () => {
  it('names the added leg, its parent the call that opened the room', () => {
    const legs = sdkLegsOfStatusCallback({
      CallSid: LEG,
      CallStatus: 'ringing',
      cme_sdk: 'call',
      cme_child: 'alice',
      cme_conf: roomOf(ORIGIN),
    });
    expect(legs).toEqual([
      {
        callSid: LEG,
        role: 'child',
        identity: 'alice',
        peer: `conference:${roomOf(ORIGIN)}`,
        parentCallSid: ORIGIN,
        conference: roomOf(ORIGIN),
      },
    ]);
  });

  it('names nothing without a room this project made, or a valid identity', () => {
    expect(sdkLegsOfStatusCallback({ CallSid: LEG, cme_sdk: 'call', cme_child: 'alice', cme_conf: 'other' })).toEqual(
      [],
    );
    expect(
      sdkLegsOfStatusCallback({ CallSid: LEG, cme_sdk: 'call', cme_child: 'a/b', cme_conf: roomOf(ORIGIN) }),
    ).toEqual([]);
  });
});

describe('a participant record, from events in any order and any number of copies', () => {
  const ev = (kind: ParticipantEvent['kind'], seq: number): ParticipantEvent => ({
    kind,
    seq,
    at: new Date(Date.UTC(2026, 11, 6, 0, 0, seq)).toISOString(),
    callSid: LEG,
    label: 'sdk.alice',
    identity: 'alice',
    ...(kind === 'leave' ? { callStatus: 'completed', reason: 'participant_hung_up' } : {}),
  });
  const events = [ev('join', 2), ev('hold', 3), ev('unhold', 4), ev('mute', 5), ev('leave', 6)];

  function permutations<T>(items: T[]): T[][] {
    if (items.length <= 1) return [items];
    return items.flatMap((item, i) =>
      permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
    );
  }

  it('ends the same for every order, with duplicates', () => {
    const expected = events.reduce<StoredParticipant | undefined>(
      (p, e) => applyParticipantEvent(p, e) as StoredParticipant,
      undefined,
    )!;
    expect(expected.stints).toEqual([
      {
        joinSeq: 2,
        joinAt: events[0]!.at,
        leaveSeq: 6,
        leaveAt: events[4]!.at,
        callStatus: 'completed',
        reason: 'participant_hung_up',
      },
    ]);
    expect(expected.hold).toEqual({ value: false, seq: 4 });
    expect(expected.muted).toEqual({ value: true, seq: 5 });
    for (const order of permutations(events)) {
      let p: StoredParticipant | undefined;
      for (const e of [...order, order[0]!, order[2]!]) {
        const next = applyParticipantEvent(p, e);
        if (next !== 'duplicate') p = next;
      }
      expect({ stints: p!.stints, hold: p!.hold, muted: p!.muted }).toEqual({
        stints: expected.stints,
        hold: expected.hold,
        muted: expected.muted,
      });
      expect(isPresent(p!)).toBe(false);
    }
  });

  it('keeps a rejoin as a second stint, present again until its leave', () => {
    let p: StoredParticipant | undefined;
    for (const e of [ev('join', 1), ev('leave', 2), ev('join', 3)])
      p = applyParticipantEvent(p, e) as StoredParticipant;
    expect(p!.stints.map((s) => [s.joinSeq, s.leaveSeq])).toEqual([
      [1, 2],
      [3, undefined],
    ]);
    expect(isPresent(p!)).toBe(true);
  });

  it('reads back what it stored, and refuses what it could not have stored', () => {
    const p = applyParticipantEvent(undefined, ev('join', 1)) as StoredParticipant;
    expect(parseParticipant(JSON.parse(JSON.stringify(p)))).toEqual(p);
    for (const bad of [
      null,
      'x',
      { callSid: 1 },
      { callSid: LEG, stints: [{}] },
      { callSid: LEG, stints: [], seen: ['1'] },
    ])
      expect(parseParticipant(bad)).toBeUndefined();
  });
});
