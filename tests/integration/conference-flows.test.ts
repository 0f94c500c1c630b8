// Conference mode end to end: the sandbox plays Twilio's conferences and the SDK phones, the real
// functions run under real twilio-run with CONFERENCE_MODE=always, and the real `twilio` client
// reads what they stored. Each SDK participant is subscribed once, messages go both ways.
import { callMessages, sendMessage, signedPost } from '../../client/src';
import type { BroadcastAnswer, ConferenceMessagesPage, ConferenceRoom } from '../../lib/shared/api-types';
import { roomOf } from '../../lib/calls/conference';
import { conferenceMapName } from '../../lib/shared/sync-names';
import { waitFor } from '../../testing/stack';
import { operatorSession, useTestStack } from '../support/stack';
import { defined } from '../support/narrow';

const stack = useTestStack({ env: { CONFERENCE_MODE: 'always' } });
const ctl = () => stack.control;

async function subscribed(callSid: string) {
  return waitFor(async () => {
    const call = await ctl().call(callSid);
    return call.subscriptions.length > 0 ? call : undefined;
  }, `a subscription on ${callSid}`);
}

async function openCallOf(identity: string) {
  return waitFor(
    async () => (await ctl().phone(identity)).calls.find((c) => c.state === 'open'),
    `${identity} to have an open call`,
  );
}

/** The room's participant records, as /conference-status wrote them. */
async function participantRecords(room: string) {
  const items = await stack.twilio.sync.v1.services('default').syncMaps(conferenceMapName(room)).syncMapItems.list();
  return items.filter((i) => i.key.startsWith('p.')).map((i) => i.data as { callSid: string; identity?: string });
}

describe('a phone call to our number, in conference mode', () => {
  let callerSid: string;
  let agentSid: string;

  beforeAll(async () => {
    await ctl().registerPhone('alice', { autoAnswer: true });
    callerSid = (await ctl().callIn('+15551240001')).callSid;
    agentSid = (await openCallOf('alice')).callSid;
  });

  it('adds CLIENT_IDENTITY to the caller’s room as a participant, and subscribes that leg once', async () => {
    const agent = await subscribed(agentSid);
    expect(agent.conference).toBe(roomOf(callerSid));
    expect(agent.parentCallSid).toBeNull(); // a participant's own call: no <Dial> parent
    await ctl().idle();
    expect((await ctl().call(agentSid)).subscriptionsCreated).toBe(1);
    expect((await ctl().call(callerSid)).subscriptionsCreated).toBe(0);
    const room = await ctl().conference(roomOf(callerSid));
    expect(room.participants.map((p) => p.label).sort()).toEqual(['ext.caller', 'sdk.alice']);
  });

  it('carries messages both ways on the agent’s leg, its parent the caller’s call', async () => {
    await ctl().sendFromPhone('alice', agentSid, { from: 'agent', n: 1 });
    const sent = await sendMessage(stack.fn, { callSid: agentSid, content: { to: 'agent' }, idempotencyKey: 'conf-1' });
    expect(sent.status).toBe(201);
    await waitFor(
      async () =>
        (await ctl().phone('alice')).calls.find((c) => c.callSid === agentSid)?.received.length ? true : undefined,
      'alice to receive the message',
    );
    const history = await callMessages(stack.fn, agentSid);
    expect(history.body.state).toMatchObject({ role: 'child', parentCallSid: callerSid, identity: 'alice' });
    expect(history.body.messages.map((m) => m.direction).sort()).toEqual(['from-sdk', 'to-sdk']);
    // The room's history holds both too: a send to a participant's leg joins it.
    const room = (await signedPost(stack.fn, '/conference-messages', { conference: roomOf(callerSid) }))
      .body as ConferenceMessagesPage;
    expect(room.messages.map((m) => [m.direction, m.callSid]).sort()).toEqual([
      ['from-sdk', agentSid],
      ['to-sdk', agentSid],
    ]);
  });

  it('records who was in the room, and closes the agent’s leg out when the call ends', async () => {
    await ctl().hangupCall(callerSid);
    await ctl().idle();
    const records = await participantRecords(roomOf(callerSid));
    expect(records.map((r) => r.callSid).sort()).toEqual([callerSid, agentSid].sort());
    const history = await callMessages(stack.fn, agentSid);
    expect(history.body.state?.status).toBe('completed');
  });
});

