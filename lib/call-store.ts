// Call state and message history in Twilio Sync: one Map per Voice SDK call leg, named after the
// leg (`cme.call.<callsid in lower case>`: a unique name may not look like a SID), so no Sync
// object is written account-wide on every event and each call has Sync's 20 writes/s per object
// to itself. Items:
//   state                      the leg's state (created at in-progress, overwritten when it ends)
//   in.<KX…>                   a message from the SDK; its Sid is the key, so a redelivery is a no-op
//   out.<KX…>                  a message to the SDK (UserDefinedMessage)
//   <key>~<n>                  continuation parts of a message whose item would exceed 16 KB
import type { Config } from './config';
import { HttpError, twilioCode } from './errors';
import { withRetry } from './retry';
import type { TwilioClient } from './twilio-client';
import type { SdkLeg, FinalStatus } from './call-legs';

export type LegStatus = 'in-progress' | FinalStatus;

export interface LegState {
  callSid: string;
  parentCallSid: string;
  role: 'parent' | 'child';
  identity: string;
  peer: string;
  status: LegStatus;
  updatedAt: string;
  endedAt?: string;
  durationSeconds?: number;
}

export interface CallMessage {
  sid: string;
  callSid: string;
  direction: 'from-sdk' | 'to-sdk';
  /** SequenceNumber Twilio gave a message from the SDK. */
  sequence?: number;
  contentType: string;
  content: string;
  /** ISO 8601: Twilio's Timestamp for messages from the SDK, the send time for messages to it. */
  timestamp: string;
}

const SYNC = { MAP_NOT_FOUND: 54200, ITEM_NOT_FOUND: 54201, ITEM_EXISTS: 54208, NAME_EXISTS: 54301 } as const;

/** Serialized Sync item data may not exceed 16 KB; parts stay well under it, with room for metadata. */
const MAX_PART_BYTES = 12_000;

