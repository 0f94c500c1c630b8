// Which range reads of a leg's Map make one page of its history, and how their messages are merged
// (the key order: lib/store/keys.ts). Messages from the SDK are kept oldest first, messages to
// it newest first, and the two meet at `state`:
//   from-sdk.<oldest> … from-sdk.<newest> | state | to-sdk-r.<newest> … to-sdk-r.<oldest>
// A page from the start or a page token reads each direction from its cursor (two reads at once).
// A catch-up (`after=`) reads once, ascending from the last message seen from the SDK: what is new
// from it, the state, then the messages to it newest first down to the last one seen. Only when
// more is new than that read holds does it read the messages to the SDK again, from their cursor.
import { FROM_SDK, STATE_KEY, TO_SDK, TO_SDK_END } from './keys';
import { DeadlineExceeded } from '../platform/errors';
import { collectRange, comesFirst, type HistoryCursor, type HistoryPage, type RangeRead } from './history-range';

export interface RangeStart {
  from: string;
  bounds: 'inclusive' | 'exclusive';
}
export interface RangePage {
  items: { key: string; data: unknown }[];
  /** Sync has more items past this page. */
  more: boolean;
}
/** One Sync range read: at most `pageSize` items from `start`, in key order (`ascending`) or against it. */
export type ReadRange = (ascending: boolean, start: RangeStart, pageSize: number) => Promise<RangePage>;

/** Sync's largest page of Map items. */
const SYNC_PAGE_SIZE = 100;

const at = (key: string): RangeStart => ({ from: key, bounds: 'inclusive' });
/** Past a message read down the keys: its parts (`<key>~<n>`) sort after it, so they are behind too. */
const below = (key: string): RangeStart => ({ from: key, bounds: 'exclusive' });
/** Past a message and its parts read up the keys: `~~` sorts after every `~<n>`, before the next key. */
const above = (key: string): RangeStart => ({ from: `${key}~~`, bounds: 'exclusive' });

/** Where each direction's read starts. In time order, messages from the SDK ascend with the keys, those to it descend. */
function starts(cursor: HistoryCursor) {
  const asc = cursor.order === 'asc';
  return {
    // Descending, the read from the SDK starts at `state`: the first page of the newest messages has it.
    fromSdk: cursor.fromSdk ? (asc ? above : below)(cursor.fromSdk) : at(asc ? FROM_SDK : STATE_KEY),
    toSdk: cursor.toSdk ? (asc ? below : above)(cursor.toSdk) : at(asc ? TO_SDK_END : TO_SDK),
  };
}

/** A page of history in two range reads, one per direction, made at once. */
export async function readPage(read: ReadRange, cursor: HistoryCursor, pageSize: number): Promise<HistoryPage> {
  const asc = cursor.order === 'asc';
  const start = starts(cursor);
  const [fromSdk, toSdk] = await Promise.all([
    read(asc, start.fromSdk, SYNC_PAGE_SIZE),
    read(!asc, start.toSdk, SYNC_PAGE_SIZE),
  ]);
  return merge(collectRange(fromSdk, FROM_SDK), collectRange(toSdk, TO_SDK), cursor, pageSize);
}

/**
 * What came after an ascending cursor: one range read when it holds everything new (an idle
 * refresh always), two when more is new. If the invocation has no time left for the second read,
 * the page is empty and its `next` is the cursor.
 */
export async function readCatchUp(read: ReadRange, cursor: HistoryCursor, pageSize: number): Promise<HistoryPage> {
  const start = starts(cursor);
  // Room for the page, the state and the last message seen to the SDK (where the new ones end).
  const first = await read(true, start.fromSdk, Math.min(SYNC_PAGE_SIZE, pageSize + 2));
  const fromSdk = collectRange(first, FROM_SDK);
  // Past the messages from the SDK: the state (a leg may have none yet), then those to it.
  const past = first.items.findIndex((item) => !item.key.startsWith(FROM_SDK));
  let toSdk = newerToSdk(first, past < 0 ? first.items.length : past, cursor.toSdk);
  if (!toSdk) {
    try {
      toSdk = collectRange(await read(false, start.toSdk, SYNC_PAGE_SIZE), TO_SDK);
    } catch (err) {
      if (!(err instanceof DeadlineExceeded)) throw err;
      return { ...(fromSdk.state ? { state: fromSdk.state } : {}), messages: [], next: cursor };
    }
  }
  return merge(fromSdk, toSdk, cursor, pageSize);
}

/**
 * The messages to the SDK newer than `lastSeen`, from a read that passed the messages from the SDK
 * at `from`: they come newest first, so they are complete once the read reaches `lastSeen` (or the
 * end of the range). Undefined when the read stopped before that.
 */
function newerToSdk(page: RangePage, from: number, lastSeen: string | undefined): RangeRead | undefined {
  const newer: RangePage['items'] = [];
  let reached = !page.more;
  for (const item of page.items.slice(from)) {
    if (item.key === STATE_KEY) continue;
    const head = item.key.split('~')[0] ?? item.key;
    if (!item.key.startsWith(TO_SDK) || (lastSeen !== undefined && head >= lastSeen)) {
      reached = true;
      break;
    }
    newer.push(item);
  }
  if (!reached) return undefined;
  const range = collectRange({ items: newer, more: false }, TO_SDK);
  return { messages: range.messages.reverse(), ended: true };
}

/** Merges the two directions into one page in time order; each message carries the cursor after it. */
function merge(fromSdk: RangeRead, toSdk: RangeRead, cursor: HistoryCursor, pageSize: number): HistoryPage {
  const asc = cursor.order === 'asc';
  const state = fromSdk.state ?? toSdk.state;
  const messages: HistoryPage['messages'] = [];
  const position = { ...cursor };
  let a = 0;
  let b = 0;
  while (messages.length < pageSize) {
    const nextA = fromSdk.messages[a];
    const nextB = toSdk.messages[b];
    // A range that stopped inside the page (more to read) cannot be merged past its last message.
    if (!nextA && !fromSdk.ended) break;
    if (!nextB && !toSdk.ended) break;
    if (!nextA && !nextB) break;
    const takeA = !nextB || (nextA !== undefined && comesFirst(nextA.message, nextB.message, asc));
    const taken = takeA ? nextA : nextB;
    if (!taken) break; // unreachable: one side has a next message here
    if (takeA) {
      a++;
      position.fromSdk = taken.key;
    } else {
      b++;
      position.toSdk = taken.key;
    }
    messages.push({ message: taken.message, cursor: { ...position } });
  }
  const done = a >= fromSdk.messages.length && fromSdk.ended && b >= toSdk.messages.length && toSdk.ended;
  return { ...(state ? { state } : {}), messages, ...(done ? {} : { next: position }) };
}
