// A conference room's history (`/conference-messages`): every message of its participants, both
// ways, and its broadcasts, in time order, one page at a time. A short message is in the room's
// own item; a longer one is read from its leg's Map (1–2 reads each).
import { parseRoom } from '../calls/conference';
import { apiError } from '../shared/error-catalogue';
import { integerParam } from '../shared/identifiers';
import type { ConferenceMessage, ConferenceMessagesPage } from '../shared/api-types';
import { BROADCAST } from '../store/conference-store';
import type { StoredConferenceMessage } from '../store/conference-records';
import type { CallStore } from '../store/call-store';

/** A room's history page size: at most Sync's own page. */
const MAX_PAGE_SIZE = 100;
const DEFAULT_PAGE_SIZE = 50;
/** A cursor is a key of the room's history: `log.` and at most a few dozen characters. */
const CURSOR = /^log\.[0-9a-z.]{1,120}$/;

export async function readConferenceHistory(
  deps: { store: () => CallStore },
  input: { conference?: unknown; pageSize?: unknown; after?: unknown },
): Promise<ConferenceMessagesPage> {
  const room = parseRoom(input.conference)?.room;
  if (!room) throw apiError('conference-unknown', 'conference must name a room /voice opened (cme-<CallSid>).');
  const pageSize = integerParam(input.pageSize, {
    name: 'pageSize',
    code: 'page-size-invalid',
    min: 1,
    max: MAX_PAGE_SIZE,
    fallback: DEFAULT_PAGE_SIZE,
  });
  const after = input.after === undefined || input.after === '' ? undefined : input.after;
  if (after !== undefined && (typeof after !== 'string' || !CURSOR.test(after)))
    throw apiError('after-invalid', "after is not a cursor from this room's history.");
  const store = deps.store();
  const rooms = store.conferences();
  const [state, page] = await Promise.all([rooms.readRoom(room), rooms.readLog(room, pageSize, after)]);
  if (!state && page.messages.length === 0)
    throw apiError('conference-not-found', `No events of ${room} were recorded.`);
  const messages = await Promise.all(page.messages.map((m) => withContent(store, m)));
  return { conference: room, messages, ...(page.next ? { next: page.next } : {}) };
}

async function withContent(
  store: CallStore,
  message: StoredConferenceMessage & { cursor: string },
): Promise<ConferenceMessage> {
  const { content, legKey, ...rest } = message;
  if (content !== undefined || legKey === undefined) return { ...rest, content: content ?? null };
  const first = message.legs?.[0];
  const stored =
    message.callSid === BROADCAST
      ? first && (await store.readSentMessage(first, legKey))
      : await store.readLegMessage(message.callSid, legKey);
  return { ...rest, content: stored ? stored.content : null };
}