export const legMapName = (callSid: string) => `cme.call.${callSid.toLowerCase()}`;
export const inboundKey = (sid: string) => `in.${sid}`;
export const outboundKey = (sid: string) => `out.${sid}`;

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

  /** Creates the leg's Map if it does not exist yet (the Map's own TTL is a safety net for calls whose end is never reported). */
  async ensureLegMap(callSid: string): Promise<void> {
    try {
      await this.retry(() =>
        this.service().syncMaps.create({ uniqueName: legMapName(callSid), ttl: this.config.activeCallTtl }),
      );
    } catch (err) {
      if (twilioCode(err) !== SYNC.NAME_EXISTS) throw err;
    }
  }

  /** Creates an item, creating the leg's Map first when it is missing. Returns false when the key exists. */
  private async createItem(callSid: string, key: string, data: object, collectionTtl?: number): Promise<boolean> {
    const create = () =>
      this.retry(() => this.items(callSid).create({ key, data, ...(collectionTtl ? { collectionTtl } : {}) }));
    try {
      await create();
      return true;
    } catch (err) {
      if (twilioCode(err) === SYNC.ITEM_EXISTS) return false;
      if (twilioCode(err) !== SYNC.MAP_NOT_FOUND) throw err;
    }
    await this.ensureLegMap(callSid);
    try {
      await create();
      return true;
    } catch (err) {
      if (twilioCode(err) === SYNC.ITEM_EXISTS) return false;
      throw err;
    }
  }

  async readState(callSid: string): Promise<LegState | undefined> {
    try {
      const item = await this.retry(() => this.items(callSid)('state').fetch());
      return item.data as LegState;
    } catch (err) {
      const code = twilioCode(err);
      if (code === SYNC.ITEM_NOT_FOUND || code === SYNC.MAP_NOT_FOUND) return undefined;
      throw err;
    }
  }

  /**
   * Records that a leg is in progress, once. 'ended' means the leg had already finished (its final
   * status callback overtook this one): the caller must not subscribe, so no finished call comes back.
   */
  async markInProgress(leg: SdkLeg, at: Date): Promise<'started' | 'already-started' | 'ended'> {
    const state: LegState = { ...legFields(leg), status: 'in-progress', updatedAt: at.toISOString() };
    if (await this.createItem(leg.callSid, 'state', state)) return 'started';
    const existing = await this.readState(leg.callSid);
    return existing && existing.status !== 'in-progress' ? 'ended' : 'already-started';
  }

  /** Records a leg's end (final status wins over everything) and lets its Sync objects expire. */
  async markFinished(leg: SdkLeg, status: FinalStatus, at: Date, durationSeconds?: number): Promise<void> {
    const state: LegState = {
      ...legFields(leg),
      status,
      updatedAt: at.toISOString(),
      endedAt: at.toISOString(),
      ...(durationSeconds !== undefined ? { durationSeconds } : {}),
    };
    const collectionTtl = this.config.finishedCallTtl;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.retry(() => this.items(leg.callSid)('state').update({ data: state, collectionTtl }));
        return;
      } catch (err) {
        const code = twilioCode(err);
        if (code !== SYNC.ITEM_NOT_FOUND && code !== SYNC.MAP_NOT_FOUND) throw err;
      }
      // No state yet (the call never reached in-progress, or this callback overtook it).
      if (await this.createItem(leg.callSid, 'state', state, collectionTtl)) return;
    }
    throw new HttpError(503, 'record-failed', `Could not record the end of ${leg.callSid}; retry the callback.`);
  }

  /** Stores a message exactly once. Parts are written before the head item, whose key is the dedupe. */
  async saveMessage(message: CallMessage): Promise<'stored' | 'duplicate'> {
    const key = message.direction === 'from-sdk' ? inboundKey(message.sid) : outboundKey(message.sid);
    const [first, ...rest] = splitForSync(message.content);
    for (const [i, part] of rest.entries()) {
      // A part that exists already came from an earlier delivery of the same message: same content.
      await this.createItem(message.callSid, `${key}~${i + 1}`, { part });
    }
    const created = await this.createItem(message.callSid, key, { ...message, content: first, parts: rest.length + 1 });
    return created ? 'stored' : 'duplicate';
  }

  /** A leg's state and its messages in order: from the SDK by SequenceNumber, merged with those to it by time. */
  async readLeg(callSid: string): Promise<{ state?: LegState; messages: CallMessage[] } | undefined> {
    let items: { key: string; data: Record<string, unknown> }[];
    try {
      items = await this.retry(() => this.items(callSid).list({ pageSize: 100 }));
    } catch (err) {
      if (twilioCode(err) === SYNC.MAP_NOT_FOUND) return undefined;
      throw err;
    }
    const parts = new Map<string, string>();
    for (const item of items) if (item.key.includes('~')) parts.set(item.key, String(item.data.part ?? ''));
    const messages: CallMessage[] = [];
    let state: LegState | undefined;
    for (const item of items) {
      if (item.key === 'state') state = item.data as unknown as LegState;
      if (item.key.includes('~') || !/^(in|out)\./.test(item.key)) continue;
      const { parts: count, ...head } = item.data as unknown as CallMessage & { parts?: number };
      let content = head.content;
      for (let i = 1; i < (count ?? 1); i++) content += parts.get(`${item.key}~${i}`) ?? '';
      messages.push({ ...head, content });
    }
    return { state, messages: orderMessages(messages) };
  }
}

function legFields(leg: SdkLeg) {
  return {
    callSid: leg.callSid,
    parentCallSid: leg.parentCallSid,
    role: leg.role,
    identity: leg.identity,
    peer: leg.peer,
  };
}

/** Messages from the SDK keep SequenceNumber order; messages to it are merged in by timestamp. */
export function orderMessages(messages: CallMessage[]): CallMessage[] {
  const inbound = messages
    .filter((m) => m.direction === 'from-sdk')
    .sort((a, b) => (a.sequence ?? 0) - (b.sequence ?? 0));
  const outbound = messages
    .filter((m) => m.direction === 'to-sdk')
    .sort((a, b) => a.timestamp.localeCompare(b.timestamp));
  const ordered: CallMessage[] = [];
  let i = 0;
  let o = 0;
  while (i < inbound.length || o < outbound.length) {
    const takeInbound = o >= outbound.length || (i < inbound.length && inbound[i].timestamp <= outbound[o].timestamp);
    ordered.push(takeInbound ? inbound[i++] : outbound[o++]);
  }
  return ordered;
}
