// Table 10 (issue #20): sustained messages/s on one call leg by message size, under the sandbox's
// Sync write limits by payload size (on by default: 20 writes/s per object, 10/s over 1 KiB, 2/s
// from 10 KiB, a 10 s burst window; all of a leg's writes go to its one Map). For each size, a fresh
// leg gets messages both ways at once through the whole path: the SDK phone sends (its callbacks
// retried by the sandbox's Twilio as the callback URL's fragment asks) and the backend sends through
// the bundled client (which retries a 503 after its Retry-After, same key). Sustained = messages
// completed after Sync first refused a write to the leg's Map (the burst window spent), over the
// time from then to the last one. Then every message is looked for in the leg's history: 0 lost.
import { callMessages, sendMessage } from '../client/src';
import type { CallMessagePageItem } from '../lib/shared/api-types';
import { legMapName } from '../lib/store/call-store';
import { waitFor } from '../testing/stack';
import type { BenchStack } from './stack';

export interface SizeRateRow {
  /** Characters of JSON content (ASCII). */
  chars: number;
  /** Bytes of one such message's record (≈ its Sync item's data: the message's fields as JSON). */
  itemBytes: number;
  messagesEachWay: number;
  /** Both directions together, after the burst window was spent. */
  sustainedPerSecond: number;
  fromSdkPerSecond: number;
  toSdkPerSecond: number;
  /** Seconds from the first send to the last message stored. */
  totalSeconds: number;
  /** Writes to the leg's Map Sync refused (429 / 54009). */
  refused: number;
  /** Messages not in the history exactly once (both ways), or not received once by the SDK. */
  lost: number;
  /**
   * Messages whose sender was told they failed: a callback that never answered 200 within Twilio's
   * retries, or a send that did not end 2xx within the client's budget (each may still be stored).
   */
  failed: number;
}

export interface SizeRateOptions {
  sizes: { chars: number; messagesEachWay: number }[];
  /** Messages in flight at once on each side. */
  inFlight: number;
}

/** `chars` characters of JSON: `{"d":…,"i":…,"pad":"aaa…"}`. */
function content(direction: 'in' | 'out', i: number, chars: number): string {
  const head = JSON.stringify({ d: direction, i, pad: '' }).slice(0, -2);
  return `${head}${'a'.repeat(Math.max(0, chars - head.length - 2))}"}`;
}

/** A message's fields as the store keeps them, as JSON bytes (what Sync sizes a write by). */
function recordBytes(m: CallMessagePageItem): number {
  const { sid, callSid, direction, sequence, contentType, content, timestamp } = m;
  return Buffer.byteLength(JSON.stringify({ sid, callSid, direction, sequence, contentType, content, timestamp }));
}

async function history(b: BenchStack, leg: string): Promise<CallMessagePageItem[]> {
  const messages: CallMessagePageItem[] = [];
  let pageToken: string | undefined;
  do {
    const page = await callMessages(b.fn, leg, { pageSize: 100, pageToken });
    if (page.status !== 200) throw new Error(`/call-messages answered ${page.status}`);
    messages.push(...page.body.messages);
    pageToken = page.body.nextPageToken ?? undefined;
  } while (pageToken);
  return messages;
}

