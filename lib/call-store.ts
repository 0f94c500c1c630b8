// Call state and message history in Twilio Sync: one Map per Voice SDK call leg, named after the
// leg (`cme.call.<callsid in lower case>`: a unique name may not look like a SID), so no Sync
// object is written account-wide on every event and each leg has Sync's 20 writes/s per object
// to itself. Sync lists Map items in key order, so the keys are chosen to make that order useful:
//   from-sdk.<seq>.<KX…>     a message from the SDK: SequenceNumber order; the Sid makes a
//                            redelivered callback land on the same key (a no-op)
//   state                    the leg's state, with its subscription record
//   to-sdk.<ms>.<h>          a message to the SDK: send-time order (h: hash of its idempotency key)
//   <key>~<n>                continuation parts of a message whose item would exceed 16 KB
//   ~send.<h>                the claim of a send's idempotency key (exactly-once sends)
// so `from-sdk.*` < `state` < `to-sdk.*` < `~send.*`, and a page of history is two range reads.
import { createHash } from 'node:crypto';
import type { CallMessage, LegState, LegStatus, SubscriptionRecord } from './api-types';
import type { FinalStatus, SdkLeg } from './call-legs';
import type { Config } from './config';
import { HttpError, isTwilioRestError } from './errors';
import { withRetry } from './retry';
import type { TwilioClient } from './twilio-client';

export type { CallMessage, LegState } from './api-types';

/** Serialized Sync item data may not exceed 16 KB; parts stay well under it, with room for metadata. */
const MAX_PART_BYTES = 12_000;
/** Sync's largest page: one range read of a history page. */
const SYNC_PAGE_SIZE = 100;
/** A subscription claim older than one invocation (Functions stop at 10 s) was abandoned. */
export const CLAIM_STALE_MS = 10_000;
/** A send claim older than this whose message was never recorded may be sent again. */
const SEND_CLAIM_STALE_MS = 10_000;
/** Conditional (If-Match) updates that lose a race re-read and try again this many times. */
const MAX_CONDITIONAL_ATTEMPTS = 4;

export const legMapName = (callSid: string) => `cme.call.${callSid.toLowerCase()}`;
export const STATE_KEY = 'state';
const FROM_SDK = 'from-sdk.';
const TO_SDK = 'to-sdk.';
const SEND_CLAIM = '~send.';
/** Keys just past each range, for reading it backwards. */
const FROM_SDK_END = 'from-sdk/';
const TO_SDK_END = 'to-sdk/';

export const inboundKey = (sequence: number, sid: string) => `${FROM_SDK}${String(sequence).padStart(10, '0')}.${sid}`;
export const keyHash = (idempotencyKey: string) =>
  createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 24);
export const outboundKey = (sentAtMs: number, idempotencyKey: string) =>
  `${TO_SDK}${String(sentAtMs).padStart(13, '0')}.${keyHash(idempotencyKey)}`;
const sendClaimKey = (idempotencyKey: string) => `${SEND_CLAIM}${keyHash(idempotencyKey)}`;

/**
 * A Map or item that does not exist. Sync answers 404 with a code that varies with what is missing
 * and where (20404, 54200 Map, 54300 unique name, 54201 item): any 404 means "not there".
 */
export const isNotFound = (err: unknown) => isTwilioRestError(err) && err.status === 404;
/** An item created with a key that exists (54208, HTTP 409). */
const isAlreadyExists = (err: unknown) => isTwilioRestError(err) && (err.code === 54208 || err.status === 409);
/** A unique name in use (54301, HTTP 409): the Map exists. */
const isNameTaken = (err: unknown) => isTwilioRestError(err) && (err.code === 54301 || err.status === 409);
/** An If-Match that no longer matches (54205 for Map items; HTTP 412). */
const isRevisionMismatch = (err: unknown) => isTwilioRestError(err) && (err.code === 54205 || err.status === 412);

/** Splits text into pieces whose JSON string form is at most `maxBytes` UTF-8 bytes, never inside a code point. */
export function splitForSync(text: string, maxBytes = MAX_PART_BYTES): string[] {
  const parts: string[] = [];
  let current = '';
  let size = 2; // the quotes
  for (const char of text) {
    const bytes = Buffer.byteLength(JSON.stringify(char)) - 2;
    if (size + bytes > maxBytes && current) {
      parts.push(current);
      current = '';
      size = 2;
    }
    current += char;
    size += bytes;
  }
  parts.push(current);
  return parts;
}

