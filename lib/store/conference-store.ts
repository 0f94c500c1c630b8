// A conference's Sync Map (`cme.conf.<room>`): the room's `state` and a `p.<callsid>` record per
// participant, written by /conference-status from events that repeat and arrive in any order.
// Each write is create-if-absent or If-Match on what was read, so copies never lose an update.
import type { Config } from '../platform/config';
import { apiError } from '../shared/error-catalogue';
import { conferenceMapName } from '../shared/sync-names';
import {
  applyParticipantEvent,
  parseBroadcastClaim,
  parseConferenceMessage,
  type BroadcastClaim,
  parseConferenceState,
  parseParticipant,
  type ParticipantEvent,
  type StoredConferenceMessage,
  type StoredConferenceState,
  type StoredParticipant,
} from './conference-records';
import { shortHash } from './keys';
import { logUnreadable } from './records';
import { isItemRevisionMismatch, isNotFound, SyncAccess, type SyncItem } from './sync';
import type { TwilioClient } from '../platform/twilio-client';

const STATE_KEY = 'state';
const PARTICIPANT_PREFIX = 'p.';
const participantKey = (callSid: string) => `${PARTICIPANT_PREFIX}${callSid.toLowerCase()}`;
const LOG_PREFIX = 'log.';
const BROADCAST_PREFIX = '~bcast.';

/**
 * A message's key in the room's history: its second, then its leg (or `bcast`), then `i`/`o` and
 * its SequenceNumber or its send key's hash. Fixed by the message, so a redelivery or a retried
 * send lands on the same key (create-if-absent), and key order is history order.
 */
export function conferenceLogKey(message: StoredConferenceMessage): string {
  const second = String(Math.floor(Date.parse(message.timestamp) / 1000)).padStart(10, '0');
  const who = message.callSid === BROADCAST ? 'bcast' : message.callSid.toLowerCase();
  const tail =
    message.direction === 'from-sdk'
      ? `i.${String(message.sequence ?? 0).padStart(10, '0')}`
      : `o.${shortHash(message.idempotencyKey ?? message.sid ?? '')}`;
  return `${LOG_PREFIX}${second}.${who}.${tail}`;
}

/** The callSid of a broadcast's history item. */
export const BROADCAST = 'broadcast';

const MAX_CONDITIONAL_ATTEMPTS = 6;
/** The most items Sync lists in one page. */
const SYNC_PAGE_SIZE = 100;

/** What a room event changes: its status (never back from ended), its CF Sid, how it ended. */
export type RoomUpdate = Partial<Pick<StoredConferenceState, 'status' | 'conferenceSid' | 'endedAt' | 'reason'>>;

const STATUS_RANK = { init: 0, 'in-progress': 1, ended: 2 } as const;

export class ConferenceStore extends SyncAccess {
  constructor(
    client: TwilioClient,
    protected override readonly config: Pick<Config, 'syncServiceSid' | 'finishedCallTtl' | 'activeCallTtl'>,
    deadline?: number,
  ) {
    super(client, config, deadline);
  }

  private items(room: string) {
    return this.mapItems(conferenceMapName(room));
  }

  private create(room: string, key: string, data: object, collectionTtl?: number) {
    const name = conferenceMapName(room);
    return this.createMapItem(name, key, data, () => this.ensureMap(name, this.config.activeCallTtl), collectionTtl);
  }

  private parsed<T>(room: string, item: SyncItem, parse: (data: unknown) => T | undefined): T | undefined {
    const value = parse(item.data);
    if (value === undefined) logUnreadable(item.key, room);
    return value;
  }

  /** The room's state; undefined when no event recorded it yet (or it is unreadable). */
  async readRoom(room: string): Promise<StoredConferenceState | undefined> {
    const item = await this.fetchMapItem(conferenceMapName(room), STATE_KEY);
    return item && this.parsed(room, item, parseConferenceState);
  }

