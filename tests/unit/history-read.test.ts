// The plan of a history page's range reads, against a Map held in memory (sorted keys, as Sync
// lists them): what each read asks for, and what a catch-up does when time runs out.
import { inboundKey, outboundKey, STATE_KEY } from '../../lib/store/keys';
import { DeadlineExceeded } from '../../lib/platform/errors';
import fc from 'fast-check';
import { readCatchUp, readPage, type RangeStart, type ReadRange } from '../../lib/store/history-read';
import type { HistoryCursor, HistoryPage } from '../../lib/store/history-range';
import type { CallMessage } from '../../lib/shared/api-types';
import { callSid, messageSid } from '../../testing/sids';

const CALL = callSid(0xc);
const at = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s)).toISOString();

function message(direction: CallMessage['direction'], n: number, seconds: number): CallMessage {
  return {
    sid: messageSid(n),
    callSid: CALL,
    direction,
    contentType: 'application/json',
    content: `{"n":${n}}`,
    timestamp: at(seconds),
  };
}

/** A leg's state as stored (its `status` is what these tests look for). */
const STATE = {
  callSid: CALL,
  parentCallSid: CALL,
  role: 'parent',
  identity: 'alice',
  peer: '+15550100000',
  status: 'in-progress',
  updatedAt: at(0),
};

/** A leg's Map: 5 messages each way, alternating, and its state. */
function legMap() {
  const items = new Map<string, unknown>([[STATE_KEY, STATE]]);
  for (let i = 0; i < 5; i++) {
    items.set(inboundKey(i, messageSid(i)), { ...message('from-sdk', i, i * 2), sequence: i });
    items.set(outboundKey(Date.parse(at(i * 2 + 1)), `k${i}`), message('to-sdk', 100 + i, i * 2 + 1));
  }
  return [...items.entries()].map(([key, data]) => ({ key, data })).sort((a, b) => (a.key < b.key ? -1 : 1));
}

/** Reads the Map as Sync does (`From`, `Bounds`, `Order`, `PageSize`), logging each read. */
type ReadLog = { ascending: boolean; start: RangeStart; size: number }[];

/** `cap`: Sync answering fewer items than asked for, as a long history would (more reads, more page edges). */
function reader(items: { key: string; data: unknown }[], log: ReadLog, cap = Infinity) {
  const read: ReadRange = async (ascending, start, requested) => {
    const size = Math.min(requested, cap);
    log.push({ ascending, start, size });
    const ordered = ascending ? items : [...items].reverse();
    const from = ordered.filter(({ key }) =>
      ascending
        ? start.bounds === 'inclusive'
          ? key >= start.from
          : key > start.from
        : start.bounds === 'inclusive'
          ? key <= start.from
          : key < start.from,
    );
    return { items: from.slice(0, size), more: from.length > size };
  };
  return read;
}

const numbers = (page: { messages: { message: CallMessage }[] }) =>
  page.messages.map((m) => (JSON.parse(m.message.content) as { n: number }).n);

it('reads a first page each way in two reads from the ends that hold the oldest (asc) or newest (desc) messages', async () => {
  const log: ReadLog = [];
  const read = reader(legMap(), log);
  const asc = await readPage(read, { order: 'asc' }, 4);
  expect(numbers(asc)).toEqual([0, 100, 1, 101]);
  const desc = await readPage(read, { order: 'desc' }, 4);
  expect(numbers(desc)).toEqual([104, 4, 103, 3]);
  expect(desc.state).toEqual(STATE);
  expect(log.map((r) => [r.ascending, r.start.from])).toEqual([
    [true, 'from-sdk.'],
    [false, 'to-sdk-r/'],
    [false, STATE_KEY],
    [true, 'to-sdk-r.'],
  ]);
});

