// Access to one call leg's Sync Map (`cme.call.<callsid>`): the Map made on first use, items
// created if absent and read, a message stored and read in parts. CallStore (lib/store/call-store.ts)
// builds the leg's state, history and send claims on it.
import type { Config } from '../platform/config';
import { legMapName, MAX_HEAD_PART_BYTES, splitForSync, STATE_KEY } from './keys';
import { logUnreadable, parseLegState, parseMessageHead, parsePartText } from './records';
import type { StoredLegState, StoredMessage } from './records';
import { SyncAccess, type SyncItem } from './sync';
import type { TwilioClient } from '../platform/twilio-client';

export class LegMap extends SyncAccess {
  constructor(
    client: TwilioClient,
    protected override readonly config: Pick<Config, 'syncServiceSid' | 'finishedCallTtl' | 'activeCallTtl'>,
    deadline?: number,
  ) {
    super(client, config, deadline);
  }

  protected items(callSid: string) {
    return this.mapItems(legMapName(callSid));
  }

  /** Creates the leg's Map if it does not exist yet (its own TTL is a safety net for calls whose end is never reported). */
  async ensureLegMap(callSid: string): Promise<void> {
    await this.ensureMap(legMapName(callSid), this.config.activeCallTtl);
  }

  /** Creates an item, creating the leg's Map first when it is missing. Undefined when the key exists. */
  protected async createItem(
    callSid: string,
    key: string,
    data: object,
    collectionTtl?: number,
    beforeCreatingMap?: () => Promise<void>,
  ): Promise<{ revision: string } | undefined> {
    const createMap = async () => {
      await beforeCreatingMap?.();
      await this.ensureLegMap(callSid);
    };
    return this.createMapItem(legMapName(callSid), key, data, createMap, collectionTtl);
  }

  protected fetchItem(callSid: string, key: string): Promise<SyncItem | undefined> {
    return this.fetchMapItem(legMapName(callSid), key);
  }

  /** What `parse` reads from an item's data; undefined (and logged) when it does not parse. */
  protected parsed<T>(callSid: string, item: SyncItem, parse: (data: unknown) => T | undefined): T | undefined {
    const value = parse(item.data);
    if (value === undefined) logUnreadable(item.key, callSid);
    return value;
  }

  /** The leg's state; undefined when there is none yet, or it is unreadable. */
  async readState(callSid: string): Promise<StoredLegState | undefined> {
    const item = await this.fetchItem(callSid, STATE_KEY);
    return item && this.parsed(callSid, item, parseLegState);
  }

  /** Stores a message at `key` (continuation parts first, then its head): a redelivery is a no-op. */
  protected async saveAt(key: string, message: StoredMessage): Promise<'stored' | 'duplicate'> {
    const [first = '', ...rest] = splitForSync(message.content, undefined, MAX_HEAD_PART_BYTES);
    for (const [i, part] of rest.entries()) {
      // A part that exists already came from an earlier delivery of the same message: same content.
      await this.createItem(message.callSid, `${key}~${i + 1}`, { part });
    }
    const created = await this.createItem(message.callSid, key, { ...message, content: first, parts: rest.length + 1 });
    return created ? 'stored' : 'duplicate';
  }

  /** A whole stored message (its head, then its parts); undefined when there is none, or its head is unreadable. */
  protected async readMessage(callSid: string, key: string): Promise<StoredMessage | undefined> {
    const item = await this.fetchItem(callSid, key);
    const head = item && this.parsed(callSid, item, parseMessageHead);
    if (!head) return undefined;
    const { parts = 1, ...message } = head;
    let content = message.content;
    for (let i = 1; i < parts; i++) {
      const part = await this.fetchItem(callSid, `${key}~${i}`);
      content += parsePartText(part?.data);
    }
    return { ...message, content };
  }
}
