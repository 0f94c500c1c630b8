// /message-callback never refuses a genuine callback (issue 20, Must 8), over real twilio-run and the
// sandbox: on a real call's subscription, signed as Twilio signs, a message with a Sid of another
// format, non-JSON Content or another ContentType is stored, flagged and read back; a redelivery
// stays one message; only a forged one is refused.
import { callMessages, signedPost } from '../../client/src';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';
import { withoutFragment } from '../support/narrow';
import { randomMessageSid } from '../../testing/sids';

const stack = useTestStack();
const ctl = () => stack.control;
/** Calls this file placed, hung up after each test so that nothing outlives it. */
const placed: { identity: string; callSid: string }[] = [];

afterEach(async () => {
  for (const { identity, callSid } of placed.splice(0)) await ctl().hangup(identity, callSid);
  await ctl().idle();
});

async function liveLeg(identity: string): Promise<{ callSid: string; callbackPath: string }> {
  await ctl().registerPhone(identity, { autoAnswer: true });
  const { callSid } = await ctl().placeCall(identity, '+15557770020');
  placed.push({ identity, callSid });
  const subscription = await waitFor(
    async () => (await ctl().call(callSid)).subscriptions[0],
    `a subscription on ${callSid}`,
  );
  const url = new URL(withoutFragment(subscription.callback));
  return { callSid, callbackPath: `${url.pathname}${url.search}` };
}

describe('/message-callback stores what the JS SDK never sends, flagged', () => {
  it('stores another Sid format, non-JSON content and another ContentType, each once, and reads them back', async () => {
    const { callSid, callbackPath } = await liveLeg('odd-sdk');
    const callback = (over: Record<string, string>) =>
      signedPost<Record<string, unknown>>(stack.fn, callbackPath, {
        ContentType: 'application/json',
        Content: '{"x":1}',
        CallSid: callSid,
        Timestamp: new Date().toUTCString(),
        AccountSid: stack.sandbox.accountSid,
        ...over,
      });
    const sent = [
      { Sid: 'MX-mobile-0001', SequenceNumber: '1', Content: '{"from":"ios"}' },
      { Sid: randomMessageSid(), SequenceNumber: '2', Content: 'plain text from android' },
      { Sid: randomMessageSid(), SequenceNumber: '3', Content: '{"t":1}', ContentType: 'text/plain' },
    ];
    for (const over of sent) {
      const first = await callback(over);
      expect(first.status).toBe(200);
      expect(first.body.outcome).toBe('stored');
      // Twilio redelivers on a timeout: the same message again is a no-op.
      const again = await callback(over);
      expect(again.status).toBe(200);
      expect(again.body.outcome).toBe('duplicate');
    }
    const history = await callMessages(stack.fn, callSid);
    expect(history.status).toBe(200);
    expect(history.body.messages.map((m) => [m.sid, m.content, m.contentType, m.irregular])).toEqual([
      ['MX-mobile-0001', '{"from":"ios"}', 'application/json', ['sid']],
      [sent[1]?.Sid, 'plain text from android', 'application/json', ['content']],
      [sent[2]?.Sid, '{"t":1}', 'text/plain', ['content-type']],
    ]);
    expect(history.body.messages[1]).not.toHaveProperty('data');
    expect(history.body.messages[0]?.data).toEqual({ from: 'ios' });
  });

  it('stores a message whose Sid the SDK wrote in another format (sdkSidFormat uuid), redelivered, once', async () => {
    const { callSid } = await liveLeg('odd-uuid');
    await stack.withKnobs(
      {
        messages: { sdkSidFormat: 'uuid' },
        webhooks: { duplicateRate: 1, maxCopies: 2, duplicateKinds: ['message'] },
      },
      async () => {
        const sent = await ctl().sendFromPhone('odd-uuid', callSid, { from: 'a mobile sdk' });
        expect(sent.deliveries.map((d) => d.status)).toEqual([200]);
        await ctl().idle();
        const history = await callMessages(stack.fn, callSid);
        expect(history.body.messages).toEqual([
          expect.objectContaining({ sid: sent.voiceEventSid, irregular: ['sid'], data: { from: 'a mobile sdk' } }),
        ]);
        expect(sent.voiceEventSid).toMatch(/^[0-9A-F-]{36}$/);
      },
    );
  });

  it('still refuses a forged one (a wrong token) with 403', async () => {
    const { callSid, callbackPath } = await liveLeg('odd-forged');
    const forged = callbackPath.replace(/cme_token=[^&]+/, 'cme_token=forged');
    const res = await signedPost<Record<string, unknown>>(stack.fn, forged, {
      ContentType: 'text/plain',
      Content: 'hello',
      Sid: 'MX-1',
      SequenceNumber: '1',
      CallSid: callSid,
      AccountSid: stack.sandbox.accountSid,
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('callback-token-invalid');
  });
});