/** The state as a claim wrote it, and its revision: what recording the outcome updates. */
export interface ClaimedState {
  revision: string;
  state: LegState;
}

interface Item {
  key: string;
  data: unknown;
  revision: string;
}

/** What a status callback should do about a leg's subscription. */
export type SubscriptionClaim =
  { action: 'subscribe'; claimed: ClaimedState } | { action: 'none'; reason: 'subscribed' | 'in-flight' | 'ended' };

/** Where one read of a history page starts, in each of the two ranges (the last message key consumed). */
export interface HistoryCursor {
  order: 'asc' | 'desc';
  fromSdk?: string;
  toSdk?: string;
}

export interface HistoryPage {
  state?: LegState;
  /** Each message with the cursor that resumes right after it. */
  messages: { message: CallMessage; cursor: HistoryCursor }[];
  /** Where the next page starts; undefined when both ranges were read to their end. */
  next?: HistoryCursor;
}

type SendClaim =
  | { outcome: 'claimed'; sentAtMs: number }
  | { outcome: 'already-sent'; message: CallMessage }
  | { outcome: 'in-flight' };

export class CallStore {
  constructor(
    private readonly client: TwilioClient,
    private readonly config: Pick<Config, 'syncServiceSid' | 'finishedCallTtl' | 'activeCallTtl'>,
    /** No retry runs past this time (ms since epoch): the invocation's deadline. */
    private readonly deadline?: number,
  ) {}

  private retry<T>(op: () => Promise<T>): Promise<T> {
    return withRetry(op, { deadline: this.deadline });
  }

  private service() {
    return this.client.sync.v1.services(this.config.syncServiceSid);
  }

  private items(callSid: string) {
    return this.service().syncMaps(legMapName(callSid)).syncMapItems;
  }

  /** Creates the leg's Map if it does not exist yet (its own TTL is a safety net for calls whose end is never reported). */
  async ensureLegMap(callSid: string): Promise<void> {
    try {
      await this.retry(() =>
        this.service().syncMaps.create({ uniqueName: legMapName(callSid), ttl: this.config.activeCallTtl }),
      );
    } catch (err) {
      if (!isNameTaken(err)) throw err;
    }
  }

  /** Creates an item, creating the leg's Map first when it is missing. Undefined when the key exists. */
  private async createItem(
    callSid: string,
    key: string,
    data: object,
    collectionTtl?: number,
    beforeCreatingMap?: () => Promise<void>,
  ): Promise<{ revision: string } | undefined> {
    const create = () =>
      this.retry(() => this.items(callSid).create({ key, data, ...(collectionTtl ? { collectionTtl } : {}) }));
    for (let attempt = 0; ; attempt++) {
      try {
        const item = await create();
        return { revision: item.revision };
      } catch (err) {
        if (isAlreadyExists(err)) return undefined;
        if (!isNotFound(err) || attempt > 0) throw err;
      }
      await beforeCreatingMap?.();
      await this.ensureLegMap(callSid);
    }
  }

