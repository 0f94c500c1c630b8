import { randomUUID } from 'node:crypto';
// Call state and message history in Twilio Sync: one Map per Voice SDK call leg, named after the
// leg (`cme.call.<callsid in lower case>`: a unique name may not look like a SID), so no Sync
// object is written account-wide on every event and each leg has Sync's 20 writes/s per object
// to itself. The item keys and their order: lib/store/keys.ts.
import { isFinalStatus, isLiveLeg, sdkLegFields, statusRank, type FinalStatus, type SdkLeg } from '../calls/legs';
import {
  identityMapName,
  inboundKey,
  isMessageHeadKey,
  legacyOutboundKey,
  outboundKey,
  sendClaimKey,
  STATE_KEY,
} from './keys';
import { apiError } from '../shared/error-catalogue';
import type { HistoryCursor, HistoryPage } from './history-range';
import { readCatchUp, readPage, type ReadRange } from './history-read';
import { LegMap } from './leg-map';
import { ConferenceStore } from './conference-store';
import {
  logUnreadable,
  parseIdentityLeg,
  parseLegState,
  parseMessageHead,
  parseSendClaim,
  type StoredIdentityLeg,
  type StoredLegState,
  type StoredMessage,
  type StoredMessageHead,
  type StoredSendClaim,
  type StoredSubscription,
} from './records';
import { isAlreadyExists, isItemRevisionMismatch, isNotFound, type RetryTuning } from './sync';
import { CONSOLE_INDEX_MAPS, consoleIndexMapOf } from '../shared/sync-names';
import { REQUEST_TIMEOUT_MS, withRetry } from '../platform/retry';

export type { StoredLegState, StoredMessage, StoredSubscription } from './records';
export { inboundKey, shortHash, legMapName, outboundKey, splitForSync, STATE_KEY } from './keys';
export type { HistoryCursor, HistoryPage } from './history-range';

/** A subscription claim older than one invocation (Functions stop at 10 s) was abandoned. */
export const CLAIM_STALE_MS = 10_000;
/** A send claim older than this whose message was never recorded was abandoned (Functions stop at 10 s). */
const SEND_CLAIM_STALE_MS = 10_000;
/** How long a send told `in-flight` waits before asking again: most sends are recorded within a second. */
export const SEND_IN_FLIGHT_RETRY_MS = 1000;
/**
 * How long after an attempt ended without Twilio's answer its key waits before it is sent again:
 * Twilio may still be working on the request the client gave up on (after 3 s), and the same
 * IdempotencyKey is best sent once that one has landed or failed.
 */
export const SEND_UNKNOWN_SETTLE_MS = 5000;
/**
 * A send claim's mark (how its attempt ended) is what keeps a send exactly once: it may use half of
 * the last second before Functions' 10 s limit, past the invocation's own deadline (9 s).
 */
const SEND_MARK_GRACE_MS = 500;
/** Longest pause between two reads of a leg's state while waiting for another invocation's claim. */
const MAX_AWAIT_DELAY_MS = 1000;
/** Legs of one identity read from its Map at most (one page; a leg leaves it when it ends). */
export const MAX_IDENTITY_LEGS = 20;
/** Sync's largest page of Map items: a count reads a leg's items this many at a time. */
const COUNT_PAGE_SIZE = 100;
/** Conditional (If-Match) updates that lose a race re-read and try again this many times. */
const MAX_CONDITIONAL_ATTEMPTS = 4;

/** The state as a claim wrote it, and its revision: what recording the outcome updates. */
export interface ClaimedState {
  revision: string;
  state: StoredLegState;
  /** The claim sends an earlier attempt's IdempotencyKey (that attempt may have made the subscription). */
  carriedKey?: boolean;
}

/** What a status callback should do about a leg's subscription. */
export type SubscriptionClaim =
  { action: 'subscribe'; claimed: ClaimedState } | { action: 'none'; reason: 'subscribed' | 'in-flight' | 'ended' };