it('catches up in one read from the last message from the SDK, through the state, to the last one to it', async () => {
  const log: ReadLog = [];
  const read = reader(legMap(), log);
  const first = await readPage(read, { order: 'asc' }, 6);
  const cursor = first.messages.at(-1)?.cursor;
  if (!cursor) throw new Error('expected a cursor');
  log.length = 0;
  const page = await readCatchUp(read, cursor, 10);
  expect(numbers(page)).toEqual([3, 103, 4, 104]);
  expect(page.state).toEqual(STATE);
  expect(page.next).toBeUndefined();
  // Past the last message from the SDK and any parts of it: `~~` sorts after them.
  expect(log).toEqual([{ ascending: true, start: { from: `${cursor.fromSdk}~~`, bounds: 'exclusive' }, size: 12 }]);
});

it('answers an empty page that resumes from the cursor when no time is left for a second read', async () => {
  const items = legMap();
  const log: ReadLog = [];
  const inTime = reader(items, log);
  const cursor = (await readPage(inTime, { order: 'asc' }, 1)).messages[0]?.cursor;
  if (!cursor) throw new Error('expected a cursor');
  let reads = 0;
  const outOfTime: ReadRange = async (...args) => {
    if (++reads > 1) throw new DeadlineExceeded();
    return inTime(...args);
  };
  // Nine messages are new: a catch-up page of 2 cannot hold them and needs the second read.
  const page = await readCatchUp(outOfTime, cursor, 2);
  expect(page.messages).toEqual([]);
  expect(page.next).toEqual(cursor);
  const other = new Error('Sync is down');
  await expect(readCatchUp(async () => Promise.reject(other), cursor, 2)).rejects.toBe(other);
});

it('catches up in one read on a leg with no state yet (a message overtook its first status callback)', async () => {
  const log: ReadLog = [];
  const read = reader(
    legMap().filter((item) => item.key !== STATE_KEY),
    log,
  );
  const cursor = (await readPage(read, { order: 'asc' }, 6)).messages.at(-1)?.cursor;
  if (!cursor) throw new Error('expected a cursor');
  log.length = 0;
  const page = await readCatchUp(read, cursor, 10);
  expect(numbers(page)).toEqual([3, 103, 4, 104]);
  expect(page.state).toBeUndefined();
  expect(log).toHaveLength(1);
});

// A model of any leg: messages from the SDK whose Timestamps disagree with their SequenceNumbers and
// tie, sends in the same millisecond, long messages in parts, no state sometimes, send claims and
// keys of the previous scheme. Every walk, both ways and at any page size, and every catch-up, from
// any message and with or without time for a second read, gives what a plain merge of the model does.
interface ModelMessage {
  key: string;
  direction: CallMessage['direction'];
  /** ms: whole seconds for messages from the SDK (as Twilio's Timestamp). */
  at: number;
  content: string;
}

const leg = fc.record({
  fromSdk: fc.array(
    fc.record({ gap: fc.integer({ min: 1, max: 2 }), second: fc.nat(8), parts: fc.integer({ min: 1, max: 3 }) }),
    { maxLength: 10 },
  ),
  toSdk: fc.array(fc.record({ ms: fc.nat(8_002), parts: fc.integer({ min: 1, max: 3 }) }), { maxLength: 10 }),
  state: fc.boolean(),
  claims: fc.nat(2),
  legacy: fc.boolean(),
});

function buildLeg(spec: typeof leg extends fc.Arbitrary<infer T> ? T : never) {
  const messages: ModelMessage[] = [];
  const items: { key: string; data: unknown }[] = [];
  const add = (m: ModelMessage, parts: number, extra: object) => {
    const pieces = Array.from({ length: parts }, (_, p) => (p ? `|${p}` : m.content));
    messages.push({ ...m, content: pieces.join('') });
    const base = {
      sid: messageSid(messages.length),
      callSid: CALL,
      direction: m.direction,
      contentType: 'application/json',
    };
    items.push({
      key: m.key,
      data: { ...base, ...extra, content: pieces[0], parts, timestamp: new Date(m.at).toISOString() },
    });
    for (let p = 1; p < parts; p++) items.push({ key: `${m.key}~${p}`, data: { part: pieces[p] } });
  };
  let sequence = 0;
  for (const [i, f] of spec.fromSdk.entries()) {
    sequence += f.gap;
    const at = Date.parse(at0) + f.second * 1000;
    add({ key: inboundKey(sequence, messageSid(500 + i)), direction: 'from-sdk', at, content: `in${i}` }, f.parts, {
      sequence,
    });
  }
  for (const [i, t] of spec.toSdk.entries()) {
    const at = Date.parse(at0) + t.ms;
    add({ key: outboundKey(at, `key-${i}`), direction: 'to-sdk', at, content: `out${i}` }, t.parts, {});
  }
  if (spec.state) items.push({ key: STATE_KEY, data: STATE });
  for (let i = 0; i < spec.claims; i++) items.push({ key: `~send.${String(i).padStart(24, '0')}`, data: {} });
  if (spec.legacy) items.push({ key: `to-sdk.1700000000000.${'0'.repeat(24)}`, data: { content: 'legacy' } });
  items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { items, messages };
}
const at0 = at(0);

