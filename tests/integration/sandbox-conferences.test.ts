// Conferences in the sandbox (docs/CONFERENCES.md 1 and 3.8), through the real `twilio` client:
// Participants by name and by SID, hold/mute/kick, ending by API, `<Dial><Conference>` from a call
// to our number, the signed conference status callbacks and their SequenceNumbers, the 16xxx
// errors, the `conferences` knobs and the control API. The sandbox runs in-process; a small local
// server plays the functions (TwiML for /voice) and records every callback.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { startSandbox, type Sandbox } from '../../sandbox/app';
import { SandboxControl } from '../../sandbox/control-client';
import { SandboxRequestClient } from '../../sandbox/request-client';
import { defaultWebhookKnobs } from '../../sandbox/webhooks';
import { waitFor } from '../../testing/stack';
import { checkExchanges, loadContract } from '../support/openapi-contract';

interface Received {
  path: string;
  params: Record<string, string>;
  signed: boolean;
}

let sandbox: Sandbox;
let ctl: SandboxControl;
let client: ReturnType<typeof twilio>;
let receiver: http.Server;
let receiverUrl: string;
const received: Received[] = [];
/** What /voice answers for each new call to our number. */
let voiceTwiml = '<Response><Hangup/></Response>';
const exchangesSeen: Sandbox['exchanges'] = [];

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const params = Object.fromEntries(new URLSearchParams(body));
      const signed = twilio.validateRequest(
        sandbox.authToken,
        String(req.headers['x-twilio-signature'] ?? ''),
        `${receiverUrl}${req.url ?? '/'}`,
        params,
      );
      received.push({ path: url.pathname, params, signed });
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
  sandbox = await startSandbox({ functionsUrl: receiverUrl, recordExchanges: true, profile: 'deterministic' });
  ctl = new SandboxControl(sandbox.url);
  client = twilio(sandbox.accountSid, sandbox.authToken, { httpClient: new SandboxRequestClient(sandbox.url) });
});

