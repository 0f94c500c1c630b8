// Issue #20, Must 5: nothing lost at Sync's size limits. Under the sandbox's Sync write limits by
// payload size (on by default: 20 writes/s per object, 10/s over 1 KiB, 2/s from 10 KiB, a 10 s
// burst window, an item write counting toward its leg's Map), a burst of maximum-size messages
// (10,000 characters; some multibyte, so their record is split into parts) goes both ways on one
// leg at once, each side keeping 4 in flight. The message callbacks answer 503 when Sync refuses and
// the sandbox's Twilio retries them as the callback URL's fragment asks; the backend's sends answer
// 503 with Retry-After and the bundled client retries them with the same key. What the SDK side sent and received is then
// counted against the leg's history: every message exactly once, none lost.
import { callMessages, sendMessage } from '../../client/src';
import type { CallMessagePageItem } from '../../lib/shared/api-types';
import { MAX_CONTENT_CHARS } from '../../lib/shared/limits';
import { legMapName } from '../../lib/store/call-store';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';

/** Messages each way. */
const BURST = 30;
/**
 * Messages each side has in flight at once: the phone (a send answers once its callback, retries
 * included, has) and the backend (a send ends once it answered 2xx, after its own retries).
 */
const IN_FLIGHT = 4;

const stack = useTestStack();

/** Exactly MAX_CONTENT_CHARS characters of JSON: every third padded with '漢' (3 bytes), every third with '😀' (4). */
function maxContent(direction: 'in' | 'out', i: number): string {
  const head = JSON.stringify({ direction, i, pad: '' }).slice(0, -2);
  const room = MAX_CONTENT_CHARS - head.length - 2;
  const filler = ['漢', '😀', 'a'][i % 3] ?? 'a';
  const pad = filler.repeat(Math.floor(room / filler.length)).padEnd(room, 'x');
  return `${head}${pad}"}`;
}

/** Every page of a leg's history, oldest first. */
async function wholeHistory(leg: string): Promise<CallMessagePageItem[]> {
  const messages: CallMessagePageItem[] = [];
  let pageToken: string | undefined;
  do {
    const page = await callMessages(stack.fn, leg, { pageSize: 50, pageToken });
    expect(page.status).toBe(200);
    messages.push(...page.body.messages);
    pageToken = page.body.nextPageToken ?? undefined;
  } while (pageToken);
  return messages;
}

const count = (values: string[]) => {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
};

describe('a burst of maximum-size messages on one leg, both ways, under Sync’s limits by size', () => {
  let leg: string;
  const inbound = Array.from({ length: BURST }, (_, i) => maxContent('in', i));
  const outbound = Array.from({ length: BURST }, (_, i) => maxContent('out', i));
  const deliveries: (number | null)[] = [];
  const sends: { status: number; outcome: string | undefined }[] = [];
  let burstStart = 0;
  let limits: unknown;

  beforeAll(async () => {
    const ctl = stack.control;
    limits = (await ctl.getKnobs()).sync.writeLimits;
    await ctl.registerPhone('alice', { autoAnswer: true });
    await ctl.callIn('+15551239020');
    leg = (
      await waitFor(async () => (await ctl.phone('alice')).calls.find((c) => c.state === 'open'), "alice's leg to open")
    ).callSid;
    await waitFor(async () => (await ctl.call(leg)).subscriptions.length > 0, 'the subscription', 15_000);

    burstStart = Date.now();
    let next = 0;
    const phone = async () => {
      for (let i = next++; i < BURST; i = next++) {
        const sent = await ctl.sendFromPhone('alice', leg, inbound[i]);
        deliveries.push(...sent.deliveries.map((d) => d.status));
      }
    };
    let nextOut = 0;
    const backend = async () => {
      for (let i = nextOut++; i < BURST; i = nextOut++) {
        const res = await sendMessage(
          stack.fn,
          { callSid: leg, content: outbound[i], idempotencyKey: `burst-${i}` },
          { budgetMs: 150_000 },
        );
        sends.push({ status: res.status, outcome: (res.body as { outcome?: string }).outcome });
      }
    };
    await Promise.all([...Array.from({ length: IN_FLIGHT }, phone), ...Array.from({ length: IN_FLIGHT }, backend)]);
    await ctl.idle();
  }, 240_000);

  it('runs under Sync’s write limits by size, on by default', () => {
    // SANDBOX_SYNC_OVER_1KIB picks the (undocumented) reading over 1 KiB; the rest is Twilio's documented limits.
    expect(limits).toMatchObject({ perSecond: 20, from10KiB: 2, windowSeconds: 10 });
  });

  it('is held back by Sync: its writes to the leg’s Map were refused with 429 / 54009 along the way', () => {
    const refused = stack.sandbox.requests.filter(
      (r) => r.at >= burstStart && r.status === 429 && !r.injected && r.route.includes(legMapName(leg)),
    );
    expect(refused.length).toBeGreaterThan(0);
  });

  it('stores every message from the SDK: each callback ends 200, none only after Twilio gave up', () => {
    expect(deliveries).toHaveLength(BURST);
    expect(deliveries.filter((status) => status !== 200)).toEqual([]);
  });

  it('sends every message to the SDK exactly once, each send ending 201 (the retries included)', async () => {
    expect(sends.filter((s) => s.status !== 201 && s.status !== 200)).toEqual([]);
    const received = (await stack.control.phone('alice')).calls.find((c) => c.callSid === leg)?.received ?? [];
    const got = count(received.map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content))));
    expect(outbound.filter((c) => got.get(c) !== 1)).toEqual([]);
    expect(received).toHaveLength(BURST);
  });

  it('holds every message both ways exactly once in the leg’s history: 0 lost', async () => {
    const history = await wholeHistory(leg);
    const fromSdk = count(history.filter((m) => m.direction === 'from-sdk').map((m) => m.content));
    const toSdk = count(history.filter((m) => m.direction === 'to-sdk').map((m) => m.content));
    const lost = [...inbound.filter((c) => fromSdk.get(c) !== 1), ...outbound.filter((c) => toSdk.get(c) !== 1)];
    expect(lost).toEqual([]);
    expect(history).toHaveLength(2 * BURST);
  });
});
