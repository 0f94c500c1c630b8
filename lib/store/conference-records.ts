// What a conference's Sync Map holds (`cme.conf.<room>`, lib/shared/sync-names.ts): the room's
// state and one record per participant, each built from conference events that may repeat and
// arrive in any order (docs/CONFERENCES.md §3.3). Pure: parsing and applying events, no Sync.

/** The room as its conference events left it. */
export interface StoredConferenceState {
  room: string;
  /** The call whose /voice opened the room. */
  originCallSid: string;
  status: 'init' | 'in-progress' | 'ended';
  /** CF…: known from the first event Twilio sent (every REST request on the room needs it). */
  conferenceSid?: string;
  /** ISO 8601, Twilio's clock: when it ended. */
  endedAt?: string;
  /** ReasonConferenceEnded. */
  reason?: string;
}

/** One time a participant's call was in the room, from its join to its leave (either may come first). */
export interface Stint {
  joinSeq?: number;
  /** ISO 8601 (the event's Timestamp). */
  joinAt?: string;
  leaveSeq?: number;
  leaveAt?: string;
  /** ParticipantCallStatus at the leave. */
  callStatus?: string;
  /** ReasonParticipantLeft. */
  reason?: string;
}

/** A field an event set, with the SequenceNumber that set it: an older event never overwrites it. */
export interface Versioned<T> {
  value: T;
  seq: number;
}

export interface StoredParticipant {
  callSid: string;
  label?: string;
  /** The Voice SDK identity its label names; none for a phone. */
  identity?: string;
  stints: Stint[];
  hold?: Versioned<boolean>;
  muted?: Versioned<boolean>;
  /**
   * ISO 8601: when its leg was subscribed as this room's participant. Twilio may send its
   * participant-join late; until a join or leave is recorded, this is what says it is in the room.
   */
  subscribedAt?: string;
  /** The SequenceNumbers applied (the latest MAX_SEEN): a copy of one is a duplicate. */
  seen: number[];
}

/** A participant event, as /conference-status parsed it. */
export interface ParticipantEvent {
  kind: 'join' | 'leave' | 'hold' | 'unhold' | 'mute' | 'unmute' | 'modify';
  seq: number;
  /** ISO 8601. */
  at: string;
  callSid: string;
  label?: string | undefined;
  identity?: string | undefined;
  callStatus?: string | undefined;
  reason?: string | undefined;
}

const MAX_SEEN = 64;
const MAX_STINTS = 32;

type Fields = Record<string, unknown>;
const isFields = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const seqNumber = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);
/** Every optional field of T, present with a value or as undefined (what `only` leaves out). */
type Loose<T> = { [K in keyof T]-?: T[K] | undefined };
const only = <T extends object>(o: Loose<T>): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

export function parseConferenceState(data: unknown): StoredConferenceState | undefined {
  if (!isFields(data)) return undefined;
  const { room, originCallSid, status } = data;
  if (typeof room !== 'string' || typeof originCallSid !== 'string') return undefined;
  if (status !== 'init' && status !== 'in-progress' && status !== 'ended') return undefined;
  return only<StoredConferenceState>({
    room,
    originCallSid,
    status,
    conferenceSid: str(data.conferenceSid),
    endedAt: str(data.endedAt),
    reason: str(data.reason),
  });
}

function parseVersioned(v: unknown): Versioned<boolean> | undefined {
  if (!isFields(v) || typeof v.value !== 'boolean') return undefined;
  const seq = seqNumber(v.seq);
  return seq === undefined ? undefined : { value: v.value, seq };
}

function parseStint(v: unknown): Stint | undefined {
  if (!isFields(v)) return undefined;
  const stint = only<Stint>({
    joinSeq: seqNumber(v.joinSeq),
    joinAt: str(v.joinAt),
    leaveSeq: seqNumber(v.leaveSeq),
    leaveAt: str(v.leaveAt),
    callStatus: str(v.callStatus),
    reason: str(v.reason),
  });
  return stint.joinSeq === undefined && stint.leaveSeq === undefined ? undefined : stint;
}

export function parseParticipant(data: unknown): StoredParticipant | undefined {
  if (!isFields(data) || typeof data.callSid !== 'string') return undefined;
  const stints = Array.isArray(data.stints) ? data.stints.map(parseStint) : [];
  if (stints.some((s) => s === undefined)) return undefined;
  const seen = Array.isArray(data.seen) ? data.seen.map(seqNumber) : [];
  if (seen.some((s) => s === undefined)) return undefined;
  return only<StoredParticipant>({
    callSid: data.callSid,
    label: str(data.label),
    identity: str(data.identity),
    stints: stints as Stint[],
    hold: parseVersioned(data.hold),
    muted: parseVersioned(data.muted),
    subscribedAt: str(data.subscribedAt),
    seen: seen as number[],
  });
}

const stintStart = (s: Stint) => s.joinSeq ?? s.leaveSeq ?? 0;

