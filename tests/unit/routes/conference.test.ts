// Conference mode through the functions themselves: /voice opening a room and adding the other
// party, /conference-status and /call-status subscribing each SDK participant once in any order,
// never after the room ended, and closing a leg out at its leave.
import type express from 'express';
import { XMLParser } from 'fast-xml-parser';
import { handler as voice } from '../../../functions/voice.protected';
import { handler as conferenceStatus } from '../../../functions/conference-status.protected';
import { handler as callStatus } from '../../../functions/call-status.protected';
import { handler as participantRoute } from '../../../functions/conference-participant.protected';
import { handler as historyRoute } from '../../../functions/conference-messages.protected';
import { handler as broadcastRoute } from '../../../functions/conference-send.protected';
import { conferenceStatusUrl, participantStatusUrl, RETRY_FRAGMENT } from '../../../lib/calls/callback-urls';
import { roomOf } from '../../../lib/calls/conference';
import { CallStore } from '../../../lib/store/call-store';
import { ConferenceStore } from '../../../lib/store/conference-store';
import {
  expectError,
  installTwilioGlobal,
  invoke,
  LOCAL_BASE,
  makeContext,
  signedEvent,
} from '../../support/function-harness';
import { startSyncSandbox, type SyncSandbox } from '../../support/sync-sandbox';
import { callSid, sid } from '../../../testing/sids';

const ORIGIN = callSid(0xc1);
const AGENT = callSid(0xc2);
const ROOM = roomOf(ORIGIN);
const CONF_SID = sid('CF', 0xc3);
const ENV = { CLIENT_IDENTITY: 'alice', CALLER_ID: '+15550001111', CONFERENCE_MODE: 'always' };

let sandbox: SyncSandbox;
let added: Record<string, string>[] = [];
let addAnswer: { status: number; code?: number } = { status: 201 };
let subscribed: string[] = [];
let delivered: string[] = [];
/** The Calls API not showing the call yet (20404) to subscription creates. */
let subscriptionRefused = false;
let updates: Record<string, string>[] = [];
let fetched: string[] = [];
let removed: string[] = [];
let participantAnswer = 200;
let calls: CallStore;
let rooms: ConferenceStore;

beforeAll(async () => {
  installTwilioGlobal();
  sandbox = await startSyncSandbox({}, (app) => {
    app.post('/api/2010-04-01/Accounts/:account/Conferences/:room/Participants.json', (req, res) => {
      added.push({ room: req.params.room, ...(req.body as Record<string, string>) });
      if (addAnswer.status >= 300) {
        res
          .status(addAnswer.status)
          .json({ code: addAnswer.code, message: 'refused', more_info: '', status: addAnswer.status });
        return;
      }
      res.status(201).json({
        account_sid: req.params.account,
        call_sid: AGENT,
        conference_sid: CONF_SID,
        label: req.body.Label,
        status: 'queued',
      });
    });
    const participant = (req: express.Request) => ({
      account_sid: req.params.account,
      conference_sid: req.params.room,
      call_sid: String(req.params.who).startsWith('CA') ? req.params.who : AGENT,
      label: String(req.params.who).startsWith('CA') ? null : req.params.who,
      status: 'connected',
    });
    app.post('/api/2010-04-01/Accounts/:account/Conferences/:room/Participants/:who.json', (req, res) => {
      updates.push({ who: String(req.params.who), ...(req.body as Record<string, string>) });
      if (participantAnswer !== 200) {
        res
          .status(participantAnswer)
          .json({ code: participantAnswer === 404 ? 20404 : 16022, message: 'x', status: participantAnswer });
        return;
      }
      res.json(participant(req));
    });
    app.get('/api/2010-04-01/Accounts/:account/Conferences/:room/Participants/:who.json', (req, res) => {
      fetched.push(String(req.params.who));
      res.json(participant(req));
    });
    app.delete('/api/2010-04-01/Accounts/:account/Conferences/:room/Participants/:who.json', (req, res) => {
      removed.push(String(req.params.who));
      res.status(204).end();
    });
    app.post('/api/2010-04-01/Accounts/:account/Calls/:call/UserDefinedMessages.json', (req, res) => {
      delivered.push(req.params.call);
      res
        .status(201)
        .json({ account_sid: req.params.account, call_sid: req.params.call, sid: sid('KX', delivered.length) });
    });
    app.post('/api/2010-04-01/Accounts/:account/Calls/:call/UserDefinedMessageSubscriptions.json', (req, res) => {
      if (subscriptionRefused) {
        res.status(404).json({ code: 20404, message: 'The requested resource was not found', status: 404 });
        return;
      }
      subscribed.push(req.params.call);
      res.status(201).json({
        account_sid: req.params.account,
        call_sid: req.params.call,
        sid: sid('ZY', subscribed.length),
        date_created: '',
        uri: '',
      });
    });
  });
  const config = { syncServiceSid: 'default', finishedCallTtl: 300, activeCallTtl: 3600 };
  calls = new CallStore(sandbox.client, config);
  rooms = new ConferenceStore(sandbox.client, config);
});
afterAll(() => sandbox.close());
beforeEach(() => {
  sandbox.reset();
  added = [];
  subscribed = [];
  delivered = [];
  subscriptionRefused = false;
  updates = [];
  fetched = [];
  removed = [];
  participantAnswer = 200;
  addAnswer = { status: 201 };
  jest.spyOn(console, 'log').mockImplementation(() => {});
});
afterEach(() => jest.restoreAllMocks());

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false });
const voiceRequest = (over: Record<string, string>, env: Record<string, string> = ENV) =>
  invoke(
    voice,
    makeContext('/voice', env),
    signedEvent(`${LOCAL_BASE}/voice`, { CallSid: ORIGIN, CallStatus: 'ringing', Direction: 'inbound', ...over }),
  );

