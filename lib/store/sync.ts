// One way to reach Twilio Sync: the client, the service, the invocation's deadline, the retry, and
// one set of predicates for what Sync's errors mean. The leg store (lib/store/leg-map.ts), the
// agent store (lib/auth/agents.ts) and the sign-in throttle (lib/auth/throttle.ts) build on it.
import type { Config } from '../platform/config';
import { isRetryable, isSyncRateLimited, isTwilioRestError } from '../platform/errors';
import { withRetry } from '../platform/retry';
import type { TwilioClient } from '../platform/twilio-client';

/**
 * A Map, Document or item that does not exist. Sync answers 404 with a code that varies with what
 * is missing and where (20404, 54100 Document, 54200 Map, 54201 item, 54300 unique name): any 404
 * means "not there".
 */
export const isNotFound = (err: unknown) => isTwilioRestError(err) && err.status === 404;
/** A Map item created with a key that exists (54208, HTTP 409). */
export const isAlreadyExists = (err: unknown) => isTwilioRestError(err) && (err.code === 54208 || err.status === 409);
/** A Map or Document created with a unique name in use (54301, HTTP 409): it exists. */
export const isNameTaken = (err: unknown) => isTwilioRestError(err) && (err.code === 54301 || err.status === 409);
/** A Map item's If-Match that no longer matches (54205; HTTP 412). */
export const isItemRevisionMismatch = (err: unknown) =>
  isTwilioRestError(err) && (err.code === 54205 || err.status === 412);
/** A Document's If-Match that no longer matches (54103; the HTTP status, 412, is not documented). */
export const isDocumentRevisionMismatch = (err: unknown) =>
  isTwilioRestError(err) && (err.code === 54103 || err.status === 412);

/** An item as read: its data is whatever Sync holds, to be parsed (lib/store/records.ts) before use. */
export interface SyncItem {
  key: string;
  data: unknown;
  revision: string;
}

/** A Document as read: its data to be parsed like an item's. */
export interface SyncDocument {
  data: unknown;
  revision: string;
}

/** How a store's requests are retried when not as withRetry's defaults (SyncAccess.retryTuning). */
export interface RetryTuning {
  /**
   * How long a request refused for Sync's per-object rate (429 / 54009) is retried, when shorter
   * than the deadline allows: a writer that can come back later gives way to one that cannot.
   */
  rateLimitPatienceMs?: number;
}

export class SyncAccess {
  constructor(
    protected readonly client: TwilioClient,
    protected readonly config: Pick<Config, 'syncServiceSid'>,
    /** No retry runs past this time (ms since epoch): the invocation's deadline. */
    protected readonly deadline?: number,
  ) {}

  protected retryTuning: RetryTuning = {};

  /** Runs one Sync request, retried on 429/5xx and network errors within the deadline. */
  protected retry<T>(op: () => Promise<T>): Promise<T> {
    const patience = this.retryTuning.rateLimitPatienceMs;
    if (patience === undefined) return withRetry(op, { deadline: this.deadline });
    const until = Date.now() + patience;
    return withRetry(op, {
      deadline: this.deadline,
      retryIf: (err) => isRetryable(err) && !(isSyncRateLimited(err) && Date.now() >= until),
    });
  }

  protected service() {
    return this.client.sync.v1.services(this.config.syncServiceSid);
  }

  protected mapItems(mapName: string) {
    return this.service().syncMaps(mapName).syncMapItems;
  }

  protected documents() {
    return this.service().documents;
  }

  /** Creates a Map unless it exists (a parallel request may have made it meanwhile: fine). */
  protected async ensureMap(uniqueName: string, ttl?: number): Promise<void> {
    try {
      await this.retry(() => this.service().syncMaps.create({ uniqueName, ...(ttl !== undefined ? { ttl } : {}) }));
    } catch (err) {
      if (!isNameTaken(err)) throw err;
    }
  }

  /**
   * Creates an item; when its Map is missing, runs `createMap` and tries once more. Undefined when
   * the key exists.
   */
  protected async createMapItem(
    mapName: string,
    key: string,
    data: object,
    createMap: () => Promise<void>,
    collectionTtl?: number,
  ): Promise<{ revision: string } | undefined> {
    const create = () =>
      this.retry(() => this.mapItems(mapName).create({ key, data, ...(collectionTtl ? { collectionTtl } : {}) }));
    for (let attempt = 0; ; attempt++) {
      try {
        const item = await create();
        return { revision: item.revision };
      } catch (err) {
        if (isAlreadyExists(err)) return undefined;
        if (!isNotFound(err) || attempt > 0) throw err;
      }
      await createMap();
    }
  }

  /** An item, or undefined when it (or its Map) does not exist. */
  protected async fetchMapItem(mapName: string, key: string): Promise<SyncItem | undefined> {
    try {
      const item = await this.retry(() => this.mapItems(mapName)(key).fetch());
      return { key: item.key, data: item.data, revision: item.revision };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** A Document, or undefined when it does not exist (never made, or expired). */
  protected async fetchDocument(uniqueName: string): Promise<SyncDocument | undefined> {
    try {
      const doc = await this.retry(() => this.documents()(uniqueName).fetch());
      return { data: doc.data, revision: doc.revision };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}
