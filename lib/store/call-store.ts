// Call state and message history in Twilio Sync: one Map per Voice SDK call leg, named after the
// leg (`cme.call.<callsid in lower case>`: a unique name may not look like a SID), so no Sync
// object is written account-wide on every event and each leg has Sync's 20 writes/s per object
// to itself. The item keys and their order: lib/store/keys.ts.
import type { CallMessage, LegState, SubscriptionRecord } from '../shared/api-types';
import { isFinalStatus, sdkLegFields, statusRank, type FinalStatus, type SdkLeg } from '../calls/legs';
import {
  inboundKey,
  isNotFound,
  isRevisionMismatch,
  legacyOutboundKey,
  outboundKey,
  sendClaimKey,
  STATE_KEY,
} from './keys';
import { apiError } from '../shared/error-catalogue';
import type { HistoryCursor, HistoryPage } from './history-range';
import { readCatchUp, readPage, type ReadRange } from './history-read';
import { LegMap, type Item } from './leg-map';
import { REQUEST_TIMEOUT_MS } from '../platform/retry';

export type { CallMessage, LegState } from '../shared/api-types';
export { inboundKey, isNotFound, shortHash, legMapName, outboundKey, splitForSync, STATE_KEY } from './keys';
export type { HistoryCursor, HistoryPage } from './history-range';

/** A subscription claim older than one invocation (Functions stop at 10 s) was abandoned. */
export const CLAIM_STALE_MS = 10_000;
/** A send claim older than this whose message was never recorded may be sent again. */
const SEND_CLAIM_STALE_MS = 10_000;
/** Longest pause between two reads of a leg's state while waiting for another invocation's claim. */
const MAX_AWAIT_DELAY_MS = 1000;
/** Conditional (If-Match) updates that lose a race re-read and try again this many times. */
const MAX_CONDITIONAL_ATTEMPTS = 4;

/** The state as a claim wrote it, and its revision: what recording the outcome updates. */
export interface ClaimedState {
  revision: string;
  state: LegState;
}

/** What a status callback should do about a leg's subscription. */
export type SubscriptionClaim =
  { action: 'subscribe'; claimed: ClaimedState } | { action: 'none'; reason: 'subscribed' | 'in-flight' | 'ended' };

type SendClaim =
  | { outcome: 'claimed'; sentAtMs: number }
  | { outcome: 'already-sent'; message: CallMessage }
  /** Twilio took it but recording it failed: record it now, never send it again. */
  | { outcome: 'sent-unrecorded'; sentAtMs: number; sid: string | null }
  /** The key was claimed for other content. */
  | { outcome: 'key-reused' }
  | { outcome: 'in-flight' };

/** A send claim's item: when it was claimed (its place in the history), for what, and how it went. */
interface SendClaimData {
  sentAtMs: number;
  contentHash?: string;
  attemptEnded?: boolean;
  sent?: boolean;
  sid?: string | null;
}

export class CallStore extends LegMap {
  /** The same store, its retries bounded by an earlier deadline (to leave time for what follows). */
  withDeadline(deadline: number): CallStore {
    return new CallStore(this.client, this.config, deadline);
  }

  /**
   * Waits while another invocation's subscription claim is in flight, reading the state after
   * `firstDelayMs`, then less and less often (Sync allows ~20 reads/s per object, shared by every
   * waiting copy), while a read can still end by `until` (ms since epoch). Answers the record as it
   * ended up; still `claimed`, or undefined, when time ran out or a read failed (the caller then
   * answers in-flight).
   */
  async awaitSubscription(callSid: string, until: number, firstDelayMs = 250): Promise<SubscriptionRecord | undefined> {
    let delay = firstDelayMs;
    let record: SubscriptionRecord | undefined;
    while (Date.now() + delay + REQUEST_TIMEOUT_MS <= until) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      try {
        record = (await this.readState(callSid))?.subscription;
      } catch {
        return undefined;
      }
      if (record?.status !== 'claimed') return record;
      delay = Math.min(delay * 2, MAX_AWAIT_DELAY_MS);
    }
    return record;
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
    const fresh: LegState = { ...sdkLegFields(leg), status, updatedAt: at.toISOString(), subscription: claim };
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
      const state = item.data as LegState;
      if (isFinalStatus(state.status)) return { action: 'none', reason: 'ended' };
      const record = state.subscription;
      const takeOver = !record || record.status === 'refused' || record.status === 'failed' || isStale(record, at);
      const next: LegState = {
        ...state,
        ...(statusRank(status) > statusRank(state.status) ? { status, updatedAt: at.toISOString() } : {}),
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
    throw apiError('record-contended', `The state of ${leg.callSid} kept changing; retry the callback.`);
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
      if (isFinalStatus(state.status)) return;
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
    throw apiError('record-contended', `The state of ${leg.callSid} kept changing; retry the callback.`);
  }