async function measureOne(
  b: BenchStack,
  identity: string,
  size: { chars: number; messagesEachWay: number },
  inFlight: number,
  log: (s: string) => void,
): Promise<SizeRateRow> {
  const ctl = b.control;
  const before = new Set((await ctl.phone(identity)).calls.map((c) => c.callSid));
  const { callSid: parent } = await ctl.callIn('+15551230020');
  const leg = await waitFor(
    async () => (await ctl.phone(identity)).calls.find((c) => c.state === 'open' && !before.has(c.callSid))?.callSid,
    `${identity}'s new leg`,
  );
  await waitFor(async () => (await ctl.call(leg)).subscriptions.length > 0, 'the subscription', 15_000);
  const n = size.messagesEachWay;
  const inbound = Array.from({ length: n }, (_, i) => content('in', i, size.chars));
  const outbound = Array.from({ length: n }, (_, i) => content('out', i, size.chars));
  const done: { at: number; way: 'in' | 'out' }[] = [];
  let failures = 0;
  /** What went wrong with each message that did not arrive once, for the log. */
  const why: string[] = [];
  const started = Date.now();
  const requestsBefore = b.sandbox.requests.length;

  let nextIn = 0;
  const phone = async () => {
    for (let i = nextIn++; i < n; i = nextIn++) {
      const sent = await ctl.sendFromPhone(identity, leg, inbound[i]);
      if (sent.deliveries.every((d) => d.status === 200)) done.push({ at: Date.now(), way: 'in' });
      else {
        failures++;
        why.push(`from the SDK #${i}: callback ${sent.deliveries.map((d) => d.status ?? 'no answer').join(', ')}`);
      }
    }
  };
  let nextOut = 0;
  const backend = async () => {
    for (let i = nextOut++; i < n; i = nextOut++) {
      const res = await sendMessage(
        b.fn,
        { callSid: leg, content: outbound[i], idempotencyKey: `size-${size.chars}-${i}` },
        { budgetMs: 120_000 },
      );
      if (res.status === 201 || res.status === 200) done.push({ at: Date.now(), way: 'out' });
      else {
        failures++;
        why.push(`to the SDK #${i}: send ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      }
    }
  };
  await Promise.all([...Array.from({ length: inFlight }, phone), ...Array.from({ length: inFlight }, backend)]);
  await ctl.idle();
  const mapName = legMapName(leg);
  const refusals = b.sandbox.requests
    .slice(requestsBefore)
    .filter((r) => r.status === 429 && !r.injected && r.route.includes(mapName));
  const firstRefusal = refusals.reduce((min, r) => Math.min(min, r.at), Infinity);
  const last = done.reduce((max, d) => Math.max(max, d.at), started);
  // Without a refusal the limit never bit: the whole run is the rate.
  const from = Number.isFinite(firstRefusal) ? firstRefusal : started;
  const after = done.filter((d) => d.at > from);
  const seconds = Math.max(0.001, (last - from) / 1000);

  const stored = await history(b, leg);
  /** Which of `want` are not in `list` exactly once, with how many times they are. */
  const notOnce = (list: string[], want: string[], what: string) => {
    const counts = new Map<string, number>();
    for (const c of list) counts.set(c, (counts.get(c) ?? 0) + 1);
    return want.flatMap((c, i) => (counts.get(c) === 1 ? [] : [`${what} #${i}: ${counts.get(c) ?? 0} times`]));
  };
  const received = (await ctl.phone(identity)).calls.find((c) => c.callSid === leg)?.received ?? [];
  const lostOnes = [
    ...notOnce(
      stored.filter((m) => m.direction === 'from-sdk').map((m) => m.content),
      inbound,
      'from the SDK, in the history',
    ),
    ...notOnce(
      stored.filter((m) => m.direction === 'to-sdk').map((m) => m.content),
      outbound,
      'to the SDK, in the history',
    ),
    ...notOnce(
      received.map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content))),
      outbound,
      'to the SDK, received by the phone',
    ),
  ];
  for (const line of [...lostOnes, ...why]) log(`   ${size.chars} characters: ${line}`);
  const item = stored.find((m) => m.direction === 'from-sdk');
  await ctl.hangupCall(parent);
  return {
    chars: size.chars,
    itemBytes: item ? recordBytes(item) : NaN,
    messagesEachWay: n,
    sustainedPerSecond: after.length / seconds,
    fromSdkPerSecond: after.filter((d) => d.way === 'in').length / seconds,
    toSdkPerSecond: after.filter((d) => d.way === 'out').length / seconds,
    totalSeconds: (last - started) / 1000,
    refused: refusals.length,
    lost: lostOnes.length,
    failed: failures,
  };
}

export async function measureSizeRates(
  b: BenchStack,
  opts: SizeRateOptions,
  log: (s: string) => void = () => undefined,
): Promise<SizeRateRow[]> {
  const identity = 'alice';
  await b.control.registerPhone(identity, { autoAnswer: true });
  const rows: SizeRateRow[] = [];
  for (const size of opts.sizes) {
    log(`10. ${size.chars} characters, ${size.messagesEachWay} each way`);
    rows.push(await measureOne(b, identity, size, opts.inFlight, log));
  }
  return rows;
}
