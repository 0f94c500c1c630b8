// Conference mode under the readings of Twilio its flows suite cannot run under (docs/CONFERENCES.md
// §2). Subscriptions refused (31211) on every leg in a conference (`subscriptionsInConference:
// refused`): nothing can then carry SDK → server messages on such a leg; what must still hold is that
// the call connects, the refusal is recorded on the leg for the operator to see, no callback is
// answered 5xx over and over, and server → SDK messages still go. Messages to a held participant
// refused (`hold: udm-refused`): a broadcast reaches the others, that leg's outcome says why.
import { callMessages, sendMessage, signedPost } from '../../client/src';
import type { BroadcastAnswer } from '../../lib/shared/api-types';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';
import { defined } from '../support/narrow';

const stack = useTestStack({ env: { CONFERENCE_MODE: 'always' } });
const ctl = () => stack.control;

describe('subscriptions refused on conference legs', () => {
  beforeAll(async () => {
    await ctl().knobs({ conferences: { subscriptionsInConference: 'refused' } });
  });
  afterAll(async () => {
    await ctl().knobs({ conferences: { subscriptionsInConference: 'work' } });
  });

  it('connects the call, records the refusal on the agent’s leg, and still sends to its SDK', async () => {
    await ctl().registerPhone('alice', { autoAnswer: true });
    const before = stack.sandbox.webhooks.log.length;
    await ctl().callIn('+15551250001');
    const agent = await waitFor(
      async () => (await ctl().phone('alice')).calls.find((c) => c.state === 'open'),
      'alice to answer',
    );
    await waitFor(
      async () =>
        (await callMessages(stack.fn, agent.callSid)).body.state?.subscription?.status === 'refused' ? true : undefined,
      'the refusal recorded on the leg',
      20_000,
    );
    await ctl().idle();
    expect((await ctl().call(agent.callSid)).subscriptionsCreated).toBe(0);
    // Every callback settled: a 503 (a copy that found another's claim unsettled) is redelivered by
    // Twilio, so each webhook's last attempt is answered 2xx.
    const last = new Map<string, number | null>();
    for (const w of stack.sandbox.webhooks.log.slice(before))
      last.set(`${w.kind} ${w.url} ${w.callSid ?? ''} ${w.callStatus ?? ''}`, w.status);
    expect([...last].filter(([, status]) => status === null || status >= 300)).toEqual([]);
    const sent = await sendMessage(stack.fn, { callSid: agent.callSid, content: { still: 'delivered' } });
    expect(sent.status).toBe(201);
    await waitFor(
      async () =>
        defined((await ctl().phone('alice')).calls.find((c) => c.callSid === agent.callSid)).received.length > 0 ||
        undefined,
      'alice to receive the message',
    );
  });
});

describe('messages to a held participant refused', () => {
  beforeAll(async () => {
    await ctl().knobs({ conferences: { hold: 'udm-refused' } });
  });
  afterAll(async () => {
    await ctl().knobs({ conferences: { hold: 'none' } });
  });

  it('broadcasts to the others and answers the held leg as not-active', async () => {
    await ctl().registerPhone('held-callee', { autoAnswer: true });
    await ctl().registerPhone('held-caller');
    const caller = (await ctl().placeCall('held-caller', 'client:held-callee')).callSid;
    const callee = (
      await waitFor(
        async () => (await ctl().phone('held-callee')).calls.find((c) => c.state === 'open'),
        'the callee to answer',
      )
    ).callSid;
    for (const leg of [caller, callee])
      await waitFor(async () => (await ctl().call(leg)).subscriptions.length > 0 || undefined, `${leg} subscribed`);
    await ctl().idle();
    const conference = defined((await ctl().call(caller)).conference);
    const held = await signedPost(stack.fn, '/conference-participant', {
      conference,
      action: 'hold',
      identity: 'held-callee',
    });
    expect(held.status).toBe(200);
    await waitFor(async () => (await ctl().call(callee)).hold === true || undefined, 'the callee on hold');
    const sent = await signedPost(stack.fn, '/conference-send', {
      conference,
      content: '{"to":"all"}',
      idempotencyKey: 'while-held',
    });
    expect(sent.status).toBe(201);
    expect((sent.body as BroadcastAnswer).legs).toEqual({ [caller]: 'sent', [callee]: 'not-active' });
    await ctl().hangupCall(caller);
  });
});