const conferenceEvent = (event: string, seq: number, over: Record<string, string> = {}) =>
  invoke(
    conferenceStatus,
    makeContext('/conference-status', ENV),
    signedEvent(conferenceStatusUrl(LOCAL_BASE, ROOM), {
      ConferenceSid: CONF_SID,
      FriendlyName: ROOM,
      AccountSid: sid('AC', 1),
      SequenceNumber: String(seq),
      Timestamp: new Date(Date.UTC(2026, 11, 6, 1, 0, seq)).toUTCString(),
      StatusCallbackEvent: event,
      ...over,
    }),
  );
const agentEvent = (event: string, seq: number, over: Record<string, string> = {}) =>
  conferenceEvent(event, seq, {
    CallSid: AGENT,
    ParticipantLabel: 'sdk.alice',
    Hold: 'false',
    Muted: 'false',
    ...over,
  });
const agentCallback = (status: string) =>
  invoke(
    callStatus,
    makeContext('/call-status', ENV),
    signedEvent(participantStatusUrl(LOCAL_BASE, 'alice', ROOM), {
      CallSid: AGENT,
      CallStatus: status,
      From: '+15550009999',
      To: 'client:alice',
    }),
  );

describe('/voice in conference mode', () => {
  it('adds CLIENT_IDENTITY to the room of a phone call, and seats the caller by TwiML', async () => {
    const res = await voiceRequest({ From: '+15557778888', To: '+15550009999' });
    const twiml = parser.parse(String(res.body)).Response;
    expect(twiml.Dial.Conference['#text']).toBe(ROOM);
    expect(twiml.Dial.Conference['@participantLabel']).toBe('ext.caller');
    expect(twiml.Dial.Conference['@statusCallback']).toBe(
      `${LOCAL_BASE}/conference-status?cme_conf=${ROOM}#${RETRY_FRAGMENT}`,
    );
    expect(twiml.Dial.Conference['@statusCallbackEvent']).toBe('start end join leave mute hold modify');
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({
      room: ROOM,
      To: 'client:alice',
      From: '+15550009999',
      Label: 'sdk.alice',
      StatusCallback: participantStatusUrl(LOCAL_BASE, 'alice', ROOM),
      ConferenceStatusCallback: conferenceStatusUrl(LOCAL_BASE, ROOM),
      EndConferenceOnExit: 'true',
    });
  });

  it('goes into a room on request only when the setting allows it, and never passes cmeMode on', async () => {
    const bridged = await voiceRequest(
      { From: 'client:bob', To: 'client:carol', cmeMode: 'conference' },
      { ...ENV, CONFERENCE_MODE: 'off' },
    );
    expect(parser.parse(String(bridged.body)).Response.Dial.Client).toBeDefined();
    expect(String(bridged.body)).not.toContain('cmeMode');
    await voiceRequest(
      { From: 'client:bob', To: 'client:carol', cmeMode: 'conference', topic: 'x' },
      { ...ENV, CONFERENCE_MODE: 'on-request' },
    );
    expect(added.map((a) => a.To)).toEqual(['client:carol?topic=x']);
  });

  it("subscribes an SDK caller's own leg while /voice runs, so its join finds it subscribed", async () => {
    await voiceRequest({ From: 'client:bob', To: '+15557778888' });
    expect(subscribed).toEqual([ORIGIN]);
    expect(await calls.readState(ORIGIN)).toMatchObject({
      role: 'parent',
      identity: 'bob',
      subscription: { status: 'subscribed', by: 'ringing' },
    });
    const joined = await conferenceEvent('participant-join', 1, { CallSid: ORIGIN, ParticipantLabel: 'sdk.bob' });
    expect(joined.body).toMatchObject({ legs: { [ORIGIN]: 'subscribed' } });
    expect(subscribed).toEqual([ORIGIN]);
  });

  it('never keeps the caller waiting on a Calls API that does not show its call yet: its join subscribes it', async () => {
    subscriptionRefused = true;
    const started = Date.now();
    const twiml = parser.parse(String((await voiceRequest({ From: 'client:bob', To: '+15557778888' })).body)).Response;
    expect(Date.now() - started).toBeLessThan(1500);
    expect(twiml.Dial.Conference['#text']).toBe(ROOM);
    expect(await calls.readState(ORIGIN)).toMatchObject({ subscription: { status: 'refused', by: 'ringing' } });
    subscriptionRefused = false;
    const joined = await conferenceEvent('participant-join', 1, { CallSid: ORIGIN, ParticipantLabel: 'sdk.bob' });
    expect(joined.body).toMatchObject({ legs: { [ORIGIN]: 'subscribed' } });
  });

  it('tells the caller the call failed when the other party cannot be added', async () => {
    addAnswer = { status: 400, code: 16022 };
    const twiml = parser.parse(String((await voiceRequest({ From: 'client:bob', To: '+15557778888' })).body)).Response;
    expect(twiml.Say).toBe('Sorry, the call could not be connected.');
    expect(twiml.Hangup).toBeDefined();
  });

  it('takes a label in use (16026) as its own earlier add having landed', async () => {
    addAnswer = { status: 400, code: 16026 };
    const twiml = parser.parse(String((await voiceRequest({ From: 'client:bob', To: '+15557778888' })).body)).Response;
    expect(twiml.Dial.Conference['#text']).toBe(ROOM);
  });
});

