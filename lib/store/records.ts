// What this project keeps in Sync, as stored, and how each shape is read back. Sync hands data back
// untyped, and anything with the service's credentials can write it: every read passes the data
// through the parser of its shape here, which checks the fields the code relies on (never a cast).
//
// An item or Document that does not parse is *unreadable*. A read never fails on one: it treats it
// as absent and logs one line (`logUnreadable`, the key only). What "absent" then means is said
// where each store reads its shape; an optional field of the wrong type is left out rather than
// making the whole record unreadable.
//
// These are the storage shapes; the API's (lib/shared/api-types.ts) are mapped from them where a
// route answers (`apiLegState`, `apiMessage`), so changing one never silently changes the other.
import {
  MESSAGE_IRREGULARITIES,
  type CallMessage,
  type LegState,
  type LegStatus,
  type MessageDirection,
  type MessageIrregularity,
} from '../shared/api-types';
import { isFinalStatus } from '../calls/legs';
import { routeLog } from '../platform/log';

// ---- field checks --------------------------------------------------------------------------------

type Fields = Record<string, unknown>;
const isFields = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isPositiveInteger = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

/** One log line for an item or Document that did not parse (its key or name: never its data). */
export function logUnreadable(key: string, callSid?: string): void {
  routeLog('sync', callSid).info({ unreadable: key });
}

// ---- a leg's state (item `state` of its Map) -----------------------------------------------------

/**
 * The leg's UserDefinedMessageSubscription as recorded: the record, not Twilio's IdempotencyKey,
 * keeps it at exactly one per leg. `claimed` = one invocation is creating it now; `refused` =
 * Twilio refused it (e.g. the leg was not ringing yet) and a later callback may try again;
 * `failed` = the claimant gave up (timeout or Twilio error) and a later callback retries.
 */
export interface StoredSubscription {
  status: 'claimed' | 'subscribed' | 'refused' | 'failed';
  /** ISO 8601: when this status was recorded. */
  at: string;
  /** The CallStatus of the callback that made the record. */
  by: string;
  /** ZY…: the subscription's Sid, once subscribed. */
  sid?: string;
  /**
   * The IdempotencyKey the claim's subscribe sends. A claim taken over after its attempt failed
   * without a known outcome, or was abandoned, keeps it (Twilio may have made that subscription, its
   * answer lost): under Twilio's likely readings the first subscription is then found, not doubled.
   */
  key?: string;
}

export interface StoredLegState {
  callSid: string;
  parentCallSid: string;
  role: 'parent' | 'child';
  identity: string;
  peer: string;
  status: LegStatus;
  /** ISO 8601 */
  updatedAt: string;
  endedAt?: string;
  durationSeconds?: number;
  subscription?: StoredSubscription;
}

const isSubscriptionStatus = (v: unknown): v is StoredSubscription['status'] =>
  v === 'claimed' || v === 'subscribed' || v === 'refused' || v === 'failed';
const isLegStatus = (v: unknown): v is LegStatus =>
  v === 'initiated' || v === 'ringing' || v === 'in-progress' || isFinalStatus(v);

function parseSubscription(data: unknown): StoredSubscription | undefined {
  if (!isFields(data)) return undefined;
  const { status, at, by, sid, key } = data;
  if (!isSubscriptionStatus(status) || !isString(at) || !isString(by)) return undefined;
  return { status, at, by, ...(isString(sid) ? { sid } : {}), ...(isString(key) ? { key } : {}) };
}

/** A leg's state; a subscription record that does not parse counts as none (a later callback claims again). */
export function parseLegState(data: unknown): StoredLegState | undefined {
  if (!isFields(data)) return undefined;
  const { callSid, parentCallSid, role, identity, peer, status, updatedAt, endedAt, durationSeconds } = data;
  if (!isString(callSid) || !isString(parentCallSid) || !isString(identity) || !isString(peer)) return undefined;
  if ((role !== 'parent' && role !== 'child') || !isLegStatus(status) || !isString(updatedAt)) return undefined;
  const subscription = parseSubscription(data.subscription);
  return {
    callSid,
    parentCallSid,
    role,
    identity,
    peer,
    status,
    updatedAt,
    ...(isString(endedAt) ? { endedAt } : {}),
    ...(isFiniteNumber(durationSeconds) ? { durationSeconds } : {}),
    ...(subscription ? { subscription } : {}),
  };
}

/** A leg in its identity's Map (lib/store/keys.ts `identityMapName`): which leg, since when. */
export interface StoredIdentityLeg {
  callSid: string;
  role: 'parent' | 'child';
  /** ISO 8601: when a status callback first claimed the leg. */
  at: string;
}