describe('an SDK call to a client, in conference mode', () => {
  let callerSid: string;
  let calleeSid: string;

  beforeAll(async () => {
    await ctl().registerPhone('cora', { autoAnswer: true });
    await ctl().registerPhone('dan');
    // cmeMode=dial is ignored under CONFERENCE_MODE=always, and never reaches the callee.
    callerSid = (await ctl().placeCall('dan', 'client:cora', { topic: 'billing', cmeMode: 'dial' })).callSid;
    calleeSid = (await openCallOf('cora')).callSid;
  });

  it('subscribes both SDK participants once: the caller in /voice, the callee on its own call', async () => {
    await subscribed(callerSid);
    await subscribed(calleeSid);
    await ctl().idle();
    expect((await ctl().call(callerSid)).subscriptionsCreated).toBe(1);
    expect((await ctl().call(calleeSid)).subscriptionsCreated).toBe(1);
  });

  it("passes the caller's custom parameters to the callee, and not cmeMode", async () => {
    const call = defined((await ctl().phone('cora')).calls.find((c) => c.callSid === calleeSid));
    expect(call.customParameters).toMatchObject({ topic: 'billing' });
    expect(call.customParameters).not.toHaveProperty('cmeMode');
  });

  it('stores what each SDK sends under its own leg', async () => {
    await ctl().sendFromPhone('dan', callerSid, { from: 'dan' });
    await ctl().sendFromPhone('cora', calleeSid, { from: 'cora' });
    await ctl().idle();
    for (const [leg, who] of [
      [callerSid, 'dan'],
      [calleeSid, 'cora'],
    ] as const) {
      const history = await callMessages(stack.fn, leg);
      expect(history.body.messages.map((m) => JSON.parse(m.content) as unknown)).toEqual([{ from: who }]);
    }
  });

  it("keeps the room's history: each participant's messages once, in order", async () => {
    const page = await signedPost(stack.fn, '/conference-messages', { conference: roomOf(callerSid) });
    expect(page.status).toBe(200);
    const { messages } = page.body as ConferenceMessagesPage;
    expect(messages.map((m) => [m.direction, m.callSid, m.identity, JSON.parse(m.content ?? 'null')])).toEqual(
      expect.arrayContaining([
        ['from-sdk', callerSid, 'dan', { from: 'dan' }],
        ['from-sdk', calleeSid, 'cora', { from: 'cora' }],
      ]),
    );
    expect(messages).toHaveLength(2);
  });

  it('broadcasts to every SDK participant once, a retry sending nothing twice', async () => {
    const body = { conference: roomOf(callerSid), content: JSON.stringify({ to: 'all' }), idempotencyKey: 'b-1' };
    const first = await signedPost(stack.fn, '/conference-send', body);
    expect(first.status).toBe(201);
    expect((first.body as BroadcastAnswer).legs).toEqual({ [callerSid]: 'sent', [calleeSid]: 'sent' });
    const again = await signedPost(stack.fn, '/conference-send', body);
    expect((again.body as BroadcastAnswer).legs).toEqual({ [callerSid]: 'already-sent', [calleeSid]: 'already-sent' });
    const reused = await signedPost(stack.fn, '/conference-send', { ...body, content: '{"other":1}' });
    expect(reused.status).toBe(409);
    for (const [identity, leg] of [
      ['dan', callerSid],
      ['cora', calleeSid],
    ] as const) {
      const call = defined((await ctl().phone(identity)).calls.find((c) => c.callSid === leg));
      expect(call.received.map((r) => r.content)).toEqual([{ to: 'all' }]);
    }
    const { messages } = (await signedPost(stack.fn, '/conference-messages', { conference: roomOf(callerSid) }))
      .body as ConferenceMessagesPage;
    const broadcasts = messages.filter((m) => m.callSid === 'broadcast');
    expect(broadcasts).toHaveLength(1);
    expect(broadcasts[0]).toMatchObject({ direction: 'to-sdk', idempotencyKey: 'b-1', content: '{"to":"all"}' });
  });

  it("reads a long message or broadcast from its leg's copy (the room keeps only short ones inline)", async () => {
    const long = { text: 'é'.repeat(1500) }; // 3,000 bytes of UTF-8: over the inline limit
    await ctl().sendFromPhone('dan', callerSid, long);
    const body = { conference: roomOf(callerSid), content: JSON.stringify(long), idempotencyKey: 'b-long' };
    expect((await signedPost(stack.fn, '/conference-send', body)).status).toBe(201);
    await ctl().idle();
    const { messages } = (await signedPost(stack.fn, '/conference-messages', { conference: roomOf(callerSid) }))
      .body as ConferenceMessagesPage;
    const longOnes = messages.filter((m) => m.content !== null && m.content.length > 1000);
    expect(longOnes.map((m) => [m.direction, m.callSid === 'broadcast'])).toEqual(
      expect.arrayContaining([
        ['from-sdk', false],
        ['to-sdk', true],
      ]),
    );
    for (const m of longOnes) expect(JSON.parse(m.content!)).toEqual(long);
  });

  it('ends the room when either party hangs up, as a bridged call ends', async () => {
    await ctl().hangupCall(calleeSid);
    await ctl().idle();
    expect((await ctl().call(callerSid)).status).toBe('completed');
    expect((await callMessages(stack.fn, callerSid)).body.state?.status).toBe('completed');
  });
});

