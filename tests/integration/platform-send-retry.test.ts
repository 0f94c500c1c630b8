// A /send-message whose attempt failed at Twilio, retried at once with the same idempotencyKey, as
// the answer asks: the retry goes on (at once, or after the Retry-After the answers carry, which the
// bundled client honours) and the SDK gets the message once, whatever a reused IdempotencyKey does at
// Twilio (undocumented: the sandbox's `idempotency.variant` plays each reading).
import { callMessages, sendMessage } from '../../client/src';
import { IDEMPOTENCY_VARIANTS } from '../../sandbox/knobs';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';

const stack = useTestStack();
const ctl = () => stack.control;
const UDM_ROUTE = '/UserDefinedMessages.json';

let calls = 0;
/** A live SDK leg with its subscription: a fresh phone places a call. */
async function liveLeg(): Promise<{ identity: string; leg: string }> {
  const identity = `retry-${++calls}`;
  await ctl().registerPhone(identity, { autoAnswer: true });
  const leg = (await ctl().placeCall(identity, `+1555123${String(calls).padStart(4, '0')}`)).callSid;
  await waitFor(async () => (await ctl().call(leg)).subscriptions.length > 0, `a subscription on ${leg}`);
  return { identity, leg };
}

/** The UserDefinedMessages the sandbox delivered to the leg's SDK: each create that made one. */
async function delivered(identity: string, leg: string): Promise<number> {
  return (await ctl().phone(identity)).calls.find((c) => c.callSid === leg)?.received.length ?? 0;
}

/** The statuses of the UserDefinedMessage creates the sandbox answered since request `from` (one test runs at a time). */
const createsSince = (from: number) =>
  stack.sandbox.requests
    .slice(from)
    .filter((r) => r.product === 'api' && r.route.endsWith(UDM_ROUTE))
    .map((r) => r.status);

describe.each(IDEMPOTENCY_VARIANTS)('with a reused IdempotencyKey %s by Twilio', (variant) => {
  beforeAll(() => ctl().knobs({ idempotency: { variant } }));
  afterAll(() => ctl().knobs({ idempotency: { variant: 'same' } }));

  it.each([503, 429])(
    'a %i from Twilio (it did not take the message): the retry at once sends it, exactly once',
    async (status) => {
      const { identity, leg } = await liveLeg();
      const body = { callSid: leg, content: { n: status, variant }, idempotencyKey: `k-${status}-${variant}` };
      const first = await stack.withKnobs({ faults: { rate: 1, routes: [UDM_ROUTE], kinds: [status] } }, () =>
        sendMessage(stack.fn, body, { maxTries: 1 }),
      );
      expect(first).toMatchObject({ status: 503, body: { code: 'twilio-unavailable' }, retryAfterSeconds: 1 });
      expect(await delivered(identity, leg)).toBe(0);
      // At once: no 409 send-in-progress for the failed attempt's claim.
      const retry = await sendMessage(stack.fn, body, { maxTries: 1 });
      expect(retry).toMatchObject({ status: 201, body: { outcome: 'sent', idempotencyKey: body.idempotencyKey } });
      expect(await delivered(identity, leg)).toBe(1);
      // Asked again, it is the recorded send: still one.
      expect((await sendMessage(stack.fn, body, { maxTries: 1 })).status).toBe(200);
      expect(await delivered(identity, leg)).toBe(1);
      expect((await callMessages(stack.fn, leg)).body.messages).toHaveLength(1);
      await ctl().hangup(identity, leg);
    },
  );

  it('a 500 from Twilio (it may have taken the message): tried once, then the retry waits its Retry-After and sends it, exactly once', async () => {
    const { identity, leg } = await liveLeg();
    const body = { callSid: leg, content: { n: 500, variant }, idempotencyKey: `k-500-${variant}` };
    const before = stack.sandbox.requests.length;
    const first = await stack.withKnobs({ faults: { rate: 1, routes: [UDM_ROUTE], kinds: [500] } }, () =>
      sendMessage(stack.fn, body, { maxTries: 1 }),
    );
    expect(first).toMatchObject({ status: 503, body: { code: 'twilio-unavailable' } });
    expect(first.retryAfterSeconds).toBeGreaterThanOrEqual(4);
    // Not tried again inside the invocation: a second create could be a second message.
    expect(createsSince(before)).toEqual([500]);
    // The retry at once is told to wait, with how long.
    const atOnce = await sendMessage(stack.fn, body, { maxTries: 1 });
    expect(atOnce).toMatchObject({ status: 409, body: { code: 'send-in-progress' } });
    expect(atOnce.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    // The bundled client honours it and gets there.
    const waits: number[] = [];
    const done = await sendMessage(stack.fn, body, {
      maxTries: 4,
      sleep: (ms) => (waits.push(ms), new Promise((resolve) => setTimeout(resolve, ms))),
    });
    expect(done).toMatchObject({ status: 201, body: { outcome: 'sent' } });
    expect(waits.length).toBeGreaterThan(0);
    expect(await delivered(identity, leg)).toBe(1);
    expect((await callMessages(stack.fn, leg)).body.messages).toHaveLength(1);
    await ctl().hangup(identity, leg);
  }, 30_000);

  it('no answer (Twilio took the message after the 3 s timeout): the retry waits until that attempt has landed', async () => {
    const { identity, leg } = await liveLeg();
    const body = { callSid: leg, content: { slow: true, variant }, idempotencyKey: `k-slow-${variant}` };
    const first = await stack.withKnobs(
      { faults: { rate: 1, routes: [UDM_ROUTE], kinds: ['slow'], slowMs: 3500 } },
      () => sendMessage(stack.fn, body, { maxTries: 1 }),
    );
    expect(first).toMatchObject({ status: 503, body: { code: 'twilio-unavailable' } });
    const atOnce = await sendMessage(stack.fn, body, { maxTries: 1 });
    expect(atOnce).toMatchObject({ status: 409, body: { code: 'send-in-progress' } });
    // The first attempt lands while the retry waits.
    await waitFor(async () => (await delivered(identity, leg)) === 1, 'the slow attempt to land');
    const done = await sendMessage(stack.fn, body, { maxTries: 4 });
    expect([200, 201]).toContain(done.status);
    // Twilio dedupes a key it returns or refuses; one that ignores its keys makes a second message
    // here, which no server can prevent without a way to read UserDefinedMessages back.
    expect(await delivered(identity, leg)).toBe(variant === 'ignored' ? 2 : 1);
    expect((await callMessages(stack.fn, leg)).body.messages).toHaveLength(1);
    await ctl().hangup(identity, leg);
  }, 30_000);
});