  private async fetchItem(callSid: string, key: string): Promise<Item | undefined> {
    try {
      const item = await this.retry(() => this.items(callSid)(key).fetch());
      return { key: item.key, data: item.data, revision: item.revision };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async readState(callSid: string): Promise<LegState | undefined> {
    return (await this.fetchItem(callSid, STATE_KEY))?.data as LegState | undefined;
  }

  /**
   * Claims the right to subscribe the leg: Sync, not Twilio's IdempotencyKey, makes it exactly one
   * subscription per leg. The first callback that finds no state creates it with a claim; a later
   * one takes over a claim that was refused, failed or abandoned (older than one invocation), with
   * If-Match so two takers cannot both win. A finished leg is never claimed (nor brought back).
   */
  async claimSubscription(
    leg: SdkLeg,
    status: 'initiated' | 'ringing' | 'in-progress',
    at: Date,
  ): Promise<SubscriptionClaim> {
    const claim: SubscriptionRecord = { status: 'claimed', at: at.toISOString(), by: status };
    const fresh: LegState = { ...legFields(leg), status, updatedAt: at.toISOString(), subscription: claim };
    // Only the first callback of a leg is likely to find no state: the others read first.
    if (status !== 'in-progress') {
      const created = await this.createItem(leg.callSid, STATE_KEY, fresh);
      if (created) return { action: 'subscribe', claimed: { revision: created.revision, state: fresh } };
    }
    for (let attempt = 0; attempt < MAX_CONDITIONAL_ATTEMPTS; attempt++) {
      const item = await this.fetchItem(leg.callSid, STATE_KEY);
      if (!item) {
        const created = await this.createItem(leg.callSid, STATE_KEY, fresh);
        if (created) return { action: 'subscribe', claimed: { revision: created.revision, state: fresh } };
        continue;
      }
      const state = item.data as LegState;
      if (isFinal(state.status)) return { action: 'none', reason: 'ended' };
      const record = state.subscription;
      const takeOver = !record || record.status === 'refused' || record.status === 'failed' || isStale(record, at);
      const next: LegState = {
        ...state,
        ...(rank(status) > rank(state.status) ? { status, updatedAt: at.toISOString() } : {}),
        ...(takeOver ? { subscription: claim } : {}),
      };
      if (!takeOver && next.status === state.status) {
        return { action: 'none', reason: record?.status === 'subscribed' ? 'subscribed' : 'in-flight' };
      }
      try {
        const updated = await this.retry(() =>
          this.items(leg.callSid)(STATE_KEY).update({ data: next, ifMatch: item.revision }),
        );
        if (takeOver) return { action: 'subscribe', claimed: { revision: updated.revision, state: next } };
        return { action: 'none', reason: record?.status === 'subscribed' ? 'subscribed' : 'in-flight' };
      } catch (err) {
        if (!isRevisionMismatch(err) && !isNotFound(err)) throw err;
      }
    }
    throw new HttpError(503, 'record-contended', `The state of ${leg.callSid} kept changing; retry the callback.`);
  }

  /**
   * Records what became of a claimed subscription: one conditional write when nothing changed since
   * the claim; otherwise merged into the state as it is now. A final state stays final.
   */
  async recordSubscription(leg: SdkLeg, claimed: ClaimedState, record: SubscriptionRecord): Promise<void> {
    let current: Item | undefined = { key: STATE_KEY, data: claimed.state, revision: claimed.revision };
    for (let attempt = 0; attempt < MAX_CONDITIONAL_ATTEMPTS; attempt++) {
      if (!current) return; // the state is gone (expired): nothing to record on
      const state = current.data as LegState;
      if (isFinal(state.status)) return;
      const ifMatch = current.revision;
      try {
        await this.retry(() =>
          this.items(leg.callSid)(STATE_KEY).update({ data: { ...state, subscription: record }, ifMatch }),
        );
        return;
      } catch (err) {
        if (!isRevisionMismatch(err)) throw err;
      }
      current = await this.fetchItem(leg.callSid, STATE_KEY);
    }
    throw new HttpError(503, 'record-contended', `The state of ${leg.callSid} kept changing; retry the callback.`);
  }

  /** Records a leg's end (a final status wins over everything) and lets its Sync objects expire. */
  async markFinished(leg: SdkLeg, status: FinalStatus, at: Date, durationSeconds?: number): Promise<void> {
    const state: LegState = {
      ...legFields(leg),
      status,
      updatedAt: at.toISOString(),
      endedAt: at.toISOString(),
      ...(durationSeconds !== undefined ? { durationSeconds } : {}),
    };
    const collectionTtl = this.config.finishedCallTtl;
    for (let attempt = 0; attempt < MAX_CONDITIONAL_ATTEMPTS; attempt++) {
      try {
        // No If-Match: the final status overwrites whatever is there (a concurrent claim then loses its race).
        await this.retry(() => this.items(leg.callSid)(STATE_KEY).update({ data: state, collectionTtl }));
        return;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      // No state yet (the call never got far, or this callback overtook the others).
      if (await this.createItem(leg.callSid, STATE_KEY, state, collectionTtl)) return;
    }
    throw new HttpError(503, 'record-failed', `Could not record the end of ${leg.callSid}; retry the callback.`);
  }

  /** Stores a message exactly once under `key`. Parts are written before the head item, whose key is the dedupe. */
  private async saveAt(key: string, message: CallMessage): Promise<'stored' | 'duplicate'> {
    const [first = '', ...rest] = splitForSync(message.content);
    for (const [i, part] of rest.entries()) {
      // A part that exists already came from an earlier delivery of the same message: same content.
      await this.createItem(message.callSid, `${key}~${i + 1}`, { part });
    }
    const created = await this.createItem(message.callSid, key, { ...message, content: first, parts: rest.length + 1 });
    return created ? 'stored' : 'duplicate';
  }

  /** A message from the SDK: its SequenceNumber and Sid are its key, so a redelivery is a no-op. */
  async saveInbound(message: CallMessage & { sid: string; sequence: number }): Promise<'stored' | 'duplicate'> {
    return this.saveAt(inboundKey(message.sequence, message.sid), message);
  }

  /**
   * Claims an idempotency key before a send, so one key sends at most once whatever Twilio does
   * with a reused IdempotencyKey. A claim whose message was never recorded and that is older than
   * one invocation may be sent again (same key: Twilio dedupes where it can). A leg with no Map yet
   * is one we never saw: `beforeNewLeg` runs before anything is written (and may refuse by throwing).
   */
  async claimSend(
    callSid: string,
    idempotencyKey: string,
    now: Date,
    beforeNewLeg?: () => Promise<void>,
  ): Promise<SendClaim> {
    const key = sendClaimKey(idempotencyKey);
    const sentAtMs = now.getTime();
    if (await this.createItem(callSid, key, { sentAtMs }, undefined, beforeNewLeg)) {
      return { outcome: 'claimed', sentAtMs };
    }
    const claim = await this.fetchItem(callSid, key);
    const data = claim?.data as { sentAtMs?: unknown; attemptEnded?: unknown } | undefined;
    const claimedAt = Number(data?.sentAtMs);
    if (!claim || !Number.isFinite(claimedAt)) return { outcome: 'in-flight' };
    const recorded = await this.readMessage(callSid, outboundKey(claimedAt, idempotencyKey));
    if (recorded) return { outcome: 'already-sent', message: recorded };
    // Under way in another invocation, unless that one answered already (it failed: try again).
    if (data?.attemptEnded !== true && sentAtMs - claimedAt < SEND_CLAIM_STALE_MS) return { outcome: 'in-flight' };
    return { outcome: 'claimed', sentAtMs: claimedAt };
  }

  /** Marks a send attempt over without a recorded message (it answered 503): a retry may send again at once. */
  async endSendAttempt(callSid: string, idempotencyKey: string, sentAtMs: number): Promise<void> {
    await this.retry(() =>
      this.items(callSid)(sendClaimKey(idempotencyKey)).update({ data: { sentAtMs, attemptEnded: true } }),
    );
  }

  /** Frees a key whose send Twilio refused (nothing was sent), so the same request can be made again. */
  async releaseSend(callSid: string, idempotencyKey: string): Promise<void> {
    try {
      await this.retry(() => this.items(callSid)(sendClaimKey(idempotencyKey)).remove());
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** A message to the SDK, at the key its send claim fixed. */
  async saveOutbound(
    message: CallMessage & { idempotencyKey: string },
    sentAtMs: number,
  ): Promise<'stored' | 'duplicate'> {
    return this.saveAt(outboundKey(sentAtMs, message.idempotencyKey), message);
  }

  private async readMessage(callSid: string, key: string): Promise<CallMessage | undefined> {
    const head = await this.fetchItem(callSid, key);
    if (!head) return undefined;
    const { parts = 1, ...message } = head.data as CallMessage & { parts?: number };
    let content = message.content;
    for (let i = 1; i < parts; i++) {
      const part = await this.fetchItem(callSid, `${key}~${i}`);
      content += partText(part?.data);
    }
    return { ...message, content };
  }

  /**
   * One page of a leg's history, in two Sync requests whatever its length: a range read of the
   * messages from the SDK and one of those to it, each from its cursor, merged (from-SDK messages
   * by SequenceNumber, to-SDK by send time, the two by time). The state comes with the first page.
   * Undefined when the leg's Map does not exist.
   */
  async readHistory(callSid: string, cursor: HistoryCursor, pageSize: number): Promise<HistoryPage | undefined> {
    const asc = cursor.order === 'asc';
    const startOf = (prefix: string, end: string, last: string | undefined, stateSide: boolean) =>
      last !== undefined
        ? { from: last, bounds: 'exclusive' as const }
        : { from: stateSide ? STATE_KEY : asc ? prefix : end, bounds: 'inclusive' as const };
    let pages;
    try {
      // Ascending, the to-SDK read starts at `state`; descending, the from-SDK read does.
      pages = await Promise.all([
        this.readRange(callSid, asc, startOf(FROM_SDK, FROM_SDK_END, cursor.fromSdk, !asc)),
        this.readRange(callSid, asc, startOf(TO_SDK, TO_SDK_END, cursor.toSdk, asc)),
      ]);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const [fromSdk, toSdk] = [collectRange(pages[0], FROM_SDK), collectRange(pages[1], TO_SDK)];
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

  private async readRange(callSid: string, asc: boolean, start: { from: string; bounds: 'inclusive' | 'exclusive' }) {
    const page = await this.retry(() =>
      this.items(callSid).page({ order: asc ? 'asc' : 'desc', pageSize: SYNC_PAGE_SIZE, ...start }),
    );
    return { items: page.instances.map((i) => ({ key: i.key, data: i.data as unknown })), more: !!page.nextPageUrl };
  }

  // Forwarding to the app's backend (lib/routes/forwarding.ts): whether a stored message from the
  // SDK reached it is a flag on the message's head item.

  /** The head item of a stored message from the SDK (one read; its parts are not needed), or undefined. */
  async readInbound(callSid: string, sequence: number, sid: string): Promise<StoredInbound | undefined> {
    const head = await this.fetchItem(callSid, inboundKey(sequence, sid));
    if (!head) return undefined;
    const data = head.data as Record<string, unknown>;
    return { key: head.key, data, forwarded: typeof data.forwarded === 'boolean' ? data.forwarded : undefined };
  }

  /** Marks a stored message from the SDK forwarded: its head item as read, with the flag set (one write). */
  async markForwarded(callSid: string, stored: StoredInbound): Promise<void> {
    await this.retry(() => this.items(callSid)(stored.key).update({ data: { ...stored.data, forwarded: true } }));
  }
}

/** A stored message from the SDK as `readInbound` finds it: its head item and forwarding flag. */
export interface StoredInbound {
  key: string;
  data: Record<string, unknown>;
  /** True: the app's backend acknowledged it; false: not delivered yet; undefined: stored while forwarding was off. */
  forwarded?: boolean;
}

interface RangeRead {
  state?: LegState;
  messages: { key: string; message: CallMessage }[];
  /** Every message of the range was seen (it needs no further read from this cursor). */
  ended: boolean;
}

/**
 * The complete messages of one range read, in read order. A message whose continuation parts were
 * cut off by the page boundary ends the read early: the next page starts at it.
 */
function collectRange(page: { items: { key: string; data: unknown }[]; more: boolean }, prefix: string): RangeRead {
  const parts = new Map<string, string>();
  for (const item of page.items) if (item.key.includes('~')) parts.set(item.key, partText(item.data));
  const read: RangeRead = { messages: [], ended: !page.more };
  for (const item of page.items) {
    if (item.key === STATE_KEY) {
      read.state = item.data as LegState;
      continue;
    }
    if (!item.key.startsWith(prefix)) {
      read.ended = true; // past the range: every message of it was in this read
      break;
    }
    if (item.key.includes('~')) continue;
    const { parts: count = 1, ...head } = item.data as CallMessage & { parts?: number };
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

function partText(data: unknown): string {
  const part = (data as { part?: unknown } | undefined)?.part;
  return typeof part === 'string' ? part : '';
}

/** Merge order: by time; from the SDK first on a tie (its second-resolution Timestamp trails sends). */
function comesFirst(a: CallMessage, b: CallMessage, asc: boolean): boolean {
  return asc ? a.timestamp <= b.timestamp : a.timestamp > b.timestamp;
}

const FINAL: ReadonlySet<string> = new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']);
const isFinal = (status: string) => FINAL.has(status);
const STATUS_RANK: Record<string, number> = { initiated: 0, ringing: 1, 'in-progress': 2 };
/** How far along a leg is: a callback never moves the recorded status back (they arrive in any order). */
const rank = (status: LegStatus) => STATUS_RANK[status] ?? 3;
const isStale = (record: SubscriptionRecord, now: Date) =>
  record.status === 'claimed' && now.getTime() - Date.parse(record.at) > CLAIM_STALE_MS;

function legFields(leg: SdkLeg) {
  return {
    callSid: leg.callSid,
    parentCallSid: leg.parentCallSid,
    role: leg.role,
    identity: leg.identity,
    peer: leg.peer,
  };
}