/**
 * The participant after one event; `duplicate` when its SequenceNumber was applied already. A
 * join fills a stint whose leave came first (a later leave, no join yet), else opens one; a leave
 * closes the latest stint opened before it, else records a stint that has only its end.
 */
export function applyParticipantEvent(
  current: StoredParticipant | undefined,
  event: ParticipantEvent,
): StoredParticipant | 'duplicate' {
  const p: StoredParticipant = current
    ? { ...current, stints: current.stints.map((s) => ({ ...s })), seen: [...current.seen] }
    : { callSid: event.callSid, stints: [], seen: [] };
  if (p.seen.includes(event.seq)) return 'duplicate';
  p.seen = [...p.seen, event.seq].slice(-MAX_SEEN);
  if (event.label && !p.label) p.label = event.label;
  if (event.identity && !p.identity) p.identity = event.identity;
  const { seq, at } = event;
  switch (event.kind) {
    case 'join': {
      const openedLater = p.stints.find((s) => s.joinSeq === undefined && (s.leaveSeq ?? 0) > seq);
      if (openedLater) Object.assign(openedLater, { joinSeq: seq, joinAt: at });
      else p.stints.push({ joinSeq: seq, joinAt: at });
      break;
    }
    case 'leave': {
      const closing = [...p.stints]
        .reverse()
        .find((s) => s.joinSeq !== undefined && s.joinSeq < seq && s.leaveSeq === undefined);
      const end = only<Stint>({
        joinSeq: undefined,
        joinAt: undefined,
        leaveSeq: seq,
        leaveAt: at,
        callStatus: event.callStatus,
        reason: event.reason,
      });
      if (closing) Object.assign(closing, end);
      else p.stints.push(end);
      break;
    }
    case 'hold':
    case 'unhold':
      if ((p.hold?.seq ?? -1) < seq) p.hold = { value: event.kind === 'hold', seq };
      break;
    case 'mute':
    case 'unmute':
      if ((p.muted?.seq ?? -1) < seq) p.muted = { value: event.kind === 'mute', seq };
      break;
    case 'modify':
      break;
  }
  p.stints.sort((a, b) => stintStart(a) - stintStart(b));
  p.stints = p.stints.slice(-MAX_STINTS);
  return p;
}

/**
 * Whether the participant is in the room now: its latest stint has a join and no leave; or, before
 * any of its events arrived, its leg was subscribed as the room's participant (a join comes late).
 */
export const isPresent = (p: StoredParticipant) => {
  const last = p.stints[p.stints.length - 1];
  if (last === undefined) return p.subscribedAt !== undefined;
  return last.joinSeq !== undefined && last.leaveSeq === undefined;
};

/**
 * One message in a room's history (`log.*` items): what a participant's SDK sent, what was sent to
 * one, or a broadcast to every SDK participant. The message itself is stored once, under its leg;
 * a short one is repeated here so a history page needs no more reads.
 */
export interface StoredConferenceMessage {
  direction: 'from-sdk' | 'to-sdk';
  /** The leg, or for a broadcast `broadcast`. */
  callSid: string;
  identity?: string;
  /** KX… / the UserDefinedMessage's Sid, when known. */
  sid?: string;
  sequence?: number;
  /** ISO 8601. */
  timestamp: string;
  /** The content, when short enough (CONFERENCE_INLINE_BYTES). */
  content?: string;
  /**
   * Where its content is, when not inline: its key in its leg's Map; for a broadcast, the send key
   * of its first leg (`legs[0]`).
   */
  legKey?: string;
  /** A broadcast's key and the legs it went to. */
  idempotencyKey?: string;
  legs?: string[];
}

export function parseConferenceMessage(data: unknown): StoredConferenceMessage | undefined {
  if (!isFields(data)) return undefined;
  const { direction, callSid, timestamp } = data;
  if ((direction !== 'from-sdk' && direction !== 'to-sdk') || typeof callSid !== 'string') return undefined;
  if (typeof timestamp !== 'string') return undefined;
  const legs =
    Array.isArray(data.legs) && data.legs.every((l): l is string => typeof l === 'string') ? data.legs : undefined;
  const message = only<StoredConferenceMessage>({
    direction,
    callSid,
    timestamp,
    identity: str(data.identity),
    sid: str(data.sid),
    sequence: seqNumber(data.sequence),
    content: str(data.content),
    legKey: str(data.legKey),
    idempotencyKey: str(data.idempotencyKey),
    legs,
  });
  return message.content === undefined && message.legKey === undefined ? undefined : message;
}

/** A broadcast's claim: the content it was first sent with and the legs it goes to, fixed then. */
export interface BroadcastClaim {
  contentHash: string;
  targets: string[];
  at: string;
}

export function parseBroadcastClaim(data: unknown): BroadcastClaim | undefined {
  if (!isFields(data)) return undefined;
  const { contentHash, targets, at } = data;
  if (typeof contentHash !== 'string' || typeof at !== 'string') return undefined;
  if (!Array.isArray(targets) || !targets.every((t): t is string => typeof t === 'string')) return undefined;
  return { contentHash, targets, at };
}
