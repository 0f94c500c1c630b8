// Access to one call leg's Sync Map (`cme.call.<callsid>`): the Map made on first use, items
// created if absent and read, a message stored and read in parts. CallStore (lib/store/call-store.ts)
// builds the leg's state, history and send claims on it.
import type { CallMessage, LegState } from '../shared/api-types';
import { isAlreadyExists, isNameTaken, isNotFound, legMapName, splitForSync, STATE_KEY } from './keys';
import type { Config } from '../platform/config';
import { partText } from './history-range';
import { withRetry } from '../platform/retry';
import type { TwilioClient } from '../platform/twilio-client';

export interface Item {
  key: string;
  data: unknown;
  revision: string;
}

export class LegMap {
  constructor(
    protected readonly client: TwilioClient,
    protected readonly config: Pick<Config, 'syncServiceSid' | 'finishedCallTtl' | 'activeCallTtl'>,
    /** No retry runs past this time (ms since epoch): the invocation's deadline. */
    protected readonly deadline?: number,
  ) {}

  protected retry<T>(op: () => Promise<T>): Promise<T> {
    return withRetry(op, { deadline: this.deadline });
  }

  protected service() {
    return this.client.sync.v1.services(this.config.syncServiceSid);
  }

  protected items(callSid: string) {
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
  protected async createItem(
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

  protected async fetchItem(callSid: string, key: string): Promise<Item | undefined> {
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

  /** Stores a message at `key` (continuation parts first, then its head): a redelivery is a no-op. */
  protected async saveAt(key: string, message: CallMessage): Promise<'stored' | 'duplicate'> {
    const [first = '', ...rest] = splitForSync(message.content);
    for (const [i, part] of rest.entries()) {
      // A part that exists already came from an earlier delivery of the same message: same content.
      await this.createItem(message.callSid, `${key}~${i + 1}`, { part });
    }
    const created = await this.createItem(message.callSid, key, { ...message, content: first, parts: rest.length + 1 });
    return created ? 'stored' : 'duplicate';
  }

  /** A whole stored message (its head, then its parts), or undefined. */
  protected async readMessage(callSid: string, key: string): Promise<CallMessage | undefined> {
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
}