  /**
   * Records a room event: the status only moves forward (an `ended` room stays ended), the CF Sid is
   * kept once known; an ended room's Map keeps the finished-call TTL from then on.
   */
  async recordRoom(room: string, originCallSid: string, update: RoomUpdate): Promise<StoredConferenceState> {
    const collectionTtl = update.status === 'ended' ? this.config.finishedCallTtl : undefined;
    for (let attempt = 0; attempt < MAX_CONDITIONAL_ATTEMPTS; attempt++) {
      const item = await this.fetchMapItem(conferenceMapName(room), STATE_KEY);
      const current = item && this.parsed(room, item, parseConferenceState);
      const base: StoredConferenceState = current ?? { room, originCallSid, status: 'init' };
      const forward = STATUS_RANK[update.status ?? 'init'] > STATUS_RANK[base.status];
      const next: StoredConferenceState = {
        ...base,
        ...(base.conferenceSid || !update.conferenceSid ? {} : { conferenceSid: update.conferenceSid }),
        ...(forward ? { status: update.status!, ...pick(update, 'endedAt', 'reason') } : {}),
      };
      if (current && JSON.stringify(next) === JSON.stringify(current)) return current;
      try {
        if (!item) {
          if (await this.create(room, STATE_KEY, next, collectionTtl)) return next;
          continue;
        }
        await this.retry(() =>
          this.items(room)(STATE_KEY).update({
            data: next,
            ifMatch: item.revision,
            ...(collectionTtl ? { collectionTtl } : {}),
          }),
        );
        return next;
      } catch (err) {
        if (!isItemRevisionMismatch(err) && !isNotFound(err)) throw err;
      }
    }
    throw apiError('record-contended', `The state of ${room} kept changing; retry the callback.`);
  }

  /** Notes a leg subscribed as the room's participant (once; its events may not have arrived yet). */
  async noteSubscribed(room: string, participant: { callSid: string; identity: string }, at: Date): Promise<void> {
    const key = participantKey(participant.callSid);
    for (let attempt = 0; attempt < MAX_CONDITIONAL_ATTEMPTS; attempt++) {
      const item = await this.fetchMapItem(conferenceMapName(room), key);
      const current = item && this.parsed(room, item, parseParticipant);
      if (current?.subscribedAt) return;
      const next: StoredParticipant = {
        ...(current ?? { callSid: participant.callSid, stints: [], seen: [] }),
        identity: current?.identity ?? participant.identity,
        subscribedAt: at.toISOString(),
      };
      try {
        if (!item) {
          if (await this.create(room, key, next)) return;
          continue;
        }
        await this.retry(() => this.items(room)(key).update({ data: next, ifMatch: item.revision }));
        return;
      } catch (err) {
        if (!isItemRevisionMismatch(err) && !isNotFound(err)) throw err;
      }
    }
    throw apiError('record-contended', `The record of ${participant.callSid} in ${room} kept changing.`);
  }

  /** Applies one participant event to its record: `duplicate` when its SequenceNumber was applied. */
  async applyParticipant(
    room: string,
    event: ParticipantEvent,
  ): Promise<{ outcome: 'applied' | 'duplicate'; participant: StoredParticipant }> {
    const key = participantKey(event.callSid);
    for (let attempt = 0; attempt < MAX_CONDITIONAL_ATTEMPTS; attempt++) {
      const item = await this.fetchMapItem(conferenceMapName(room), key);
      // An unreadable record is started again: its events are what it would have held.
      const current = item && this.parsed(room, item, parseParticipant);
      const next = applyParticipantEvent(current, event);
      if (next === 'duplicate') return { outcome: 'duplicate', participant: current! };
      try {
        if (!item) {
          if (await this.create(room, key, next)) return { outcome: 'applied', participant: next };
          continue;
        }
        await this.retry(() => this.items(room)(key).update({ data: next, ifMatch: item.revision }));
        return { outcome: 'applied', participant: next };
      } catch (err) {
        if (!isItemRevisionMismatch(err) && !isNotFound(err)) throw err;
      }
    }
    throw apiError('record-contended', `The record of ${event.callSid} in ${room} kept changing; retry the callback.`);
  }

