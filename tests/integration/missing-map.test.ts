// Issue #11 §1: Sync answers a Map that does not exist with 404 and a code that varies (20404 as
// production code sees it, 54200, 54300 in Twilio's Sync SDK tests). Every route that meets one —
// a leg never seen, or one whose Map expired mid-call — stores (creating the Map), or answers 4xx:
// never a 5xx. Run once per code, over real twilio-run and the sandbox.
import { callMessages, sendMessage, signedPost } from '../../client/src';
import { messageCallbackQuery } from '../../lib/calls/callback-urls';
import { legMapName } from '../../lib/store/call-store';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { MISSING_MAP_CODES } from '../../sandbox/rest/sync/state';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';
import { randomCallSid, randomMessageSid } from '../../testing/sids';

const stack = useTestStack();
const ctl = () => stack.control;
const maps = () => stack.twilio.sync.v1.services('default').syncMaps;

beforeAll(async () => {
  await ctl().registerPhone('mia', { autoAnswer: true });
});

/** A live SDK leg (mia calls a number), subscribed, whose Map is then removed as if it had expired. */
async function liveLegWithoutMap(): Promise<string> {
  const { callSid } = await ctl().placeCall('mia', '+15551237000');
  await waitFor(async () => (await ctl().call(callSid)).subscriptions.length > 0, 'the subscription', 15_000);
  await ctl().idle();
  await maps()(legMapName(callSid)).remove();
  return callSid;
}

/** Every answer the functions gave a webhook of this leg since `from`, and the 5xx among them. */
function webhookAnswers(callSid: string, from: number) {
  const answers = stack.sandbox.webhooks.log.slice(from).filter((w) => w.callSid === callSid);
  return { answers, fiveXX: answers.filter((w) => w.status !== null && w.status >= 500) };
}

describe.each(MISSING_MAP_CODES)('Sync answers a missing Map with 404/%i', (code) => {
  beforeAll(() => ctl().knobs({ sync: { missingMapCode: code } }));

  it('the sandbox answers that code', async () => {
    await expect(maps()('cme.call.nothing-here').fetch()).rejects.toMatchObject({ status: 404, code });
  });

  it('/message-callback: a message on a leg never seen is stored (the Map made first)', async () => {
    const leg = randomCallSid();
    const sid = randomMessageSid();
    const res = await signedPost(
      { baseUrl: stack.functionsUrl, authToken: stack.sandbox.authToken },
      `/message-callback?${new URLSearchParams(messageCallbackQuery(stack.sandbox.authToken, leg))}`,
      {
        CallSid: leg,
        AccountSid: stack.sandbox.accountSid,
        Sid: sid,
        SequenceNumber: '1',
        ContentType: 'application/json',
        Content: '{"first":true}',
        Timestamp: new Date().toUTCString(),
      },
    );
    expect(res.status).toBe(200);
    expect((await callMessages(stack.fn, leg)).body.messages.map((m) => m.sid)).toEqual([sid]);
  });

  it('/message-callback and /call-status: a live leg whose Map expired keeps its messages and its end', async () => {
    const leg = await liveLegWithoutMap();
    const from = stack.sandbox.webhooks.log.length;
    const sent = await ctl().sendFromPhone('mia', leg, { after: 'expiry' });
    expect(sent.deliveries.at(-1)?.status).toBe(200);
    await ctl().hangup('mia', leg);
    await ctl().idle();
    expect(webhookAnswers(leg, from).fiveXX).toEqual([]);
    const history = await callMessages(stack.fn, leg);
    expect(history.status).toBe(200);
    expect(history.body.messages.map((m) => m.sid)).toEqual([sent.voiceEventSid]);
    expect(history.body.state).toMatchObject({ status: 'completed' });
  });

  it('/send-message: a live leg whose Map expired is sent to and recorded again', async () => {
    const leg = await liveLegWithoutMap();
    const res = await sendMessage(stack.fn, { callSid: leg, content: { again: true }, idempotencyKey: `k-${code}` });
    expect(res.status).toBe(201);
    expect((await callMessages(stack.fn, leg)).body.messages).toHaveLength(1);
    await ctl().hangup('mia', leg);
  });

  it('/send-message and /call-messages: a call nobody knows is a 404, and nothing is written', async () => {
    const leg = randomCallSid();
    const sent = await sendMessage(stack.fn, { callSid: leg, content: { to: 'nobody' } });
    expect([sent.status, (sent.body as { code?: string }).code]).toEqual([404, 'call-not-found']);
    const read = await callMessages(stack.fn, leg);
    expect(read.status).toBe(404);
    await expect(maps()(legMapName(leg)).fetch()).rejects.toMatchObject({ status: 404 });
  });

  it('/operator-calls: listing calls whose Maps expired answers 200', async () => {
    const leg = await liveLegWithoutMap();
    const login = await fetch(`${stack.functionsUrl}/operator-session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ secret: SANDBOX_DEFAULTS.operatorSecret }).toString(),
    });
    const { session } = (await login.json()) as { session: string };
    // The console lists calls from the Calls API, which is eventually consistent (the realistic
    // profile lags it, `calls.lagMs`): the leg is listed once the API has caught up.
    const { status, calls } = await waitFor(async () => {
      const res = await fetch(`${stack.functionsUrl}/operator-calls`, {
        headers: { Authorization: `Bearer ${session}` },
      });
      const listed = res.status === 200 ? ((await res.json()) as { calls: { callSid: string }[] }).calls : [];
      return res.status !== 200 || listed.some((c) => c.callSid === leg)
        ? { status: res.status, calls: listed }
        : false;
    }, 'the leg listed');
    expect(status).toBe(200);
    expect(calls.map((c) => c.callSid)).toContain(leg);
    await ctl().hangup('mia', leg);
  });
});