/** The model's history in time order: from the SDK by SequenceNumber, to it by send time, merged by time (from the SDK first on a tie). */
function modelOrder(messages: ModelMessage[], asc: boolean): string[] {
  const fromSdk = messages.filter((m) => m.direction === 'from-sdk').sort((a, b) => (a.key < b.key ? -1 : 1));
  // Sends in the same millisecond: in the order of their keys' hashes, newest-first keys read backwards.
  const toSdk = messages
    .filter((m) => m.direction === 'to-sdk')
    .sort((a, b) => a.at - b.at || (a.key < b.key ? 1 : -1));
  if (!asc) [fromSdk, toSdk].forEach((list) => list.reverse());
  const merged: ModelMessage[] = [];
  while (fromSdk.length || toSdk.length) {
    const [a, b] = [fromSdk[0], toSdk[0]];
    const takeA = !b || (a !== undefined && (asc ? a.at <= b.at : a.at > b.at));
    merged.push((takeA ? fromSdk : toSdk).shift()!);
  }
  return merged.map((m) => m.content);
}

const contents = (page: HistoryPage) => page.messages.map((m) => m.message.content);

async function walk(read: ReadRange, from: HistoryCursor | undefined, pageSize: number, first?: HistoryPage) {
  const got = first ? contents(first) : [];
  const cursors = first ? first.messages.map((m) => m.cursor) : [];
  let pages = 0;
  for (let cursor = first ? first.next : from; cursor; pages++) {
    if (pages > 500) throw new Error('the walk does not end');
    const page = await readPage(read, cursor, pageSize);
    got.push(...contents(page));
    cursors.push(...page.messages.map((m) => m.cursor));
    cursor = page.next;
  }
  return { got, cursors };
}

it('pages and catches up any leg exactly as a plain merge of its messages (model-based)', async () => {
  await fc.assert(
    // Sync's pages are cut short here (cap), but never below one whole message (a head and 3 parts):
    // a read from a cursor must not spend its page on the parts of the message before it.
    fc.asyncProperty(
      leg,
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 4, max: 100 }),
      async (spec, pageSize, cap) => {
        const { items, messages } = buildLeg(spec);
        const read = reader(items, [], cap);
        for (const order of ['asc', 'desc'] as const)
          expect((await walk(read, { order }, pageSize)).got).toEqual(modelOrder(messages, order === 'asc'));
        const expected = modelOrder(messages, true);
        const whole = await walk(read, { order: 'asc' }, 100);
        /** The state each catch-up's last page carried, when the leg has one. */
        const lastPageStates: unknown[] = [];
        for (const [i, cursor] of [{ order: 'asc' as const }, ...whole.cursors].entries()) {
          for (const timeLeft of [true, false]) {
            let reads = 0;
            const late: ReadRange = async (...args) => {
              if (!timeLeft && ++reads > 1) throw new DeadlineExceeded();
              return read(...args);
            };
            const page = await readCatchUp(late, cursor, pageSize);
            const rest = await walk(read, undefined, pageSize, page);
            expect(rest.got).toEqual(expected.slice(i));
            expect(rest.cursors).toEqual(whole.cursors.slice(i));
            if (spec.state && !page.next) lastPageStates.push(page.state);
          }
        }
        expect(lastPageStates).toEqual(lastPageStates.map(() => STATE));
      },
    ),
    { numRuns: 300 },
  );
});
