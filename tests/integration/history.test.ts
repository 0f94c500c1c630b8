// Issue #13: a long history pages at a flat cost. A live SDK leg in the sandbox gets one real message
// from its phone (delivered twice), then 4,999 more written straight into Sync through the store
// (testing/fill.ts: the same keys the functions write), and is read back through real twilio-run.
import { callMessages, signedPost } from '../../client/src';
import type { CallMessagePageItem } from '../../lib/shared/api-types';
import { legMapName } from '../../lib/store/call-store';
import { fillLeg, filledMessageSid, sandboxStore, withoutWriteLimits } from '../../testing/fill';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';
import { defined, withoutFragment } from '../support/narrow';
import { messageSid } from '../../testing/sids';

const LENGTH = 5_000;
const PAGE_SIZE = 100;

const stack = useTestStack();
let leg: string;
let real: CallMessagePageItem;
/** The fill's numbering: message i of the fill is timestamped startMs + i s (reaching past now). */
let fill: { firstSequence: number; startMs: number };
const pages: { status: number; messages: CallMessagePageItem[]; syncRequests: number }[] = [];
/** The real message's story, checked by the first test: the phone's Sid, its deliveries' answers, the first page. */
const realMessage: { sentSid: string; deliveryStatuses: (number | null)[]; firstPage: CallMessagePageItem[] } = {
  sentSid: '',
  deliveryStatuses: [],
  firstPage: [],
};

/** Sync requests the sandbox served for this leg's Map while `read` ran (nothing else touches it then). */
async function counted<T>(read: () => Promise<T>): Promise<{ result: T; syncRequests: number }> {
  const before = stack.sandbox.requests.length;
  const result = await read();
  const mapName = legMapName(leg);
  const syncRequests = stack.sandbox.requests
    .slice(before)
    .filter((r) => r.product === 'sync' && r.route.includes(mapName)).length;
  return { result, syncRequests };
}

beforeAll(async () => {
  const ctl = stack.control;
  await ctl.registerPhone('alice', { autoAnswer: true });
  await ctl.callIn('+15551239001');
  leg = (
    await waitFor(async () => (await ctl.phone('alice')).calls.find((c) => c.state === 'open'), "alice's leg to open")
  ).callSid;
  await waitFor(async () => (await ctl.call(leg)).subscriptions.length > 0, 'the subscription', 15_000);

  // The first message from the phone, delivered twice by the sandbox's Twilio (a redelivery).
  const knobs = await ctl.getKnobs();
  await ctl.knobs({ webhooks: { duplicateRate: 1, maxCopies: 2, duplicateKinds: ['message'] } });
  const sent = await ctl.sendFromPhone('alice', leg, { real: true });
  await ctl.idle();
  const { duplicateRate, maxCopies, duplicateKinds } = knobs.webhooks;
  await ctl.knobs({ webhooks: { duplicateRate, maxCopies, duplicateKinds } });
  realMessage.sentSid = sent.voiceEventSid;
  realMessage.deliveryStatuses = stack.sandbox.webhooks.log
    .filter((w) => w.kind === 'message' && w.callSid === leg)
    .map((w) => w.status);
  realMessage.firstPage = (await callMessages(stack.fn, leg, { pageSize: PAGE_SIZE })).body.messages;
  real = defined(realMessage.firstPage[0]);

  // The rest, straight into Sync: no REST latency while filling (the realistic profile's 20-150 ms).
  await ctl.knobs({ faults: { latency: null } });
  fill = { firstSequence: (real.sequence ?? 1) + 1, startMs: Date.parse(real.timestamp) + 1000 };
  await withoutWriteLimits(ctl, () =>
    fillLeg(sandboxStore(stack.sandbox), leg, { ...fill, count: LENGTH - 1, concurrency: 16 }),
  );
  await ctl.knobs({ faults: { latency: knobs.faults.latency ?? null } });
  await ctl.idle();

  let pageToken: string | undefined;
  do {
    const { result, syncRequests } = await counted(() =>
      callMessages(stack.fn, leg, { pageSize: PAGE_SIZE, pageToken }),
    );
    pages.push({ status: result.status, messages: result.body.messages, syncRequests });
    pageToken = result.body.nextPageToken ?? undefined;
  } while (pageToken);
}, 60_000);

it('stores a message delivered twice once', () => {
  expect(realMessage.deliveryStatuses).toEqual([200, 200]);
  expect(realMessage.firstPage).toHaveLength(1);
  expect(real.sid).toBe(realMessage.sentSid);
});