export function parseIdentityLeg(data: unknown): StoredIdentityLeg | undefined {
  if (!isFields(data)) return undefined;
  const { callSid, role, at } = data;
  if (!isString(callSid) || (role !== 'parent' && role !== 'child') || !isString(at)) return undefined;
  return { callSid, role, at };
}

/** The state as the API shows it (`/call-messages`, `/operator-calls`). */
export function apiLegState(state: StoredLegState): LegState {
  const { callSid, parentCallSid, role, identity, peer, status, updatedAt, endedAt, durationSeconds } = state;
  const record = state.subscription;
  return {
    callSid,
    parentCallSid,
    role,
    identity,
    peer,
    status,
    updatedAt,
    ...(endedAt !== undefined ? { endedAt } : {}),
    ...(durationSeconds !== undefined ? { durationSeconds } : {}),
    ...(record
      ? {
          subscription: {
            status: record.status,
            at: record.at,
            by: record.by,
            ...(record.sid !== undefined ? { sid: record.sid } : {}),
          },
        }
      : {}),
  };
}

// ---- a message (its head item, `from-sdk.…` / `to-sdk-r.…`, and parts `<key>~<n>`) ---------------

/** One call message as stored (content is the JSON text exactly as it was sent). */
export interface StoredMessage {
  /** KX…: Twilio's Sid (for messages to the SDK: the UserDefinedMessage's; null if Twilio's answer was lost). */
  sid: string | null;
  callSid: string;
  direction: MessageDirection;
  /** SequenceNumber Twilio gave a message from the SDK. */
  sequence?: number;
  contentType: string;
  content: string;
  /** ISO 8601: Twilio's Timestamp for messages from the SDK, the send time for messages to it. */
  timestamp: string;
  /** Messages to the SDK: the IdempotencyKey it was sent with. */
  idempotencyKey?: string;
  /** Messages from the SDK, forwarding on: whether the app's backend acknowledged it (absent: forwarding was off). */
  forwarded?: boolean;
  /** Messages from the SDK, message schemas on: false when the content violates them. */
  valid?: boolean;
  validationError?: string;
  /** Messages from the SDK: what it carried that the JS SDK never sends (MessageIrregularity). */
  irregular?: MessageIrregularity[];
}

const isIrregularity = (v: unknown): v is MessageIrregularity => MESSAGE_IRREGULARITIES.some((known) => known === v);

/** The flags as stored; unknown values are left out, and no known one means none. */
function parseIrregular(data: unknown): MessageIrregularity[] | undefined {
  if (!Array.isArray(data)) return undefined;
  const known = data.filter(isIrregularity);
  return known.length > 0 ? known : undefined;
}

/** A message's head item: its content's first part, and how many parts it has in all (absent: one). */
export interface StoredMessageHead extends StoredMessage {
  parts?: number;
}

/**
 * More parts than any message this code writes has (MAX_CALLBACK_CONTENT_CHARS, 20,000 characters
 * of at most 6 bytes once escaped, in parts of at least 9,700 bytes: 13 at most). A head claiming more was not
 * written here, and reading it must not cost unbounded requests.
 */
const MAX_PARTS = 64;

export function parseMessageHead(data: unknown): StoredMessageHead | undefined {
  if (!isFields(data)) return undefined;
  const { sid, callSid, direction, sequence, contentType, content, timestamp, parts } = data;
  const { idempotencyKey, forwarded, valid, validationError } = data;
  const irregular = parseIrregular(data.irregular);
  if ((sid !== null && !isString(sid)) || !isString(callSid)) return undefined;
  if ((direction !== 'from-sdk' && direction !== 'to-sdk') || !isString(contentType) || !isString(content)) {
    return undefined;
  }
  if (!isString(timestamp)) return undefined;
  if (parts !== undefined && !(isPositiveInteger(parts) && parts <= MAX_PARTS)) return undefined;
  return {
    sid,
    callSid,
    direction,
    ...(isFiniteNumber(sequence) ? { sequence } : {}),
    contentType,
    content,
    timestamp,
    ...(isString(idempotencyKey) ? { idempotencyKey } : {}),
    ...(isBoolean(forwarded) ? { forwarded } : {}),
    ...(isBoolean(valid) ? { valid } : {}),
    ...(isString(validationError) ? { validationError } : {}),
    ...(irregular ? { irregular } : {}),
    ...(parts !== undefined ? { parts } : {}),
  };
}

/** A continuation part's text; an unreadable part reads as empty text, as a missing one does. */
export function parsePartText(data: unknown): string {
  return isFields(data) && isString(data.part) ? data.part : '';
}

