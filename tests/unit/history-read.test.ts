// The plan of a history page's range reads, against a Map held in memory (sorted keys, as Sync
// lists them): what each read asks for, and what a catch-up does when time runs out.
import { inboundKey, outboundKey, STATE_KEY } from '../../lib/call-store-keys';
import { DeadlineExceeded } from '../../lib/errors';
import { readCatchUp, readPage, type RangeStart, type ReadRange } from '../../lib/history-read';
import type { CallMessage } from '../../lib/api-types';

const CALL = 'CA' + 'c'.repeat(32);
const kx = (n: number) => 'KX' + n.toString(16).padStart(32, '0');
const at = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s)).toISOString();

function message(direction: CallMessage['direction'], n: number, seconds: number): CallMessage {
  return {
    sid: kx(n),
    callSid: CALL,
    direction,
    contentType: 'application/json',
    content: `{"n":${n}}`,
    timestamp: at(seconds),
  };
}

/** A leg's Map: 5 messages each way, alternating, and its state. */
function legMap() {
  const items = new Map<string, unknown>([[STATE_KEY, { status: 'in-progress' }]]);
  for (let i = 0; i < 5; i++) {
    items.set(inboundKey(i, kx(i)), { ...message('from-sdk', i, i * 2), sequence: i });
    items.set(outboundKey(Date.parse(at(i * 2 + 1)), `k${i}`), message('to-sdk', 100 + i, i * 2 + 1));
  }
  return [...items.entries()].map(([key, data]) => ({ key, data })).sort((a, b) => (a.key < b.key ? -1 : 1));
}

/** Reads the Map as Sync does (`From`, `Bounds`, `Order`, `PageSize`), logging each read. */
type ReadLog = { ascending: boolean; start: RangeStart; size: number }[];

function reader(items: ReturnType<typeof legMap>, log: ReadLog) {
  const read: ReadRange = async (ascending, start, size) => {
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
  expect(desc.state).toEqual({ status: 'in-progress' });
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
  expect(page.state).toEqual({ status: 'in-progress' });
  expect(page.next).toBeUndefined();
  expect(log).toEqual([{ ascending: true, start: { from: cursor.fromSdk, bounds: 'exclusive' }, size: 12 }]);
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