  /** Adds a message to the room's history; a copy (same key) is a no-op. */
  async indexMessage(room: string, message: StoredConferenceMessage): Promise<'stored' | 'duplicate'> {
    return (await this.create(room, conferenceLogKey(message), message)) ? 'stored' : 'duplicate';
  }

  /** One page of the room's history in key (time) order, after `after` (a key from an earlier page). */
  async readLog(
    room: string,
    pageSize: number,
    after?: string,
  ): Promise<{ messages: (StoredConferenceMessage & { cursor: string })[]; next?: string }> {
    let page;
    try {
      page = await this.retry(() =>
        this.items(room).page({
          pageSize,
          from: after ?? LOG_PREFIX,
          bounds: after ? 'exclusive' : 'inclusive',
          order: 'asc',
        }),
      );
    } catch (err) {
      if (isNotFound(err)) return { messages: [] };
      throw err;
    }
    const mine = page.instances.filter((i) => i.key.startsWith(LOG_PREFIX));
    const messages = mine.flatMap((i) => {
      const message = this.parsed(room, { key: i.key, data: i.data, revision: i.revision }, parseConferenceMessage);
      return message ? [{ ...message, cursor: i.key }] : [];
    });
    const last = mine[mine.length - 1]?.key;
    const more = mine.length === page.instances.length && page.instances.length === pageSize && page.nextPageUrl;
    return { messages, ...(more && last ? { next: last } : {}) };
  }

  /**
   * Claims a broadcast's key: the first claim fixes its content and targets; a later one gets them
   * back (`existing`), so a retry never adds a leg that joined since.
   */
  async claimBroadcast(
    room: string,
    idempotencyKey: string,
    claim: BroadcastClaim,
  ): Promise<{ claim: BroadcastClaim; existing: boolean }> {
    const key = `${BROADCAST_PREFIX}${shortHash(idempotencyKey)}`;
    for (let attempt = 0; attempt < MAX_CONDITIONAL_ATTEMPTS; attempt++) {
      if (await this.create(room, key, claim)) return { claim, existing: false };
      const item = await this.fetchMapItem(conferenceMapName(room), key);
      const found = item && this.parsed(room, item, parseBroadcastClaim);
      if (found) return { claim: found, existing: true };
    }
    throw apiError('record-contended', `The broadcast ${idempotencyKey.slice(0, 40)} could not be claimed; retry.`);
  }

  /** Every participant the room's events recorded (unreadable records left out, and logged). */
  async participants(room: string): Promise<StoredParticipant[]> {
    const items: SyncItem[] = [];
    // Keys in order: the `p.` records come together, from `p.` on; a room has at most 250.
    let from = PARTICIPANT_PREFIX;
    let bounds: 'inclusive' | 'exclusive' = 'inclusive';
    for (;;) {
      let page;
      try {
        page = await this.retry(() => this.items(room).page({ pageSize: SYNC_PAGE_SIZE, from, bounds, order: 'asc' }));
      } catch (err) {
        if (isNotFound(err)) return [];
        throw err;
      }
      const mine = page.instances.filter((i) => i.key.startsWith(PARTICIPANT_PREFIX));
      items.push(...mine.map((i): SyncItem => ({ key: i.key, data: i.data, revision: i.revision })));
      const last = mine[mine.length - 1]?.key;
      if (mine.length < page.instances.length || !page.nextPageUrl || last === undefined) break;
      from = last;
      bounds = 'exclusive';
    }
    return items.flatMap((i) => this.parsed(room, i, parseParticipant) ?? []);
  }
}

function pick<T extends object, K extends keyof T>(o: T, ...keys: K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Partial<Pick<T, K>>;
}