it(`reads a ${LENGTH.toLocaleString('en-US')}-message leg in pages of ${PAGE_SIZE}, each at most 2 Sync requests`, () => {
  expect(pages).toHaveLength(LENGTH / PAGE_SIZE);
  expect(pages.map((p) => p.status)).toEqual(pages.map(() => 200));
  const [first, middle, last] = [
    defined(pages[0]),
    defined(pages[Math.floor(pages.length / 2)]),
    defined(pages.at(-1)),
  ];
  for (const page of [first, middle, last]) expect(page.syncRequests).toBeLessThanOrEqual(2);
  expect(Math.max(...pages.map((p) => p.syncRequests))).toBeLessThanOrEqual(2);
  // A page costs what it reads, not less: both ranges are read for every page.
  expect(first.syncRequests).toBe(2);
});

it('gives every message once, in order, across the pages', () => {
  const all = pages.flatMap((p) => p.messages);
  expect(all).toHaveLength(LENGTH);
  expect(new Set(all.map((m) => m.cursor)).size).toBe(LENGTH);
  expect(new Set(all.map((m) => m.sid)).size).toBe(LENGTH);
  expect(defined(all[0]).sid).toBe(real.sid);
  // The fill numbers its messages 0…4,998 in history order, alternately from and to the SDK.
  expect(all.slice(1).map((m) => (JSON.parse(m.content) as { i: number }).i)).toEqual(
    Array.from({ length: LENGTH - 1 }, (_, i) => i),
  );
  expect(all.slice(1, 5).map((m) => m.direction)).toEqual(['from-sdk', 'to-sdk', 'from-sdk', 'to-sdk']);
  const sequences = all.filter((m) => m.direction === 'from-sdk').map((m) => m.sequence ?? NaN);
  expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
});

it('catches up after the last message in 1 Sync request: nothing new, then a message each way', async () => {
  const lastCursor = defined(defined(pages.at(-1)).messages.at(-1)).cursor;
  const idle = await counted(() => callMessages(stack.fn, leg, { after: lastCursor }));
  expect(idle.result.status).toBe(200);
  expect(idle.result.body.messages).toEqual([]);
  expect(idle.result.body.state?.status).toBe('in-progress');
  expect(idle.syncRequests).toBe(1);

  // From the SDK: a message callback as Twilio posts it, numbered after the filled history (the
  // phone's own counter is behind what the fill wrote).
  const subscription = defined((await stack.control.call(leg)).subscriptions[0]);
  const url = new URL(withoutFragment(subscription.callback));
  const sequences = pages.flatMap((p) => p.messages.map((m) => m.sequence ?? 0));
  const fromPhone = { voiceEventSid: messageSid(0xe) };
  const posted = await signedPost(stack.fn, `${url.pathname}${url.search}`, {
    ContentType: 'application/json',
    Content: '{"catchUp":"from the SDK"}',
    SequenceNumber: String(Math.max(...sequences) + 1),
    CallSid: leg,
    Timestamp: new Date().toUTCString(),
    AccountSid: stack.sandbox.accountSid,
    Sid: fromPhone.voiceEventSid,
  });
  expect(posted.status).toBe(200);
  // To the SDK: the fill's next message (its send time follows the fill's, which runs past now).
  await fillLeg(sandboxStore(stack.sandbox), leg, { ...fill, count: 1, firstIndex: LENGTH - 1 });
  const caughtUp = await counted(() => callMessages(stack.fn, leg, { after: lastCursor }));
  expect(caughtUp.result.body.messages.map((m) => [m.direction, m.sid])).toEqual([
    ['from-sdk', fromPhone.voiceEventSid],
    ['to-sdk', filledMessageSid(LENGTH - 1, leg)],
  ]);
  expect(caughtUp.syncRequests).toBe(1);
});

it('stores a message callback redelivered after the history grew once', async () => {
  const subscription = defined((await stack.control.call(leg)).subscriptions[0]);
  const url = new URL(withoutFragment(subscription.callback));
  const redelivered = await signedPost<{ outcome?: string }>(stack.fn, `${url.pathname}${url.search}`, {
    ContentType: 'application/json',
    Content: real.content,
    SequenceNumber: String(real.sequence),
    CallSid: leg,
    Timestamp: new Date(real.timestamp).toUTCString(),
    AccountSid: stack.sandbox.accountSid,
    Sid: real.sid!,
  });
  expect(redelivered.status).toBe(200);
  expect(redelivered.body.outcome).toBe('duplicate');
  const { result, syncRequests } = await counted(() => callMessages(stack.fn, leg, { pageSize: PAGE_SIZE }));
  expect(syncRequests).toBeLessThanOrEqual(2);
  expect(result.body.messages.filter((m) => m.sid === real.sid)).toHaveLength(1);
  expect(result.body.messages.map((m) => m.cursor)).toEqual(defined(pages[0]).messages.map((m) => m.cursor));
});
