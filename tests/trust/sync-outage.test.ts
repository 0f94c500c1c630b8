// Trust suite, Sync outage (issue #12): in the middle of a chatty call Sync refuses every request
// for longer than one invocation can ride out with its own retries. The callbacks caught by it answer
// 503; the retry fragment on the subscription's Callback URL (#rc=3&rp=5xx,ct,rt&rt=10000&tt=15000)
// makes Twilio deliver them again, and the redelivery stores them. Rules: 0 SDK messages lost, 0
// stored twice.
import { callMessages } from '../../client/src';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';
import { Figures } from './figures';
import { defined } from '../support/narrow';

jest.setTimeout(180_000);

/** Messages one every INTERVAL_MS for CHAT_MS; Sync refuses everything from OUTAGE_AT_MS for OUTAGE_MS. */
const INTERVAL_MS = 100;
const CHAT_MS = 22_000;
const OUTAGE_AT_MS = 5_000;
/**
 * Longer than one invocation can wait: its retries stop once no 3 s request fits in its 9 s
 * budget (lib/platform/retry.ts), about 6 s after it starts. Shorter than Twilio's 15 s for all attempts
 * (`tt`, the documented maximum), minus that first attempt: a message caught at the very start
 * of the outage is stored by the retry that starts ~6 s in and rides out the remaining ~4 s.
 */
const OUTAGE_MS = 10_000;

const figures = new Figures();
const stack = useTestStack();

afterAll(() => {
  figures.report(`Sync refuses every request for ${OUTAGE_MS / 1000} s mid-call`, 'trust-figures-sync-outage.md');
});

const ctl = () => stack.control;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('loses no SDK message and stores none twice when Sync is down longer than an invocation can wait', async () => {
  await ctl().registerPhone('chatty', { autoAnswer: true });
  const leg = (await ctl().placeCall('chatty', '+15550008000')).callSid;
  await waitFor(async () => (await ctl().call(leg)).subscriptions.length > 0, 'the leg subscribed');
  expect(defined((await ctl().call(leg)).subscriptions[0]).callback).toContain('#rc=');

  const started = Date.now();
  const sends: Promise<{ voiceEventSid: string; deliveries: { status: number | null }[] }>[] = [];
  const outage = (async () => {
    await sleep(OUTAGE_AT_MS);
    await ctl().knobs({ faults: { rate: 1, products: ['sync'], kinds: [503] } });
    await sleep(OUTAGE_MS);
    await ctl().knobs({ faults: { rate: 0 } });
  })();
  for (let i = 0; Date.now() - started < CHAT_MS; i++) {
    sends.push(ctl().sendFromPhone('chatty', leg, { n: i, at: Date.now() - started }));
    await sleep(INTERVAL_MS);
  }
  await outage;
  const sent = await Promise.all(sends);
  await ctl().idle();

  // Every message, read back through /call-messages.
  const stored: string[] = [];
  let token: string | null | undefined;
  do {
    const page = await callMessages(stack.fn, leg, { pageSize: 100, ...(token ? { pageToken: token } : {}) });
    expect(page.status).toBe(200);
    stored.push(...page.body.messages.map((m) => String(m.sid)));
    token = page.body.nextPageToken;
  } while (token);

  const sentSids = sent.map((s) => s.voiceEventSid);
  const storedSet = new Set(stored);
  const lost = sentSids.filter((sid) => !storedSet.has(sid)).length;
  const storedTwice = stored.length - storedSet.size;
  const log = stack.sandbox.webhooks.log.filter((w) => w.kind === 'message' && w.callSid === leg);
  const refused = log.filter((w) => w.status !== null && w.status >= 500).length;
  const noAnswer = log.filter((w) => w.status === null).length;
  const storedOnRetry = log.filter((w) => w.attempt > 1 && w.status === 200).length;
  const allAttemptsFailed = sent.filter((s) => s.deliveries.some((d) => d.status !== 200)).length;
  const slowest = Math.max(...log.map((w) => w.ms));
  const injected = stack.sandbox.requests.filter((r) => r.product === 'sync' && r.injected).length;

  figures.add('sync outage', 'Sync refuses every request for (s)', OUTAGE_MS / 1000, '> 6 (one invocation)', true);
  figures.add('sync outage', 'Sync requests refused (503)', injected, '> 0', injected > 0);
  figures.add('sync outage', 'SDK messages sent (one per 100 ms)', sentSids.length, '-', true);
  figures.add('sync outage', 'callback attempts answered 5xx', refused, '> 0', refused > 0);
  figures.add('sync outage', 'callback attempts unanswered', noAnswer, '-', true);
  figures.add('sync outage', 'messages stored by a redelivery', storedOnRetry, '> 0', storedOnRetry > 0);
  figures.add('sync outage', 'messages whose last attempt failed', allAttemptsFailed, '= 0', allAttemptsFailed === 0);
  figures.add('sync outage', 'SDK messages lost', lost, '= 0', lost === 0);
  figures.add('sync outage', 'SDK messages stored twice', storedTwice, '= 0', storedTwice === 0);
  figures.add('sync outage', 'slowest callback answer (ms)', slowest, '< 10000', slowest < 10_000);

  expect(injected).toBeGreaterThan(0);
  expect(refused).toBeGreaterThan(0);
  expect(storedOnRetry).toBeGreaterThan(0);
  expect({ lost, storedTwice, allAttemptsFailed }).toEqual({ lost: 0, storedTwice: 0, allAttemptsFailed: 0 });
  expect(slowest).toBeLessThan(10_000);
});
