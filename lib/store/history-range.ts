// What one range read of a leg's Map gives a history page: its complete messages in read order,
// the page's shapes and cursor, and the order the two directions are merged in (the reads
// themselves: lib/store/history-read.ts). Each item's data is parsed here (lib/store/records.ts): an
// unreadable state counts as none, an unreadable message head is left out of the page (both logged).
import { STATE_KEY } from './keys';
import {
  logUnreadable,
  parseLegState,
  parseMessageHead,
  parsePartText,
  type StoredLegState,
  type StoredMessage,
} from './records';

/** Where one read of a history page starts, in each of the two ranges (the last message key consumed). */
export interface HistoryCursor {
  order: 'asc' | 'desc';
  fromSdk?: string;
  toSdk?: string;
}

export interface HistoryPage {
  state?: StoredLegState;
  /** Each message with the cursor that resumes right after it. */
  messages: { message: StoredMessage; cursor: HistoryCursor }[];
  /** Where the next page starts; undefined when both ranges were read to their end. */
  next?: HistoryCursor;
}

export interface RangeRead {
  state?: StoredLegState;
  messages: { key: string; message: StoredMessage }[];
  /** Every message of the range was seen (it needs no further read from this cursor). */
  ended: boolean;
}

/**
 * The complete messages of one range read, in read order. A message whose continuation parts were
 * cut off by the page boundary ends the read early: the next page starts at it.
 */
export function collectRange(
  page: { items: { key: string; data: unknown }[]; more: boolean },
  prefix: string,
): RangeRead {
  const parts = new Map<string, string>();
  for (const item of page.items) if (item.key.includes('~')) parts.set(item.key, parsePartText(item.data));
  const read: RangeRead = { messages: [], ended: !page.more };
  for (const item of page.items) {
    if (item.key === STATE_KEY) {
      const state = parseLegState(item.data);
      if (state) read.state = state;
      else logUnreadable(item.key);
      continue;
    }
    if (!item.key.startsWith(prefix)) {
      read.ended = true; // past the range: every message of it was in this read
      break;
    }
    if (item.key.includes('~')) continue;
    const parsed = parseMessageHead(item.data);
    if (!parsed) {
      logUnreadable(item.key);
      continue;
    }
    const { parts: count = 1, ...head } = parsed;
    let content = head.content;
    let complete = true;
    for (let i = 1; i < count; i++) {
      const part = parts.get(`${item.key}~${i}`);
      if (part === undefined) complete = false;
      else content += part;
    }
    if (!complete) {
      read.ended = false;
      break;
    }
    read.messages.push({ key: item.key, message: { ...head, content } });
  }
  // Read descending, a head's parts come before it: parts at the end of a read are the next page's.
  return read;
}

/** Merge order: by time; from the SDK first on a tie (its second-resolution Timestamp trails sends). */
export function comesFirst(a: StoredMessage, b: StoredMessage, asc: boolean): boolean {
  return asc ? a.timestamp <= b.timestamp : a.timestamp > b.timestamp;
}