afterAll(async () => {
  await sandbox?.close();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

beforeEach(async () => {
  await ctl.idle();
  exchangesSeen.push(...sandbox.exchanges); // reset() forgets them; the contract test reads them all
  sandbox.reset();
  Object.assign(sandbox.webhooks.knobs, defaultWebhookKnobs()); // reset() leaves webhook knobs as they are
  received.length = 0;
  voiceTwiml = '<Response><Hangup/></Response>';
  await ctl.registerPhone('alice', { autoAnswer: true });
  await ctl.registerPhone('bob', { autoAnswer: true });
});

/** The conference callbacks of one conference, one per SequenceNumber (copies dropped), in order. */
function conferenceEvents(conferenceSid: string, path = '/conf') {
  const all = received.filter((r) => r.path === path && r.params.ConferenceSid === conferenceSid);
  const bySeq = new Map(all.map((r) => [Number(r.params.SequenceNumber), r.params]));
  return { all, events: [...bySeq.entries()].sort(([a], [b]) => a - b).map(([, p]) => p) };
}

const callStatuses = (callSid: string) =>
  received.filter((r) => r.path === '/call-status' && r.params.CallSid === callSid).map((r) => r.params.CallStatus);

async function connected(name: string, count: number) {
  return waitFor(async () => {
    const room = await ctl.conference(name);
    return room.participants.filter((p) => p.status === 'connected').length === count && room;
  }, `${count} connected in ${name}`);
}

const conferenceCallback = (events = 'start end join leave mute hold modify') => ({
  conferenceStatusCallback: `${receiverUrl}/conf`,
  conferenceStatusCallbackEvent: events.split(' '),
});

describe('Participants API', () => {
  it('adds by name, holds, mutes, kicks by label and ends by API, with signed, numbered callbacks', async () => {
    const customer = await client.conferences('room-1').participants.create({
      from: '+15005550006',
      to: '+15550001111',
      label: 'customer',
      statusCallback: `${receiverUrl}/call-status`,
      statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
      ...conferenceCallback(),
    });
    expect(customer).toMatchObject({ status: 'queued', label: 'customer', hold: false, muted: false });
    expect(customer.conferenceSid).toMatch(/^CF[0-9a-f]{32}$/);
    const agent = await client.conferences('room-1').participants.create({
      from: '+15005550006',
      to: 'client:alice?team=blue&lang=en',
      label: 'agent',
      // Not the first participant: ignored.
      conferenceStatusCallback: `${receiverUrl}/ignored`,
    });
    expect(agent.conferenceSid).toBe(customer.conferenceSid);
    const room = await connected('room-1', 2);
    expect(room).toMatchObject({ sid: customer.conferenceSid, status: 'in-progress' });
    // The client callee rang with the custom parameters of its `To`.
    const alice = await ctl.phone('alice');
    expect(alice.calls.find((c) => c.callSid === agent.callSid)?.customParameters).toEqual({
      team: 'blue',
      lang: 'en',
    });

    const conference = client.conferences(customer.conferenceSid);
    expect(await conference.fetch()).toMatchObject({ friendlyName: 'room-1', status: 'in-progress' });
    expect((await client.conferences.list({ friendlyName: 'room-1' })).map((c) => c.sid)).toEqual([
      customer.conferenceSid,
    ]);
    expect(await conference.participants.list()).toHaveLength(2);
    expect(await conference.participants('customer').update({ hold: true })).toMatchObject({ hold: true });
    expect(await conference.participants(agent.callSid).update({ muted: true })).toMatchObject({ muted: true });
    expect(await conference.participants('agent').update({ endConferenceOnExit: true })).toMatchObject({
      endConferenceOnExit: true,
    });
    expect((await conference.participants.list({ hold: true })).map((p) => p.label)).toEqual(['customer']);
    expect((await conference.participants.list({ muted: true })).map((p) => p.label)).toEqual(['agent']);
    expect(await conference.participants('customer').fetch()).toMatchObject({ callSid: customer.callSid, hold: true });
    expect(await ctl.call(customer.callSid)).toMatchObject({ conference: 'room-1', hold: true, muted: false });

    // Kicked by label: it leaves; its call has no TwiML to go on with and ends.
    expect(await conference.participants('agent').remove()).toBe(true);
    await waitFor(async () => (await ctl.call(agent.callSid)).status === 'completed', 'agent call completed');
    // endConferenceOnExit on a kicked participant ends the conference.
    const ended = await conference.fetch();
    expect(ended).toMatchObject({
      status: 'completed',
      reasonConferenceEnded: 'participant-with-end-conference-on-exit-kicked',
      callSidEndingConference: agent.callSid,
    });
    await waitFor(async () => (await ctl.call(customer.callSid)).status === 'completed', 'customer call completed');
    await expect(conference.participants.list()).rejects.toMatchObject({ status: 400, code: 16022 });

    await ctl.idle();
    const { all, events } = conferenceEvents(customer.conferenceSid);
    expect(all.every((r) => r.signed)).toBe(true);
    expect(received.filter((r) => r.path === '/ignored')).toEqual([]);
    expect(events.map((e) => Number(e.SequenceNumber))).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.StatusCallbackEvent)).toEqual([
      'participant-join',
      'participant-join',
      'conference-start',
      'participant-hold',
      'participant-mute',
      'participant-modify',
      'participant-leave',
      'participant-leave',
      'conference-end',
    ]);
    for (const e of events) {
      expect(e).toMatchObject({ FriendlyName: 'room-1', AccountSid: sandbox.accountSid });
      expect(e.Timestamp).toMatch(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    }
    expect(events[6]).toMatchObject({
      CallSid: agent.callSid,
      ParticipantLabel: 'agent',
      ReasonParticipantLeft: 'participant_updated_via_api',
      ParticipantCallStatus: 'in-progress',
      Muted: 'true',
      EndConferenceOnExit: 'true',
    });
    expect(events[7]).toMatchObject({
      CallSid: customer.callSid,
      ReasonParticipantLeft: 'moderator_ended_conference',
      Hold: 'true',
    });
    expect(events[8]).toMatchObject({
      ReasonConferenceEnded: 'participant-with-end-conference-on-exit-kicked',
      CallSidEndingConference: agent.callSid,
    });
    // The participant's own call: its status callbacks, as a <Dial> noun's are sent.
    expect(callStatuses(customer.callSid)).toEqual(['initiated', 'ringing', 'in-progress', 'completed']);
  });

  it('adds by SID; 16022 for an unknown or completed conference, 16024 and 16026 for labels; ends by API', async () => {
    const first = await client.conferences('room-2').participants.create({
      from: '+15005550006',
      to: 'client:alice',
      label: 'a',
      ...conferenceCallback('start end'),
    });
    const sid = first.conferenceSid;
    const second = await client.conferences(sid).participants.create({ from: 'client:x', to: 'client:bob' });
    expect(second.conferenceSid).toBe(sid);
    await connected('room-2', 2);
    const unknown = 'CF' + '0'.repeat(32);
    await expect(
      client.conferences(unknown).participants.create({ from: '+15005550006', to: '+15550001111' }),
    ).rejects.toMatchObject({ status: 400, code: 16022 });
    await expect(
      client.conferences(sid).participants.create({ from: '+15005550006', to: '+15550001111', label: 'x/y' }),
    ).rejects.toMatchObject({ status: 400, code: 16024 });
    await expect(
      client.conferences(sid).participants.create({ from: '+15005550006', to: '+15550001111', label: 'a' }),
    ).rejects.toMatchObject({ status: 400, code: 16026 });
    // `From` must be a phone number when `To` is one.
    await expect(
      client.conferences(sid).participants.create({ from: 'client:x', to: '+15550001111' }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(client.conferences(sid).participants('nobody').fetch()).rejects.toMatchObject({
      status: 404,
      code: 20404,
    });

    expect(await client.conferences(sid).update({ status: 'completed' })).toMatchObject({
      status: 'completed',
      reasonConferenceEnded: 'conference-ended-via-api',
    });
    await waitFor(
      async () => (await ctl.call(first.callSid)).status === 'completed' && (await ctl.call(second.callSid)),
      'both calls end',
    );
    await expect(
      client.conferences(sid).participants.create({ from: '+15005550006', to: '+15550001111' }),
    ).rejects.toMatchObject({ status: 400, code: 16022 });
    // By name again: a new conference of the same name.
    const again = await client.conferences('room-2').participants.create({ from: 'client:x', to: 'client:alice' });
    expect(again.conferenceSid).not.toBe(sid);
    expect((await client.conferences.list({ friendlyName: 'room-2', status: 'completed' })).map((c) => c.sid)).toEqual([
      sid,
    ]);

    await ctl.idle();
    const { events } = conferenceEvents(sid);
    // Only start and end were asked for: numbered 1, 2 over the events sent (`sequence: contiguous`).
    expect(events.map((e) => [e.SequenceNumber, e.StatusCallbackEvent])).toEqual([
      ['1', 'conference-start'],
      ['2', 'conference-end'],
    ]);
    expect(events[1]).toMatchObject({ ReasonConferenceEnded: 'conference-ended-via-api' });
  });

  it('an add that is not answered leaves with participant_add_failed and its call reports busy', async () => {
    await client.conferences('room-3').participants.create({
      from: '+15005550006',
      to: 'client:alice',
      ...conferenceCallback('join leave'),
    });
    await connected('room-3', 1);
    await ctl.setPstnBehaviour('+15550002222', 'busy');
    const busy = await client.conferences('room-3').participants.create({
      from: '+15005550006',
      to: '+15550002222',
      statusCallback: `${receiverUrl}/call-status`,
    });
    await waitFor(async () => (await ctl.call(busy.callSid)).status === 'busy', 'busy');
    await ctl.idle();
    const leave = conferenceEvents(busy.conferenceSid).events.find((e) => e.CallSid === busy.callSid);
    expect(leave).toMatchObject({
      StatusCallbackEvent: 'participant-leave',
      ReasonParticipantLeft: 'participant_add_failed',
      ParticipantCallStatus: 'busy',
    });
    expect(callStatuses(busy.callSid)).toEqual(['busy']);
    expect((await ctl.conference('room-3')).status).toBe('init');
  });

  it('delivers conference events duplicated and reordered with the call callbacks; SequenceNumbers stay contiguous', async () => {
    await ctl.knobs({
      webhooks: { duplicateRate: 1, maxCopies: 2, maxDelayMs: 30, statusCallbackOrder: 'reordered', seed: 7 },
      conferences: { eventOrder: 'reordered' },
    });
    const a = await client.conferences('room-4').participants.create({
      from: '+15005550006',
      to: 'client:alice',
      ...conferenceCallback(),
    });
    await client.conferences('room-4').participants.create({ from: '+15005550006', to: 'client:bob' });
    await connected('room-4', 2);
    await client.conferences(a.conferenceSid).participants(a.callSid).update({ hold: true });
    await client.conferences(a.conferenceSid).update({ status: 'completed' });
    await ctl.idle();
    const { all, events } = conferenceEvents(a.conferenceSid);
    expect(all.length).toBeGreaterThan(events.length); // copies were sent
    expect(all.every((r) => r.signed)).toBe(true);
    expect(events.map((e) => Number(e.SequenceNumber))).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.StatusCallbackEvent).sort()).toEqual(
      [
        'participant-join',
        'participant-join',
        'conference-start',
        'participant-hold',
        'participant-leave',
        'participant-leave',
        'conference-end',
      ].sort(),
    );
  });
});

describe('<Dial><Conference>', () => {
  const twiml = (attrs: string, room = 'room-t') =>
    `<Response><Dial><Conference ${attrs}>${room}</Conference></Dial><Dial><Number>+15550009999</Number></Dial></Response>`;
  const childOf = async (parent: string) =>
    (await ctl.calls()).calls.find((c) => c.parentCallSid === parent && c.to === '+15550009999');

  it('the caller is the participant; a label in use skips to the next verb; a kicked caller goes on', async () => {
    voiceTwiml = twiml(
      `participantLabel="caller" statusCallback="${receiverUrl}/conf" statusCallbackEvent="start end join leave"`,
    );
    const { callSid: caller } = await ctl.callIn('+15557770001');
    const room = await connected('room-t', 1);
    expect(room.participants[0]).toMatchObject({ callSid: caller, label: 'caller' });
    expect(await ctl.call(caller)).toMatchObject({ status: 'in-progress', conference: 'room-t', parentCallSid: null });

    // Same label: 16025, and the call goes on to its next verb (the second <Dial>).
    const { callSid: second } = await ctl.callIn('+15557770002');
    await waitFor(() => childOf(second), 'second caller goes on to <Dial><Number>');
    expect((await ctl.stats()).debugger).toEqual(
      expect.arrayContaining([expect.objectContaining({ code: 16025, callSid: second })]),
    );

    const agent = await client.conferences('room-t').participants.create({
      from: '+15005550006',
      to: 'client:bob',
      label: 'agent',
      ...conferenceCallback('join'), // later values ignored: the first participant set them
    });
    await connected('room-t', 2);
    expect((await ctl.conference('room-t')).status).toBe('in-progress');
    // Kicked: its TwiML goes on after <Dial>.
    await client.conferences(agent.conferenceSid).participants('caller').remove();
    await waitFor(() => childOf(caller), 'kicked caller goes on to <Dial><Number>');
    // Bob hangs up: the last participant left.
    await ctl.hangup('bob', agent.callSid);
    await waitFor(async () => (await ctl.conference('room-t')).status === 'completed', 'conference ends');
    await ctl.idle();
    const { events } = conferenceEvents(agent.conferenceSid);
    expect(events.map((e) => [e.StatusCallbackEvent, e.CallSid, e.ReasonParticipantLeft])).toEqual([
      ['participant-join', caller, undefined],
      ['participant-join', agent.callSid, undefined],
      ['conference-start', undefined, undefined],
      ['participant-leave', caller, 'participant_updated_via_api'],
      ['participant-leave', agent.callSid, 'participant_hung_up'],
      ['conference-end', undefined, undefined],
    ]);
    expect(events.at(-1)).toMatchObject({
      ReasonConferenceEnded: 'last-participant-left',
      CallSidEndingConference: agent.callSid,
    });
    expect(events.map((e) => Number(e.SequenceNumber))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('endConferenceOnExit: the caller hanging up ends it for everyone; maxParticipants refuses with 16020', async () => {
    voiceTwiml = twiml(
      `endConferenceOnExit="true" maxParticipants="2" statusCallback="${receiverUrl}/conf" statusCallbackEvent="end leave"`,
      'room-e',
    );
    const { callSid: caller } = await ctl.callIn('+15557770003');
    await connected('room-e', 1);
    const agent = await client.conferences('room-e').participants.create({ from: '+15005550006', to: 'client:bob' });
    await connected('room-e', 2);
    await expect(
      client.conferences('room-e').participants.create({ from: '+15005550006', to: 'client:alice' }),
    ).rejects.toMatchObject({ code: 16020 });
    await ctl.hangupCall(caller);
    await waitFor(async () => (await ctl.call(agent.callSid)).status === 'completed', 'agent dropped');
    await ctl.idle();
    const { events } = conferenceEvents(agent.conferenceSid);
    expect(events.map((e) => [e.StatusCallbackEvent, e.ReasonParticipantLeft ?? e.ReasonConferenceEnded])).toEqual([
      ['participant-leave', 'participant_hung_up'],
      ['participant-leave', 'moderator_ended_conference'],
      ['conference-end', 'participant-with-end-conference-on-exit-left'],
    ]);
    expect(events[0]).toMatchObject({ CallSid: caller, ParticipantCallStatus: 'completed' });
    expect(events[2]).toMatchObject({ CallSidEndingConference: caller });
  });
});

describe('knobs and the control API', () => {
  async function twoInRoom(name: string, events = 'start end join leave mute hold') {
    const a = await client.conferences(name).participants.create({
      from: '+15005550006',
      to: 'client:alice',
      label: 'a',
      ...conferenceCallback(events),
    });
    const b = await client.conferences(name).participants.create({ from: '+15005550006', to: 'client:bob' });
    await connected(name, 2);
    return { a, b };
  }

  it('refuses bad values', async () => {
    for (const bad of [
      { conferences: { eventOrder: 'random' } },
      { conferences: { sequence: 1 } },
      { conferences: { nope: 'x' } },
    ])
      await expect(ctl.knobs(bad as never)).rejects.toMatchObject({ status: 400 });
    expect((await ctl.getKnobs()).conferences).toEqual({
      eventOrder: 'as-sent',
      leaveCallStatus: 'always',
      subscriptionsInConference: 'work',
      hold: 'none',
      sequence: 'contiguous',
      errorStatus: '400',
    });
  });

  it('subscriptionsInConference, hold, leaveCallStatus, sequence and errorStatus', async () => {
    await ctl.knobs({
      conferences: {
        subscriptionsInConference: 'refused',
        hold: 'udm-refused',
        leaveCallStatus: 'absent',
        sequence: 'gaps',
        errorStatus: 'by-code',
      },
    });
    const { a, b } = await twoInRoom('room-k', 'leave end');
    const calls = client.calls(a.callSid);
    await expect(
      calls.userDefinedMessageSubscriptions.create({ callback: `${receiverUrl}/messages` }),
    ).rejects.toMatchObject({ status: 400, code: 31211 });
    // Not held: a UDM goes through; held (through the control API): refused.
    await calls.userDefinedMessages.create({ content: '{"n":1}' });
    const held = await ctl.participantAction('room-k', 'a', 'hold');
    expect(held.participants.find((p) => p.label === 'a')).toMatchObject({ hold: true });
    expect(await ctl.call(a.callSid)).toMatchObject({ conference: 'room-k', hold: true });
    await expect(calls.userDefinedMessages.create({ content: '{"n":2}' })).rejects.toMatchObject({
      status: 400,
      code: 31211,
    });
    await ctl.participantAction('room-k', a.callSid, 'unhold');
    await ctl.participantAction('room-k', b.callSid, 'mute');
    expect((await ctl.conference('room-k')).participants.find((p) => p.callSid === b.callSid)).toMatchObject({
      muted: true,
    });
    await expect(
      client.conferences('CF' + '1'.repeat(32)).participants.create({ from: '+15005550006', to: '+15550001111' }),
    ).rejects.toMatchObject({ status: 404, code: 16022 });
    await expect(
      client.conferences(a.conferenceSid).participants.create({ from: 'client:x', to: 'client:bob', label: 'a' }),
    ).rejects.toMatchObject({ status: 409, code: 16026 });
    const removed = await ctl.participantAction('room-k', 'a', 'remove');
    expect(removed.status).toBe('in-progress');
    await ctl.participantAction('room-k', b.callSid, 'remove');
    await waitFor(async () => (await ctl.conference('room-k')).status === 'completed', 'ends');
    await ctl.idle();
    const { events } = conferenceEvents(a.conferenceSid);
    // Gaps: join, join, start, hold, unhold, mute were counted, not sent.
    expect(events.map((e) => [e.SequenceNumber, e.StatusCallbackEvent])).toEqual([
      ['7', 'participant-leave'],
      ['8', 'participant-leave'],
      ['9', 'conference-end'],
    ]);
    expect(events[0]).not.toHaveProperty('ParticipantCallStatus');
    expect(events[0]).not.toHaveProperty('ReasonParticipantLeft');
    expect(events[2]).toMatchObject({ ReasonConferenceEnded: 'last-participant-kicked' });
    const all = await ctl.conferences();
    expect(all.conferences.find((c) => c.sid === a.conferenceSid)).toMatchObject({
      name: 'room-k',
      eventsSent: 3,
      sequence: 9,
    });
  });
});

describe('REST contract', () => {
  it('every exchange matches the twilio-oai spec', async () => {
    await ctl.idle();
    const exchanges = [...exchangesSeen, ...sandbox.exchanges];
    const contract = loadContract();
    const ops = new Set(exchanges.map((e) => contract.operationFor(e)));
    for (const op of [
      'CreateParticipant',
      'ListParticipant',
      'FetchParticipant',
      'UpdateParticipant',
      'DeleteParticipant',
      'ListConference',
      'FetchConference',
      'UpdateConference',
    ])
      expect([...ops]).toContain(op);
    expect(checkExchanges(exchanges, contract)).toEqual([]);
  });
});