describe('/conference-status', () => {
  const orders = [
    ['join', 'ringing', 'in-progress'],
    ['ringing', 'join', 'in-progress'],
    ['in-progress', 'join', 'ringing'],
    ['join', 'join', 'in-progress', 'ringing', 'join'],
  ];
  it.each(orders)('subscribes an added SDK participant once: %s, %s, %s…', async (...order: string[]) => {
    for (const step of order) {
      const res = step === 'join' ? await agentEvent('participant-join', 3) : await agentCallback(step);
      expect(res.statusCode).toBe(200);
    }
    expect(subscribed).toEqual([AGENT]);
    expect(await calls.readState(AGENT)).toMatchObject({
      role: 'child',
      parentCallSid: ORIGIN,
      subscription: { status: 'subscribed' },
    });
  });

  it('subscribes the SDK caller at its join (the call that opened the room is its own)', async () => {
    const res = await conferenceEvent('participant-join', 1, { CallSid: ORIGIN, ParticipantLabel: 'sdk.bob' });
    expect(res.body).toMatchObject({ outcome: 'applied', legs: { [ORIGIN]: 'subscribed' } });
    expect(await calls.readState(ORIGIN)).toMatchObject({
      role: 'parent',
      identity: 'bob',
      peer: `conference:${ROOM}`,
    });
  });

  it('records a phone participant without subscribing it, and answers a copy as a duplicate', async () => {
    const first = await conferenceEvent('participant-join', 1, { CallSid: ORIGIN, ParticipantLabel: 'ext.caller' });
    expect(first.body).toEqual({ event: 'participant-join', conference: ROOM, outcome: 'applied' });
    expect(
      (await conferenceEvent('participant-join', 1, { CallSid: ORIGIN, ParticipantLabel: 'ext.caller' })).body,
    ).toMatchObject({ outcome: 'duplicate' });
    expect(subscribed).toEqual([]);
  });

  it('never subscribes a participant after the room ended, by its join or its own callbacks', async () => {
    await conferenceEvent('conference-end', 9, { ReasonConferenceEnded: 'last-participant-left' });
    expect((await agentEvent('participant-join', 3)).body).toMatchObject({ legs: { [AGENT]: 'conference-ended' } });
    expect((await agentCallback('ringing')).body).toEqual({ status: 'ringing', legs: { [AGENT]: 'conference-ended' } });
    expect(subscribed).toEqual([]);
    expect(await rooms.readRoom(ROOM)).toMatchObject({
      status: 'ended',
      conferenceSid: CONF_SID,
      reason: 'last-participant-left',
    });
  });

  it('keeps an ended room ended when its start comes late', async () => {
    await conferenceEvent('conference-end', 9);
    await conferenceEvent('conference-start', 2);
    expect((await rooms.readRoom(ROOM))?.status).toBe('ended');
  });

  it('closes the leg out at a leave with a final ParticipantCallStatus, and records the stint', async () => {
    await agentEvent('participant-join', 3);
    await agentEvent('participant-hold', 4, { Hold: 'true' });
    const left = await agentEvent('participant-leave', 5, {
      ParticipantCallStatus: 'completed',
      ReasonParticipantLeft: 'participant_hung_up',
    });
    expect(left.body).toMatchObject({ legs: { [AGENT]: 'completed' } });
    expect((await calls.readState(AGENT))?.status).toBe('completed');
    const [p] = await rooms.participants(ROOM);
    expect(p).toMatchObject({ callSid: AGENT, identity: 'alice', hold: { value: true, seq: 4 } });
    expect(p!.stints).toEqual([expect.objectContaining({ joinSeq: 3, leaveSeq: 5, callStatus: 'completed' })]);
  });

  it("closes the SDK caller's leg at its leave: nothing follows its <Dial><Conference>", async () => {
    await conferenceEvent('participant-join', 1, { CallSid: ORIGIN, ParticipantLabel: 'sdk.bob' });
    const left = await conferenceEvent('participant-leave', 2, {
      CallSid: ORIGIN,
      ParticipantLabel: 'sdk.bob',
      ParticipantCallStatus: 'in-progress',
    });
    expect(left.body).toMatchObject({ legs: { [ORIGIN]: 'completed' } });
    expect((await calls.readState(ORIGIN))?.status).toBe('completed');
  });

  it('leaves an added leg open at a leave whose call goes on (no final ParticipantCallStatus)', async () => {
    await agentEvent('participant-join', 3);
    await agentEvent('participant-leave', 4, { ParticipantCallStatus: 'in-progress' });
    expect((await calls.readState(AGENT))?.status).not.toBe('completed');
  });

  it('answers events it does not use with 200, so Twilio does not retry them', async () => {
    expect((await agentEvent('participant-speech-start', 3)).body).toMatchObject({ outcome: 'ignored' });
  });

  it('refuses a callback not issued for its room, or missing what it needs, with a 4xx JSON error', async () => {
    expectError(
      await conferenceEvent('conference-start', 1, { FriendlyName: roomOf(AGENT) }),
      400,
      'conference-mismatch',
    );
    expectError(await conferenceEvent('', 1), 400, 'conference-event-missing');
    expectError(await conferenceEvent('conference-start', -1), 400, 'sequence-invalid');
    expectError(await agentEvent('participant-join', 3, { CallSid: 'CAxyz' }), 400, 'call-sid-invalid');
    const unsigned = await invoke(conferenceStatus, makeContext('/conference-status', ENV), {
      ...signedEvent(conferenceStatusUrl(LOCAL_BASE, ROOM), { FriendlyName: ROOM }),
      StatusCallbackEvent: 'conference-start',
    });
    expectError(unsigned, 403, 'signature-invalid');
  });
});