type SendClaim =
  | { outcome: 'claimed'; sentAtMs: number }
  | { outcome: 'already-sent'; message: StoredMessage }
  /** Twilio took it but recording it failed: record it now, never send it again. */
  | { outcome: 'sent-unrecorded'; sentAtMs: number; sid: string | null }
  /** The key was claimed for other content. */
  | { outcome: 'key-reused' }
  /** An attempt is (or may still be) under way at Twilio: ask again after `retryAfterMs`. */
  | { outcome: 'in-flight'; retryAfterMs: number };

export class CallStore extends LegMap {
  /** The conference rooms' Maps, on the same client and deadline (lib/store/conference-store.ts). */
  conferences(): ConferenceStore {
    return new ConferenceStore(this.client, this.config, this.deadline);
  }

  /** One whole message of a leg, by its key in the leg's Map (a room's history points there). */
  readLegMessage(callSid: string, key: string): Promise<StoredMessage | undefined> {
    return this.readMessage(callSid, key);
  }

  /** The same store, its retries bounded by an earlier deadline (to leave time for what follows). */
  withDeadline(deadline: number): CallStore {
    return this.tuned({}, deadline);
  }

  /**
   * The same store, retrying a write Sync refused for its rate (429 / 54009) for at most
   * `patienceMs`: a send, which its caller can retry, gives the leg's Map to the message callbacks,
   * which have only Twilio's 15 s of retries.
   */
  yieldingOnRateLimit(patienceMs: number): CallStore {
    return this.tuned({ rateLimitPatienceMs: patienceMs });
  }

  private tuned(tuning: RetryTuning, deadline = this.deadline): CallStore {
    const store = new CallStore(this.client, this.config, deadline);
    store.retryTuning = { ...this.retryTuning, ...tuning };
    return store;
  }