  /** Records a leg's end (a final status wins over everything) and lets its Sync objects expire. */
  async markFinished(leg: SdkLeg, status: FinalStatus, at: Date, durationSeconds?: number): Promise<void> {
    const state: LegState = {
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
    options: { contentHash?: string; beforeNewLeg?: () => Promise<void> } = {},
  ): Promise<SendClaim> {
    const key = sendClaimKey(idempotencyKey);
    const sentAtMs = now.getTime();
    const { contentHash, beforeNewLeg } = options;
    if (await this.createItem(callSid, key, { sentAtMs, contentHash }, undefined, beforeNewLeg)) {
      return { outcome: 'claimed', sentAtMs };
    }
    const claim = await this.fetchItem(callSid, key);
    const data = claim?.data as SendClaimData | undefined;
    const claimedAt = Number(data?.sentAtMs);
    if (!claim || !Number.isFinite(claimedAt)) return { outcome: 'in-flight' };
    // One key, one content: a key reused for other content is the caller's mistake, not a retry.
    if (contentHash !== undefined && data?.contentHash !== undefined && data.contentHash !== contentHash) {
      return { outcome: 'key-reused' };
    }
    const recorded = await this.readMessage(callSid, outboundKey(claimedAt, idempotencyKey));
    if (recorded) return { outcome: 'already-sent', message: recorded };
    if (data?.sent === true) {
      return { outcome: 'sent-unrecorded', sentAtMs: claimedAt, sid: typeof data.sid === 'string' ? data.sid : null };
    }
    // Under way in another invocation, unless that one answered already (it failed: try again).
    if (data?.attemptEnded !== true && sentAtMs - claimedAt < SEND_CLAIM_STALE_MS) return { outcome: 'in-flight' };
    // Before sending again: recorded by a deploy that kept messages to the SDK under the old keys?
    const legacy = await this.readMessage(callSid, legacyOutboundKey(claimedAt, idempotencyKey));
    if (legacy) return { outcome: 'already-sent', message: legacy };
    return { outcome: 'claimed', sentAtMs: claimedAt };
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

  /** Marks a send attempt over without a recorded message (it answered 503): a retry may send again at once. */
  async endSendAttempt(
    callSid: string,
    idempotencyKey: string,
    claim: { sentAtMs: number; contentHash?: string },
  ): Promise<void> {
    await this.updateSendClaim(callSid, idempotencyKey, claim, { attemptEnded: true });
  }

  /** Rewrites a send claim with how it went, keeping what it was claimed with (and nothing else). */
  private async updateSendClaim(
    callSid: string,
    idempotencyKey: string,
    { sentAtMs, contentHash }: { sentAtMs: number; contentHash?: string },
    outcome: Pick<SendClaimData, 'attemptEnded' | 'sent' | 'sid'>,
  ): Promise<void> {
    const data: SendClaimData = { sentAtMs, contentHash, ...outcome };
    await this.retry(() => this.items(callSid)(sendClaimKey(idempotencyKey)).update({ data }));
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
      return { items: page.instances.map((i) => ({ key: i.key, data: i.data as unknown })), more: !!page.nextPageUrl };
    };
    try {
      return await (catchUp ? readCatchUp : readPage)(read, cursor, pageSize);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  // Forwarding to the app's backend (lib/forwarding/messages.ts): whether a stored message from the
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

const isStale = (record: SubscriptionRecord, now: Date) =>
  record.status === 'claimed' && now.getTime() - Date.parse(record.at) > CLAIM_STALE_MS;
