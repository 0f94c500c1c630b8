// A conference room's history (`/conference-messages`): every message of its participants, both
// ways, and its broadcasts, in time order, one page at a time. A short message is in the room's
// own item; a longer one is read from its leg's Map (1–2 reads each).
import { parseRoom } from '../calls/conference';
import { apiError } from '../shared/error-catalogue';
import { integerParam, requireIdentity } from '../shared/identifiers';
import type { ConferenceMessage, ConferenceMessagesPage, ConferenceRoom } from '../shared/api-types';
import { BROADCAST } from '../store/conference-store';
import { isPresent, type StoredConferenceMessage, type StoredParticipant } from '../store/conference-records';
import type { CallStore } from '../store/call-store';

/** A room's history page size: at most Sync's own page. */
const MAX_PAGE_SIZE = 100;
const DEFAULT_PAGE_SIZE = 50;
/** A cursor is a key of the room's history: `log.` and at most a few dozen characters. */
const CURSOR = /^log\.[0-9a-z.]{1,120}$/;

export interface ConferenceMessagesInput {
  conference?: unknown;
  pageSize?: unknown;
  after?: unknown;
  /** An SDK identity: only what it may see (its stints in the room, and its own legs). */
  as?: unknown;
}

export async function readConferenceHistory(
  deps: { store: () => CallStore },
  input: ConferenceMessagesInput,
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
  const as = input.as === undefined || input.as === '' ? undefined : requireIdentity(input.as);
  const visible =
    as === undefined ? page.messages : page.messages.filter(visibleTo(await rooms.participants(room), as));
  const messages = await Promise.all(visible.map((m) => withContent(store, m)));
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

const secondOf = (iso: string | undefined) => (iso === undefined ? NaN : Math.floor(Date.parse(iso) / 1000));

/**
 * The visibility rule (docs/CONFERENCES.md §3.5): an SDK identity sees what happened in the room
 * while one of its legs was in it, from its join to its leave (Twilio's clock, to the second, both
 * inclusive; an open stint runs on), what its own legs sent and received, and the broadcasts that
 * reached it. A stint whose join was never recorded shows nothing by time.
 */
function visibleTo(participants: StoredParticipant[], identity: string) {
  const mine = participants.filter((p) => p.identity === identity);
  const legs = new Set(mine.map((p) => p.callSid));
  const stints = mine.flatMap((p) =>
    p.stints
      .filter((s) => s.joinAt !== undefined)
      .map((s) => [secondOf(s.joinAt), s.leaveAt === undefined ? Infinity : secondOf(s.leaveAt)] as const),
  );
  return (m: StoredConferenceMessage) => {
    if (m.callSid === BROADCAST) return (m.legs ?? []).some((l) => legs.has(l));
    if (legs.has(m.callSid)) return true;
    const at = secondOf(m.timestamp);
    return stints.some(([from, to]) => at >= from && at <= to);
  };
}

/** A room's state and participants, as its events recorded them (`action: room`). */
export async function readConferenceRoom(
  deps: { store: () => CallStore },
  input: { conference?: unknown },
): Promise<ConferenceRoom> {
  const room = parseRoom(input.conference)?.room;
  if (!room) throw apiError('conference-unknown', 'conference must name a room /voice opened (cme-<CallSid>).');
  const rooms = deps.store().conferences();
  const [state, participants] = await Promise.all([rooms.readRoom(room), rooms.participants(room)]);
  if (!state) throw apiError('conference-not-found', `No events of ${room} were recorded.`);
  return {
    conference: room,
    status: state.status,
    ...(state.conferenceSid ? { conferenceSid: state.conferenceSid } : {}),
    participants: participants.map((p) => ({
      callSid: p.callSid,
      ...(p.identity ? { identity: p.identity } : {}),
      ...(p.label ? { label: p.label } : {}),
      present: state.status !== 'ended' && isPresent(p),
      hold: p.hold?.value ?? false,
      muted: p.muted?.value ?? false,
      stints: p.stints.map((s) => ({
        ...(s.joinAt ? { joinedAt: s.joinAt } : {}),
        ...(s.leaveAt ? { leftAt: s.leaveAt } : {}),
      })),
    })),
  };
}