  /**
   * Waits while another invocation's subscription claim is in flight, reading the state after
   * `firstDelayMs`, then less and less often (Sync allows ~20 reads/s per object, shared by every
   * waiting copy), while a read can still end by `until` (ms since epoch). Answers the leg's state
   * once its claim is settled, abandoned (stale) or the leg has ended; as last read (claim still
   * `claimed`) when time ran out; undefined when there is none or a read failed (the caller then
   * answers in-flight).
   */
  async awaitSubscription(callSid: string, until: number, firstDelayMs = 250): Promise<StoredLegState | undefined> {
    let delay = firstDelayMs;
    let state: StoredLegState | undefined;
    while (Date.now() + delay + REQUEST_TIMEOUT_MS <= until) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      try {
        state = await this.readState(callSid);
      } catch {
        return undefined;
      }
      const record = state?.subscription;
      if (!state || isFinalStatus(state.status) || record?.status !== 'claimed' || isAbandonedClaim(record, new Date()))
        return state;
      delay = Math.min(delay * 2, MAX_AWAIT_DELAY_MS);
    }
    return state;
  }

  /**
   * Claims the right to subscribe the leg: Sync, not Twilio's IdempotencyKey, makes it exactly one
   * subscription per leg. The first callback that finds no state creates it with a claim; a later
   * one takes over a claim that was refused, failed or abandoned (older than one invocation), with
   * If-Match so two takers cannot both win. A finished leg is never claimed (nor brought back). An
   * unreadable state is replaced by a fresh claim (If-Match too), as a missing one would be created.
   */
  async claimSubscription(
    leg: SdkLeg,
    status: 'initiated' | 'ringing' | 'in-progress',
    at: Date,
  ): Promise<SubscriptionClaim> {
    // The claim names the IdempotencyKey its subscribe sends (StoredSubscription.key).
    const claim: StoredSubscription = {
      status: 'claimed',
      at: at.toISOString(),
      by: status,
      key: `cme-subscribe-${leg.callSid}-${randomUUID().slice(0, 8)}`,
    };
    const fresh: StoredLegState = { ...sdkLegFields(leg), status, updatedAt: at.toISOString(), subscription: claim };
    // `initiated` is a leg's first callback: its Map is made first rather than found missing by the claim.
    if (status === 'initiated') await this.ensureLegMap(leg.callSid);
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
      const state = this.parsed(leg.callSid, item, parseLegState);
      if (state && isFinalStatus(state.status)) return { action: 'none', reason: 'ended' };
      const record = state?.subscription;
      const takeOver =
        !record || record.status === 'refused' || record.status === 'failed' || isAbandonedClaim(record, at);
      // A failed or abandoned attempt's key goes on with the claim that takes it over: Twilio may have
      // made that subscription. A refused one made nothing, so its claim gets a key of its own.
      const carried = record?.status !== 'refused' && record?.key ? { ...claim, key: record.key } : claim;
      const next: StoredLegState = state
        ? {
            ...state,
            ...(statusRank(status) > statusRank(state.status) ? { status, updatedAt: at.toISOString() } : {}),
            ...(takeOver ? { subscription: carried } : {}),
          }
        : fresh;
      if (state && !takeOver && next.status === state.status) {
        return { action: 'none', reason: record?.status === 'subscribed' ? 'subscribed' : 'in-flight' };
      }
      try {
        const updated = await this.retry(() =>
          this.items(leg.callSid)(STATE_KEY).update({ data: next, ifMatch: item.revision }),
        );
        if (takeOver)
          return {
            action: 'subscribe',
            claimed: { revision: updated.revision, state: next, ...(carried !== claim ? { carriedKey: true } : {}) },
          };
        return { action: 'none', reason: record?.status === 'subscribed' ? 'subscribed' : 'in-flight' };
      } catch (err) {
        if (!isItemRevisionMismatch(err) && !isNotFound(err)) throw err;
      }
    }
    throw apiError('record-contended', `The state of ${leg.callSid} kept changing; retry the callback.`);
  }

  /**
   * Records what became of a claimed subscription: one conditional write when nothing changed since
   * the claim; otherwise merged into the state as it is now. A final state stays final; a state
   * gone (expired) or unreadable has nothing to record on.
   */
  async recordSubscription(leg: SdkLeg, claimed: ClaimedState, record: StoredSubscription): Promise<void> {
    let current: ClaimedState | undefined = claimed;
    for (let attempt = 0; attempt < MAX_CONDITIONAL_ATTEMPTS; attempt++) {
      if (!current) return;
      const { state, revision: ifMatch } = current;
      if (isFinalStatus(state.status)) return;
      try {
        await this.retry(() =>
          this.items(leg.callSid)(STATE_KEY).update({ data: { ...state, subscription: record }, ifMatch }),
        );
        return;
      } catch (err) {
        if (!isItemRevisionMismatch(err)) throw err;
      }
      const item = await this.fetchItem(leg.callSid, STATE_KEY);
      const now = item && this.parsed(leg.callSid, item, parseLegState);
      current = item && now ? { state: now, revision: item.revision } : undefined;
    }
    throw apiError('record-contended', `The state of ${leg.callSid} kept changing; retry the callback.`);
  }

  /** Records a leg's end (a final status wins over everything) and lets its Sync objects expire. */
  async markFinished(leg: SdkLeg, status: FinalStatus, at: Date, durationSeconds?: number): Promise<void> {
    const state: StoredLegState = {
      ...sdkLegFields(leg),
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
    throw apiError('record-failed', `Could not record the end of ${leg.callSid}; retry the callback.`);
  }

  // An identity's legs (its own Map, lib/store/keys.ts): what a send by identity reads, rather than
  // the Calls API, which runs behind the status callbacks (TWILIO-FACTS §9, "eventually consistent").

  /**
   * Adds a leg to its identity's Map, made when missing; each add puts the Map's expiry at the
   * active-call TTL (a safety net: a leg leaves at its end). Already there: nothing changes.
   */
  async addIdentityLeg(leg: SdkLeg, at: Date): Promise<void> {
    const name = identityMapName(leg.identity);
    const ttl = this.config.activeCallTtl;
    const data: StoredIdentityLeg = { callSid: leg.callSid, role: leg.role, at: at.toISOString() };
    await this.createMapItem(name, leg.callSid, data, () => this.ensureMap(name, ttl), ttl);
  }

  /** Takes an ended leg out of its identity's Map (gone already: nothing to do). */
  async removeIdentityLeg(identity: string, callSid: string): Promise<void> {
    try {
      await this.retry(() => this.mapItems(identityMapName(identity))(callSid).remove());
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  // The console's index of live legs (lib/shared/sync-names.ts): what an open console subscribes
  // to, so a new or ended call reaches it as a Sync event rather than by polling.

  /**
   * Adds a leg to the console's index (made when missing): one write, with the active-call TTL as a
   * safety net for an end never reported. Already there: nothing changes.
   */
  async indexLeg(leg: SdkLeg, at: Date): Promise<void> {
    // An identity Map's item (StoredIdentityLeg), with the identity: one parser reads both.
    const data: StoredIdentityLeg & { identity: string } = {
      callSid: leg.callSid,
      role: leg.role,
      at: at.toISOString(),
      identity: leg.identity,
    };
    const shard = consoleIndexMapOf(leg.callSid);
    const create = async () => {
      try {
        await this.retry(() =>
          this.mapItems(shard).create({ key: leg.callSid, data, itemTtl: this.config.activeCallTtl }),
        );
        return true;
      } catch (err) {
        if (isAlreadyExists(err)) return true;
        if (isNotFound(err)) return false;
        throw err;
      }
    };
    if (await create()) return;
    await this.ensureMap(shard);
    await create();
  }

  /**
   * The legs the console's index holds, newest first, at most `limit` (one read of each shard, all
   * at once): their CallSids and when they were added.
   */
  async indexedLegs(limit: number): Promise<{ callSid: string; at: string }[]> {
    const shards = await Promise.all(
      CONSOLE_INDEX_MAPS.map(async (name) => {
        try {
          return await this.retry(() => this.mapItems(name).list({ pageSize: limit, limit }));
        } catch (err) {
          if (isNotFound(err)) return [];
          throw err;
        }
      }),
    );
    return shards
      .flat()
      .flatMap((item) => {
        const leg = parseIdentityLeg(item.data);
        if (!leg) logUnreadable(item.key);
        return leg && leg.callSid === item.key && !Number.isNaN(Date.parse(leg.at))
          ? [{ callSid: leg.callSid, at: leg.at }]
          : [];
      })
      .sort((a, b) => Date.parse(b.at) - Date.parse(a.at))
      .slice(0, limit);
  }

  /** Takes an ended leg out of the console's index (gone already: nothing to do). */
  async unindexLeg(callSid: string): Promise<void> {
    try {
      await this.retry(() => this.mapItems(consoleIndexMapOf(callSid))(callSid).remove());
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /**
   * The identity's legs its status callbacks last reported live, with their states: one read of its
   * Map, then each leg's state (usually one). A leg whose state is final left late (its end raced
   * its start) and is taken out now; one with no readable state counts as not live.
   */
  async liveLegsOf(identity: string): Promise<StoredLegState[]> {
    let items: { key: string; data: unknown }[];
    try {
      items = await this.retry(() =>
        this.mapItems(identityMapName(identity)).list({ pageSize: MAX_IDENTITY_LEGS, limit: MAX_IDENTITY_LEGS }),
      );
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    const callSids = items.flatMap((item) => {
      const leg = parseIdentityLeg(item.data);
      if (!leg) logUnreadable(item.key);
      return leg && leg.callSid === item.key ? [leg.callSid] : [];
    });
    const states = await Promise.all(callSids.map((callSid) => this.readState(callSid)));
    const mine = states.filter((state): state is StoredLegState => state?.identity === identity);
    const ended = mine.filter((state) => isFinalStatus(state.status));
    await Promise.all(ended.map((state) => this.removeIdentityLeg(identity, state.callSid).catch(() => undefined)));
    return mine.filter(isLiveLeg);
  }

  /** A message from the SDK: its SequenceNumber and Sid are its key, so a redelivery is a no-op. */
  async saveInbound(message: StoredMessage & { sid: string; sequence: number }): Promise<'stored' | 'duplicate'> {
    return this.saveAt(inboundKey(message.sequence, message.sid), message);
  }

  /**
   * Claims an idempotency key before a send, so one key is sent by one invocation at a time and
   * never again once Twilio took it. A claim whose attempt Twilio surely did not take (marked by
   * `endSendAttempt`) is taken over at once; one whose attempt got no answer (`markOutcomeUnknown`)
   * once that attempt can no longer be under way (SEND_UNKNOWN_SETTLE_MS), and then it is sent
   * again with the same IdempotencyKey; so is a claim left unmarked for longer than an invocation
   * runs. Taking over is conditional (If-Match), so two retries never both send. A leg with no Map
   * yet is one we never saw: `beforeNewLeg` runs before anything is written (and may refuse by
   * throwing). An unreadable claim counts as one in flight; an unreadable recorded message as none.
   */
  async claimSend(
    callSid: string,
    idempotencyKey: string,
    now: Date,
    options: { contentHash?: string; beforeNewLeg?: () => Promise<void> } = {},
  ): Promise<SendClaim> {
    const key = sendClaimKey(idempotencyKey);
    const nowMs = now.getTime();
    const { contentHash, beforeNewLeg } = options;
    const inFlight = (retryAfterMs = SEND_IN_FLIGHT_RETRY_MS) => ({ outcome: 'in-flight', retryAfterMs }) as const;
    if (await this.createItem(callSid, key, { sentAtMs: nowMs, contentHash }, undefined, beforeNewLeg)) {
      return { outcome: 'claimed', sentAtMs: nowMs };
    }
    const item = await this.fetchItem(callSid, key);
    const claim = item && this.parsed(callSid, item, parseSendClaim);
    if (!item || !claim) return inFlight();
    const claimedAt = claim.sentAtMs;
    // One key, one content: a key reused for other content is the caller's mistake, not a retry.
    if (contentHash !== undefined && claim.contentHash !== undefined && claim.contentHash !== contentHash) {
      return { outcome: 'key-reused' };
    }
    const recorded = await this.readMessage(callSid, outboundKey(claimedAt, idempotencyKey));
    if (recorded) return { outcome: 'already-sent', message: recorded };
    if (claim.sent === true) {
      return { outcome: 'sent-unrecorded', sentAtMs: claimedAt, sid: typeof claim.sid === 'string' ? claim.sid : null };
    }
    if (claim.outcomeUnknownAtMs !== undefined) {
      const settled = claim.outcomeUnknownAtMs + SEND_UNKNOWN_SETTLE_MS;
      if (nowMs < settled) return inFlight(settled - nowMs);
    } else if (claim.attemptEnded !== true) {
      // Under way in another invocation, unless that one is over (Functions stop at 10 s).
      const abandonedAt = (claim.attemptAtMs ?? claimedAt) + SEND_CLAIM_STALE_MS;
      if (nowMs < abandonedAt) return inFlight(Math.min(SEND_IN_FLIGHT_RETRY_MS, abandonedAt - nowMs));
    }
    // Migration, remove after 2026-12-13 with legacyOutboundKey (the upgrade landed 2026-12-06; a
    // leg's Map expires within 48 h): before sending again, was it recorded under the old keys?
    const legacy = await this.readMessage(callSid, legacyOutboundKey(claimedAt, idempotencyKey));
    if (legacy) return { outcome: 'already-sent', message: legacy };
    // Taken over for this attempt, at the claim's place in the history: a concurrent retry loses the If-Match.
    const retaken: StoredSendClaim = {
      sentAtMs: claimedAt,
      ...(claim.contentHash !== undefined ? { contentHash: claim.contentHash } : {}),
      attemptAtMs: nowMs,
    };
    try {
      await this.retry(() => this.items(callSid)(key).update({ data: retaken, ifMatch: item.revision }));
    } catch (err) {
      if (isItemRevisionMismatch(err) || isNotFound(err)) return inFlight();
      throw err;
    }
    return { outcome: 'claimed', sentAtMs: claimedAt };
  }

  /** The message a send key sent to the leg, as recorded (its claim, then the message: 2 reads). */
  async readSentMessage(callSid: string, idempotencyKey: string): Promise<StoredMessage | undefined> {
    const item = await this.fetchItem(callSid, sendClaimKey(idempotencyKey));
    const claim = item && this.parsed(callSid, item, parseSendClaim);
    return claim && this.readMessage(callSid, outboundKey(claim.sentAtMs, idempotencyKey));
  }

  /** Marks a key sent whose message could not be recorded: a retry records it instead of sending again. */
  async markSent(
    callSid: string,
    idempotencyKey: string,
    claim: { sentAtMs: number; contentHash?: string },
    sid: string | null,
  ): Promise<void> {
    await this.updateSendClaim(callSid, idempotencyKey, claim, { sent: true, sid });
  }

  /** Marks a send attempt that Twilio surely did not take (429, 503, no connection): a retry may send again at once. */
  async endSendAttempt(
    callSid: string,
    idempotencyKey: string,
    claim: { sentAtMs: number; contentHash?: string },
  ): Promise<void> {
    await this.updateSendClaim(callSid, idempotencyKey, claim, { attemptEnded: true });
  }

  /**
   * Marks a send attempt that reached Twilio without an answer (500, a timeout): it may have been
   * delivered, or Twilio may still be working on it, so a retry waits SEND_UNKNOWN_SETTLE_MS before
   * the key is sent again. Answers that time.
   */
  async markOutcomeUnknown(
    callSid: string,
    idempotencyKey: string,
    claim: { sentAtMs: number; contentHash?: string },
    at: Date,
  ): Promise<number> {
    await this.updateSendClaim(callSid, idempotencyKey, claim, { outcomeUnknownAtMs: at.getTime() });
    return at.getTime() + SEND_UNKNOWN_SETTLE_MS;
  }

  /** Rewrites a send claim with how it went, keeping what it was claimed with (and nothing else). */
  private async updateSendClaim(
    callSid: string,
    idempotencyKey: string,
    { sentAtMs, contentHash }: { sentAtMs: number; contentHash?: string },
    outcome: Pick<StoredSendClaim, 'attemptEnded' | 'outcomeUnknownAtMs' | 'sent' | 'sid'>,
  ): Promise<void> {
    const data: StoredSendClaim = { sentAtMs, ...(contentHash !== undefined ? { contentHash } : {}), ...outcome };
    await this.retryMark(() => this.items(callSid)(sendClaimKey(idempotencyKey)).update({ data }));
  }

  /** One Sync request of a claim's mark, retried within the deadline and its grace. */
  private retryMark<T>(op: () => Promise<T>): Promise<T> {
    return withRetry(op, { deadline: this.deadline === undefined ? undefined : this.deadline + SEND_MARK_GRACE_MS });
  }

  /** Frees a key whose send Twilio refused (nothing was sent), so the same request can be made again. */
  async releaseSend(callSid: string, idempotencyKey: string): Promise<void> {
    try {
      await this.retryMark(() => this.items(callSid)(sendClaimKey(idempotencyKey)).remove());
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** A message to the SDK, at the key its send claim fixed. */
  async saveOutbound(
    message: StoredMessage & { idempotencyKey: string },
    sentAtMs: number,
  ): Promise<'stored' | 'duplicate'> {
    return this.saveAt(outboundKey(sentAtMs, message.idempotencyKey), message);
  }

  /**
   * One page of a leg's history, in at most two Sync requests whatever its length (lib/store/history-read.ts);
   * `catchUp`: what came after an ascending cursor, in one request when that read holds it all.
   * Undefined when the leg's Map does not exist.
   */
  async readHistory(
    callSid: string,
    cursor: HistoryCursor,
    pageSize: number,
    { catchUp = false } = {},
  ): Promise<HistoryPage | undefined> {
    const read: ReadRange = async (ascending, start, size) => {
      const page = await this.retry(() =>
        this.items(callSid).page({ order: ascending ? 'asc' : 'desc', pageSize: size, ...start }),
      );
      // Each item's data is parsed where the page is collected (lib/store/history-range.ts).
      const items = page.instances.map((i): { key: string; data: unknown } => ({ key: i.key, data: i.data }));
      return { items, more: !!page.nextPageUrl };
    };
    try {
      return await (catchUp ? readCatchUp : readPage)(read, cursor, pageSize);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * How many messages a leg holds, both ways, each once (its head item; continuation parts, the
   * state and send claims are not counted): its Map's items read in key order, 100 a read (a
   * typical call: one read). `complete` false when the deadline left no time for the next read:
   * `count` is then what was counted so far (at least that many). No Map: none.
   */
  async countMessages(callSid: string): Promise<{ count: number; complete: boolean }> {
    let count = 0;
    let after: string | undefined;
    for (;;) {
      if (this.deadline !== undefined && Date.now() + REQUEST_TIMEOUT_MS > this.deadline) {
        return { count, complete: false };
      }
      const from = after;
      let page;
      try {
        page = await this.retry(() =>
          this.items(callSid).page({
            order: 'asc',
            pageSize: COUNT_PAGE_SIZE,
            ...(from !== undefined ? { from, bounds: 'exclusive' as const } : {}),
          }),
        );
      } catch (err) {
        if (isNotFound(err)) return { count, complete: true };
        throw err;
      }
      for (const item of page.instances) if (isMessageHeadKey(item.key)) count++;
      after = page.instances[page.instances.length - 1]?.key;
      if (!page.nextPageUrl || after === undefined) return { count, complete: true };
    }
  }

  // Forwarding to the app's backend (lib/forwarding/messages.ts): whether a stored message from the
  // SDK reached it is a flag on the message's head item.

  /**
   * The head item of a stored message from the SDK (one read; its parts are not needed), or
   * undefined. An unreadable head still counts as stored (its key is what makes a message once),
   * its forwarding unknown.
   */
  async readInbound(callSid: string, sequence: number, sid: string): Promise<StoredInbound | undefined> {
    const item = await this.fetchItem(callSid, inboundKey(sequence, sid));
    if (!item) return undefined;
    const head = this.parsed(callSid, item, parseMessageHead);
    return { key: item.key, ...(head ? { head, forwarded: head.forwarded } : {}) };
  }

  /** Marks a stored message from the SDK forwarded: its head item as read, with the flag set (one write). */
  async markForwarded(callSid: string, stored: StoredInbound): Promise<void> {
    const { head } = stored;
    if (!head) return; // unreadable: never reported as not forwarded, so never asked to be marked
    await this.retry(() => this.items(callSid)(stored.key).update({ data: { ...head, forwarded: true } }));
  }
}

/** A stored message from the SDK as `readInbound` finds it: its head item and forwarding flag. */
export interface StoredInbound {
  key: string;
  /** The head item as stored (content: its first part); absent when it is unreadable. */
  head?: StoredMessageHead;
  /** True: the app's backend acknowledged it; false: not delivered yet; undefined: stored while forwarding was off. */
  forwarded?: boolean;
}

/** A subscription claim left `claimed` for longer than one invocation can run: its claimant is gone. */
export const isAbandonedClaim = (record: StoredSubscription, now: Date) =>
  record.status === 'claimed' && now.getTime() - Date.parse(record.at) > CLAIM_STALE_MS;