describe('ConferenceStore', () => {
  it('lists every participant of a room over more than one Sync page (a room holds up to 250)', async () => {
    await rooms.recordRoom(ROOM, ORIGIN, { status: 'in-progress', conferenceSid: CONF_SID });
    const sids = Array.from({ length: 130 }, (_, i) => callSid(0x1000 + i));
    for (const [i, s] of sids.entries())
      await rooms.applyParticipant(ROOM, { kind: 'join', seq: i + 1, at: new Date().toISOString(), callSid: s });
    const listed = await rooms.participants(ROOM);
    expect(listed.map((p) => p.callSid).sort()).toEqual([...sids].sort());
  });
});

const participantRequest = (body: Record<string, string>) =>
  invoke(
    participantRoute,
    makeContext('/conference-participant', ENV),
    signedEvent(`${LOCAL_BASE}/conference-participant`, { conference: ROOM, ...body }),
  );

describe('/conference-participant', () => {
  beforeEach(() => conferenceEvent('conference-start', 1));

  it('holds and unholds a participant by CallSid, and mutes one by identity (its label)', async () => {
    expect((await participantRequest({ action: 'hold', callSid: ORIGIN })).body).toEqual({
      conference: ROOM,
      action: 'hold',
      callSid: ORIGIN,
    });
    await participantRequest({ action: 'unhold', callSid: ORIGIN });
    await participantRequest({ action: 'mute', identity: 'alice' });
    expect(updates).toEqual([
      { who: ORIGIN, Hold: 'true' },
      { who: ORIGIN, Hold: 'false' },
      { who: 'sdk.alice', Muted: 'true' },
    ]);
  });

  it('removes a participant so the room goes on without it: EndConferenceOnExit off first', async () => {
    const res = await participantRequest({ action: 'remove', identity: 'alice' });
    expect(res.body).toMatchObject({ action: 'remove', callSid: AGENT });
    expect(updates).toEqual([{ who: 'sdk.alice', EndConferenceOnExit: 'false' }]);
    expect(removed).toEqual(['sdk.alice']);
  });

  it('adds an SDK identity with its own status callback, and takes a label in use as already there', async () => {
    const res = await participantRequest({ action: 'add', to: 'bob' });
    expect(res.statusCode).toBe(201);
    expect(added[0]).toMatchObject({
      room: CONF_SID,
      To: 'client:bob',
      Label: 'sdk.bob',
      StatusCallback: participantStatusUrl(LOCAL_BASE, 'bob', ROOM),
    });
    addAnswer = { status: 400, code: 16026 };
    expect((await participantRequest({ action: 'add', to: 'bob' })).statusCode).toBe(201);
    expect(fetched).toEqual(['sdk.bob']);
  });

  it('answers 409 for a room Twilio says has ended, 404 for a participant not there', async () => {
    participantAnswer = 400;
    expectError(await participantRequest({ action: 'hold', callSid: ORIGIN }), 409, 'conference-ended');
    participantAnswer = 404;
    expectError(await participantRequest({ action: 'hold', callSid: ORIGIN }), 404, 'participant-not-found');
  });

  it('refuses what it cannot do with a 4xx JSON error', async () => {
    expectError(await participantRequest({ action: 'kick', callSid: ORIGIN }), 400, 'action-invalid');
    expectError(await participantRequest({ action: 'hold' }), 400, 'target-invalid');
    expectError(
      await participantRequest({ action: 'hold', callSid: ORIGIN, identity: 'alice' }),
      400,
      'target-invalid',
    );
    expectError(await participantRequest({ action: 'add', to: 'not an identity' }), 400, 'identity-invalid');
    expectError(
      await invoke(
        participantRoute,
        makeContext('/conference-participant', ENV),
        signedEvent(`${LOCAL_BASE}/conference-participant`, {
          conference: roomOf(AGENT),
          action: 'hold',
          callSid: ORIGIN,
        }),
      ),
      404,
      'conference-not-found',
    );
  });
});