describe('a warm transfer: hold the customer, add a second agent, the first one leaves', () => {
  let customer: string;
  let agentOne: string;
  let agentTwo: string;
  let room: string;
  const pause = () => new Promise((resolve) => setTimeout(resolve, 1100)); // the next second, Twilio's clock
  const participant = (body: Record<string, string>) =>
    signedPost(stack.fn, '/conference-participant', { conference: room, ...body });
  const seenBy = async (as: string) => {
    const page = (await signedPost(stack.fn, '/conference-messages', { conference: room, as }))
      .body as ConferenceMessagesPage;
    return page.messages.map((m) => (JSON.parse(m.content ?? 'null') as { n: number }).n).sort();
  };

  beforeAll(async () => {
    await ctl().registerPhone('alice', { autoAnswer: true });
    await ctl().registerPhone('wt-bob', { autoAnswer: true });
    customer = (await ctl().callIn('+15551240002')).callSid;
    room = roomOf(customer);
    agentOne = (await openCallOf('alice')).callSid;
    await subscribed(agentOne);
  });

  it('holds the customer, adds the second agent (subscribed once), then lets the first leave', async () => {
    await ctl().sendFromPhone('alice', agentOne, { n: 1 });
    await pause();
    expect((await participant({ action: 'hold', callSid: customer })).status).toBe(200);
    await waitFor(async () => (await ctl().call(customer)).hold === true || undefined, 'the customer on hold');
    const add = await participant({ action: 'add', to: 'wt-bob' });
    expect(add.status).toBe(201);
    agentTwo = (add.body as { callSid: string }).callSid;
    await subscribed(agentTwo);
    await ctl().sendFromPhone('wt-bob', agentTwo, { n: 2 });
    await ctl().sendFromPhone('alice', agentOne, { n: 3 });
    expect((await participant({ action: 'unhold', callSid: customer })).status).toBe(200);
    await pause();
    expect((await participant({ action: 'remove', identity: 'alice' })).status).toBe(200);
    await ctl().idle();
    // The room goes on without agent one: the customer and agent two are still in it.
    expect((await ctl().call(customer)).status).toBe('in-progress');
    expect((await ctl().call(agentTwo)).status).toBe('in-progress');
    expect((await callMessages(stack.fn, agentOne)).body.state?.status).toBe('completed');
    expect((await ctl().call(agentTwo)).subscriptionsCreated).toBe(1);
    // The room as its events recorded it: the customer and agent two in it, agent one gone.
    const operator = await operatorSession(stack);
    const seen = await fetch(`${stack.functionsUrl}/operator-conference`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${operator}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ conference: room, action: 'room' }),
    });
    const recorded = (await seen.json()) as ConferenceRoom;
    expect(Object.fromEntries(recorded.participants.map((p) => [p.callSid, p.present]))).toEqual({
      [customer]: true,
      [agentOne]: false,
      [agentTwo]: true,
    });
  });

  it('keeps messages flowing to whoever is in the room, and each agent sees only its own time in it', async () => {
    await pause();
    await ctl().sendFromPhone('wt-bob', agentTwo, { n: 4 });
    const broadcast = await signedPost(stack.fn, '/conference-send', {
      conference: room,
      content: JSON.stringify({ n: 5 }),
      idempotencyKey: 'after-transfer',
    });
    expect((broadcast.body as BroadcastAnswer).legs).toEqual({ [agentTwo]: 'sent' });
    await ctl().idle();
    expect(await seenBy('alice')).toEqual([1, 2, 3]);
    expect(await seenBy('wt-bob')).toEqual([2, 3, 4, 5]);
  });

  it('ends with the customer: the room and the second agent’s leg close', async () => {
    await ctl().hangupCall(customer);
    await ctl().idle();
    expect((await callMessages(stack.fn, agentTwo)).body.state?.status).toBe('completed');
  });
});