/** A message as the API shows it. */
export function apiMessage(message: StoredMessage): CallMessage {
  const { sid, callSid, direction, sequence, contentType, content, timestamp } = message;
  const { idempotencyKey, forwarded, valid, validationError, irregular } = message;
  return {
    sid,
    callSid,
    direction,
    ...(sequence !== undefined ? { sequence } : {}),
    contentType,
    content,
    timestamp,
    ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
    ...(forwarded !== undefined ? { forwarded } : {}),
    ...(valid !== undefined ? { valid } : {}),
    ...(validationError !== undefined ? { validationError } : {}),
    ...(irregular !== undefined ? { irregular: [...irregular] } : {}),
  };
}

// ---- a send's claim (item `~send.<h>`) -----------------------------------------------------------

/** A send claim: when it was claimed (its place in the history), for what, and how it went. */
export interface StoredSendClaim {
  /** When the key was first claimed: the message's place in the history. */
  sentAtMs: number;
  contentHash?: string;
  /** When a retry took the claim over for another attempt (absent: the first attempt, at sentAtMs). */
  attemptAtMs?: number;
  /** Twilio surely did not take the attempt (429, 503, no connection): a retry may send again at once. */
  attemptEnded?: boolean;
  /**
   * When an attempt that reached Twilio got no answer (500, a timeout): it may have been delivered,
   * or may still be, so the key is sent again only once that attempt can no longer be under way.
   */
  outcomeUnknownAtMs?: number;
  /** Twilio took it but recording it failed: a retry records it, never sends it again. */
  sent?: boolean;
  sid?: string | null;
}

export function parseSendClaim(data: unknown): StoredSendClaim | undefined {
  if (!isFields(data)) return undefined;
  const { sentAtMs, contentHash, attemptAtMs, attemptEnded, outcomeUnknownAtMs, sent, sid } = data;
  if (!isFiniteNumber(sentAtMs)) return undefined;
  return {
    sentAtMs,
    ...(isString(contentHash) ? { contentHash } : {}),
    ...(isFiniteNumber(attemptAtMs) ? { attemptAtMs } : {}),
    ...(isBoolean(attemptEnded) ? { attemptEnded } : {}),
    ...(isFiniteNumber(outcomeUnknownAtMs) ? { outcomeUnknownAtMs } : {}),
    ...(isBoolean(sent) ? { sent } : {}),
    ...(sid === null || isString(sid) ? { sid } : {}),
  };
}

// ---- an agent (item `<identity>` of Map `cme.agents`) --------------------------------------------

export interface PasswordHash {
  scheme: 'scrypt';
  N: number;
  r: number;
  p: number;
  /** base64 */
  salt: string;
  /** base64 */
  hash: string;
}

export interface AgentRecord {
  identity: string;
  displayName: string;
  enabled: boolean;
  password: PasswordHash;
  /** Changes with every password: sessions issued for an older one stop working. */
  credentialId: string;
  /** ISO 8601 */
  createdAt: string;
  updatedAt: string;
}

function parsePasswordHash(data: unknown): PasswordHash | undefined {
  if (!isFields(data) || data.scheme !== 'scrypt') return undefined;
  const { N, r, p, salt, hash } = data;
  if (!isFiniteNumber(N) || !isFiniteNumber(r) || !isFiniteNumber(p) || !isString(salt) || !isString(hash)) {
    return undefined;
  }
  return { scheme: 'scrypt', N, r, p, salt, hash };
}

export function parseAgentRecord(data: unknown): AgentRecord | undefined {
  if (!isFields(data)) return undefined;
  const { identity, displayName, enabled, credentialId, createdAt, updatedAt } = data;
  const password = parsePasswordHash(data.password);
  if (!isString(identity) || !isString(displayName) || !isBoolean(enabled) || !password) return undefined;
  if (!isString(credentialId) || !isString(createdAt) || !isString(updatedAt)) return undefined;
  return { identity, displayName, enabled, password, credentialId, createdAt, updatedAt };
}

// ---- a sign-in counter (Document `cme.throttle.identity.<digest>`) ------------------------------

export interface ThrottleCounter {
  /** Failed attempts since the last success (an attempt is counted before its credential is checked). */
  count: number;
  /** ISO 8601: no attempt is checked before this time (the lock the last failure set). */
  lockedUntil: string;
  /** ISO 8601: the failures are forgotten after this (kept in the data: Sync's TTL is approximate). */
  forgetAt: string;
}

export function parseThrottleCounter(data: unknown): ThrottleCounter | undefined {
  if (!isFields(data)) return undefined;
  const { count, lockedUntil, forgetAt } = data;
  if (!isFiniteNumber(count) || !isString(lockedUntil) || !isString(forgetAt)) return undefined;
  return { count, lockedUntil, forgetAt };
}