describe('/conference-messages with as: one agent sees its own stints', () => {
  const at = (second: number) => new Date(Date.UTC(2026, 11, 6, 1, 0, second)).toUTCString();
  const BOB = callSid(0xc4);

  it('shows an agent what happened between its join and leave, its own legs, and broadcasts that reached it', async () => {
    // alice (AGENT) in from second 3 to 20; bob joins at 10 (a warm transfer).
    await agentEvent('participant-join', 3, { Timestamp: at(3) });
    await conferenceEvent('participant-join', 5, { CallSid: BOB, ParticipantLabel: 'sdk.bob', Timestamp: at(10) });
    await agentEvent('participant-leave', 9, { Timestamp: at(20), ParticipantCallStatus: 'completed' });
    const log = rooms;
    const entry = (callSid: string, second: number, n: number, direction: 'from-sdk' | 'to-sdk' = 'from-sdk') =>
      log.indexMessage(ROOM, {
        direction,
        callSid,
        sequence: n,
        idempotencyKey: `k${n}`,
        timestamp: new Date(Date.UTC(2026, 11, 6, 1, 0, second)).toISOString(),
        content: JSON.stringify({ n }),
      });
    await entry(AGENT, 5, 1); // alice, before bob
    await entry(ORIGIN, 8, 2); // the customer, before bob
    await entry(BOB, 12, 3); // bob, both in
    await entry(ORIGIN, 25, 4); // the customer, after alice left
    await entry(BOB, 26, 5, 'to-sdk'); // to bob, after alice left
    await log.indexMessage(ROOM, {
      direction: 'to-sdk',
      callSid: 'broadcast',
      idempotencyKey: 'b',
      legs: [BOB],
      timestamp: new Date(Date.UTC(2026, 11, 6, 1, 0, 15)).toISOString(),
      content: '{"n":6}',
    });
    const seen = async (as?: string) => {
      const res = await invoke(
        historyRoute,
        makeContext('/conference-messages', ENV),
        signedEvent(`${LOCAL_BASE}/conference-messages`, { conference: ROOM, ...(as ? { as } : {}) }),
      );
      return (res.body as { messages: { content: string }[] }).messages.map(
        (m) => (JSON.parse(m.content) as { n: number }).n,
      );
    };
    expect(await seen()).toEqual([1, 2, 3, 6, 4, 5]);
    expect(await seen('alice')).toEqual([1, 2, 3]);
    expect(await seen('bob')).toEqual([3, 6, 4, 5]);
    expect(await seen('nobody')).toEqual([]);
  });
});

describe('/conference-send', () => {
  const broadcast = (idempotencyKey: string) =>
    invoke(
      broadcastRoute,
      makeContext('/conference-send', ENV),
      signedEvent(`${LOCAL_BASE}/conference-send`, { conference: ROOM, content: '{"to":"all"}', idempotencyKey }),
    );

  it('reaches a participant subscribed on its own call whose participant-join has not arrived yet', async () => {
    await conferenceEvent('conference-start', 1);
    expect((await agentCallback('in-progress')).body).toEqual({
      status: 'in-progress',
      legs: { [AGENT]: 'subscribed' },
    });
    const res = await broadcast('early');
    expect(res.body).toEqual({ conference: ROOM, idempotencyKey: 'early', legs: { [AGENT]: 'sent' } });
    expect(delivered).toEqual([AGENT]);
  });

  it('leaves out a participant that has left the room', async () => {
    await conferenceEvent('conference-start', 1);
    await agentEvent('participant-join', 2);
    await agentEvent('participant-leave', 3, { ParticipantCallStatus: 'completed' });
    expect((await broadcast('late')).body).toMatchObject({ legs: {} });
    expect(delivered).toEqual([]);
  });
});
