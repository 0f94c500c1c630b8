// The Sync sandbox's state: services and their objects, TTL expiry, per-object write rates and
// lookups by SID or unique name. The route modules (services, documents, collections, items) are
// views onto it.
import type { Request, Response } from 'express';
import { TwilioApiError, formBool, newSid } from '../../http';
import type { SandboxClock } from '../../clock';
import { expiryFrom, param, type Body } from './params';

/** The codes Twilio has been seen to give a 404 for a Map that does not exist (docs/LIMITS.md: "What is not verified"). */
export type MissingMapCode = 20404 | 54200 | 54300;
export const MISSING_MAP_CODES: readonly MissingMapCode[] = [20404, 54200, 54300];

/**
 * Sync's write limits by payload size (its Limits page): up to 20 writes/s per object over a 10 s
 * burst window, an item write counting toward its Map or List; objects over 1 KiB "rate-limited more
 * aggressively" (how much is undocumented: `over1KiB`); payloads of 10 KiB and more 2 writes/s
 * sustained. Each write takes 1/rate of a second of its object's window, the rate being its size's
 * tier: writes of one size alone go at their tier's rate, mixed sizes share the object's window.
 */
export interface SyncWriteLimits {
  /** Writes/s per object of payloads up to 1 KiB (Twilio: 20); null = those writes are not limited. */
  perSecond: number | null;
  /**
   * Payloads over 1 KiB and under 10 KiB (undocumented): writes/s, `by-size` (perSecond scaled down by
   * the size in KiB: 20/s at 1 KiB to 2/s at 10 KiB), or null = as small writes.
   */
  over1KiB: number | 'by-size' | null;
  /** Writes/s of payloads of 10 KiB and more (Twilio: 2); null = as the tier below. */
  from10KiB: number | null;
  /** The burst window, in seconds (Twilio: 10). */
  windowSeconds: number;
}

export const TWILIO_WRITE_LIMITS: Readonly<SyncWriteLimits> = {
  perSecond: 20,
  over1KiB: 10,
  from10KiB: 2,
  windowSeconds: 10,
};

const KIB = 1024;

/** The seconds of its object's window a write of `bytes` takes under `limits` (0: not limited). */
export function writeCost(limits: SyncWriteLimits, bytes: number): number {
  const small = limits.perSecond === null ? 0 : 1 / limits.perSecond;
  if (bytes <= KIB) return small;
  const { over1KiB } = limits;
  const middle =
    over1KiB === null
      ? small
      : over1KiB === 'by-size'
        ? limits.perSecond === null
          ? 0
          : bytes / KIB / limits.perSecond
        : 1 / over1KiB;
  if (bytes < 10 * KIB) return middle;
  return limits.from10KiB === null ? middle : 1 / limits.from10KiB;
}

export interface SyncOptions {
  accountSid: string;
  clock: SandboxClock;
  /** Sync's write limits by payload size; undefined or null = none (the unit tests' in-process Sync). */
  writeLimits?: () => SyncWriteLimits | null | undefined;
  /** An extra flat limit, writes/s per object whatever their size (a fault); undefined = none. */
  writeRateLimit?: () => number | undefined;
  /** Length of the window that flat rate is averaged over (default 10 s). */
  writeRateWindowSeconds?: () => number | undefined;
  /** The code of the 404 for a missing Map, also for its items: 20404 (the default), 54200 or 54300. */
  missingMapCode?: () => MissingMapCode | undefined;
}

const RATE_WINDOW_MS = 10_000;
/** Per-object cap on remembered write timestamps (stats()), so a long sandbox run stays bounded. */
const MAX_WRITE_LOG = 10_000;

export interface Item<K extends string | number> {
  id: K;
  data: Record<string, unknown>;
  revision: number;
  created: number;
  updated: number;
  expires: number | null;
}

export interface SyncObject {
  sid: string;
  uniqueName: string | null;
  revision: number;
  created: number;
  updated: number;
  expires: number | null;
  seq: number;
}

export interface Doc extends SyncObject {
  data: Record<string, unknown>;
}

export interface Collection<K extends string | number> extends SyncObject {
  items: Map<K, Item<K>>;
  nextIndex: number;
}

export interface Service {
  sid: string;
  uniqueName: string | null;
  friendlyName: string | null;
  webhookUrl: string | null;
  webhooksFromRestEnabled: boolean;
  reachabilityWebhooksEnabled: boolean;
  aclEnabled: boolean;
  reachabilityDebouncingEnabled: boolean;
  reachabilityDebouncingWindow: number;
  created: number;
  updated: number;
  seq: number;
  documents: Map<string, Doc>;
  maps: Map<string, Collection<string>>;
  lists: Map<string, Collection<number>>;
}

/** What differs between Maps and Lists (and their items). */
export interface CollectionKind {
  label: 'Map' | 'List';
  path: 'Maps' | 'Lists';
  prefix: 'MP' | 'ES';
  sidField: 'map_sid' | 'list_sid';
  notFound: number;
  itemNotFound: number;
  itemRevisionMismatch: number;
  itemInvalidData: number;
}

export const MAP_KIND: CollectionKind = {
  label: 'Map',
  path: 'Maps',
  prefix: 'MP',
  sidField: 'map_sid',
  notFound: 54200,
  itemNotFound: 54201,
  itemRevisionMismatch: 54205,
  itemInvalidData: 54206,
};

export const LIST_KIND: CollectionKind = {
  label: 'List',
  path: 'Lists',
  prefix: 'ES',
  sidField: 'list_sid',
  notFound: 54150,
  itemNotFound: 54151,
  itemRevisionMismatch: 54155,
  itemInvalidData: 54156,
};

/** The size of a write's payload: its Data as sent (UTF-8 bytes); none for a delete or a TTL change. */
export const payloadBytes = (rawData: string | undefined) => (rawData === undefined ? 0 : Buffer.byteLength(rawData));

/** The key writes to an object are counted under. */
export const rateKey = (o: SyncObject) => o.uniqueName ?? o.sid;

export function findIn<T extends SyncObject>(objs: Map<string, T>, id: string): T | undefined {
  return objs.get(id) ?? [...objs.values()].find((o) => o.uniqueName === id);
}

export function assertUniqueName<T extends SyncObject>(objs: Map<string, T>, name: string | null): void {
  if (name !== null && findIn(objs, name)) {
    throw new TwilioApiError(409, 54301, `Unique name already exists: ${name}`);
  }
}

export function applyServiceParams(svc: Service, body: Body): void {
  const friendlyName = param(body, 'FriendlyName');
  if (friendlyName !== undefined) svc.friendlyName = friendlyName;
  const webhookUrl = param(body, 'WebhookUrl');
  if (webhookUrl !== undefined) {
    if (webhookUrl !== '' && !/^https?:\/\/\S+$/i.test(webhookUrl)) {
      throw new TwilioApiError(400, 20001, `Invalid WebhookUrl: ${webhookUrl}`);
    }
    svc.webhookUrl = webhookUrl === '' ? null : webhookUrl;
  }
  const flags: [string, keyof Service][] = [
    ['WebhooksFromRestEnabled', 'webhooksFromRestEnabled'],
    ['ReachabilityWebhooksEnabled', 'reachabilityWebhooksEnabled'],
    ['AclEnabled', 'aclEnabled'],
    ['ReachabilityDebouncingEnabled', 'reachabilityDebouncingEnabled'],
  ];
  for (const [name, field] of flags) {
    const v = formBool(body[name]);
    if (v !== undefined) (svc as unknown as Record<string, unknown>)[field] = v;
  }
  const window = param(body, 'ReachabilityDebouncingWindow');
  if (window !== undefined && window !== '') {
    const n = Number(window);
    if (!Number.isInteger(n) || n < 1000 || n > 30000) {
      throw new TwilioApiError(400, 20001, `Invalid ReachabilityDebouncingWindow: ${window} (1000-30000 ms)`);
    }
    svc.reachabilityDebouncingWindow = n;
  }
}

const expired = (expires: number | null, now: number) => expires !== null && expires <= now;

/**
 * An item written through the REST API: what the sandbox's Sync client channel (sandbox/twilsock.ts)
 * turns into an event for the subscribers of its Map or List. `eventId` is the parent's revision
 * after the write: it grows with every write to the object (Sync's per-object event order).
 */
export interface ItemChange {
  svc: Service;
  kind: CollectionKind;
  collection: Collection<string | number>;
  item: Item<string | number>;
  type: 'added' | 'updated' | 'removed';
  eventId: number;
}

export class SyncState {
  readonly services = new Map<string, Service>();
  /** The earliest expiry anything may have: sweeping before then finds nothing, so it is skipped. */
  private nextExpiry = Infinity;
  private readonly writes = new Map<string, { at: number; cost: number }[]>();
  private readonly defaultServiceSid = newSid('IS');
  private seq = 0;
  /** Who hears of item writes (the sandbox's Sync client channel). */
  readonly itemListeners = new Set<(change: ItemChange) => void>();

  constructor(private readonly opts: SyncOptions) {
    this.reset();
  }

  get accountSid(): string {
    return this.opts.accountSid;
  }

  now(): number {
    return this.opts.clock.now();
  }

  /** Creation order across every object (what lists are sorted by). */
  nextSeq(): number {
    return this.seq++;
  }

  /** A new, empty Map or List (not yet added to its service): the REST route's and the Sync client channel's. */
  newCollection<K extends string | number>(prefix: CollectionKind['prefix'], uniqueName: string | null, ttl?: number) {
    const now = this.now();
    const c: Collection<K> = {
      sid: newSid(prefix),
      uniqueName,
      revision: 0,
      created: now,
      updated: now,
      expires: ttl === undefined ? null : this.trackExpiry(ttl, now),
      seq: this.nextSeq(),
      items: new Map(),
      nextIndex: 0,
    };
    return c;
  }

  /** The expiry for a TTL given now, remembered so the sweep knows when it is next due. */
  trackExpiry(ttl: number, now: number): number | null {
    const at = expiryFrom(ttl, now);
    if (at !== null) this.nextExpiry = Math.min(this.nextExpiry, at);
    return at;
  }

  makeService(sid: string, uniqueName: string | null, body: Body): Service {
    const now = this.now();
    const svc: Service = {
      sid,
      uniqueName,
      friendlyName: null,
      webhookUrl: null,
      webhooksFromRestEnabled: false,
      reachabilityWebhooksEnabled: false,
      aclEnabled: false,
      reachabilityDebouncingEnabled: false,
      reachabilityDebouncingWindow: 5000,
      created: now,
      updated: now,
      seq: this.nextSeq(),
      documents: new Map(),
      maps: new Map(),
      lists: new Map(),
    };
    applyServiceParams(svc, body);
    return svc;
  }

  reset(): void {
    this.services.clear();
    this.writes.clear();
    const svc = this.makeService(this.defaultServiceSid, 'default', { FriendlyName: 'Default Service' });
    this.services.set(svc.sid, svc);
  }

  // --- write-rate accounting ---------------------------------------------------------------

  /**
   * Throws 429/54009 (with Retry-After: when the write would fit) if one more write of `bytes` to
   * `objectKey` would exceed its limit by size, or the flat write-rate fault. Returns the write's cost,
   * for recordWrite.
   */
  checkRate(res: Response, objectKey: string, bytes = 0): number {
    const now = this.now();
    const log = this.writes.get(objectKey) ?? [];
    const limits = this.opts.writeLimits?.() ?? undefined;
    const cost = limits ? writeCost(limits, bytes) : 0;
    let waitMs = 0;
    if (limits && cost > 0) {
      const windowMs = limits.windowSeconds * 1000;
      const recent = log.filter((w) => w.at > now - windowMs);
      let used = recent.reduce((sum, w) => sum + w.cost, 0);
      // Room comes back as the oldest writes leave the window.
      for (const w of recent) {
        if (used + cost <= limits.windowSeconds + 1e-9) break;
        used -= w.cost;
        waitMs = w.at + windowMs - now;
      }
      if (used + cost > limits.windowSeconds + 1e-9) waitMs = windowMs;
    }
    // The flat fault answers as it always has: Retry-After 1.
    const flat = this.opts.writeRateLimit?.();
    let flatExceeded = false;
    if (flat !== undefined) {
      const windowMs = (this.opts.writeRateWindowSeconds?.() ?? RATE_WINDOW_MS / 1000) * 1000;
      flatExceeded = log.filter((w) => w.at > now - windowMs).length + 1 > flat * (windowMs / 1000);
    }
    if (waitMs > 0 || flatExceeded) {
      res.set('Retry-After', String(Math.max(1, Math.ceil(waitMs / 1000))));
      throw new TwilioApiError(429, 54009, `Rate limit exceeded for Sync object ${objectKey}`);
    }
    return cost;
  }

  /** Tells the listeners an item was written (after the write, so they read its new state). */
  itemChanged(change: ItemChange): void {
    for (const listener of this.itemListeners) listener(change);
  }

  recordWrite(objectKey: string, cost = 0): void {
    let log = this.writes.get(objectKey);
    if (!log) this.writes.set(objectKey, (log = []));
    log.push({ at: this.now(), cost });
    if (log.length > MAX_WRITE_LOG) log.splice(0, log.length - MAX_WRITE_LOG);
  }

  stats(): { writesByObject: Record<string, number[]> } {
    const writesByObject: Record<string, number[]> = {};
    for (const [k, v] of this.writes) writesByObject[k] = v.map((w) => w.at);
    return { writesByObject };
  }

  // --- lookups & expiry ----------------------------------------------------------------------

  /** Removes what has expired, in every service; a no-op (O(1)) until the earliest expiry is due. */
  purge(): void {
    const now = this.now();
    if (now < this.nextExpiry) return;
    this.nextExpiry = Infinity;
    const keep = (expires: number | null) => {
      if (expires !== null) this.nextExpiry = Math.min(this.nextExpiry, expires);
    };
    const sweep = <K extends string | number>(colls: Map<string, Collection<K>>) => {
      for (const [sid, c] of colls) {
        if (expired(c.expires, now)) {
          colls.delete(sid);
          continue;
        }
        keep(c.expires);
        for (const [id, it] of c.items) {
          if (expired(it.expires, now)) c.items.delete(id);
          else keep(it.expires);
        }
      }
    };
    for (const svc of this.services.values()) {
      for (const [sid, d] of svc.documents) {
        if (expired(d.expires, now)) svc.documents.delete(sid);
        else keep(d.expires);
      }
      sweep(svc.maps);
      sweep(svc.lists);
    }
  }

  findService(id: string): Service | undefined {
    return this.services.get(id) ?? [...this.services.values()].find((s) => s.uniqueName === id);
  }

  serviceOf(req: Request, name = 'ServiceSid'): Service {
    const id = String(req.params[name]);
    const svc = this.findService(id);
    if (!svc) throw new TwilioApiError(404, 54050, `Service ${id} not found`);
    this.purge();
    return svc;
  }

  collectionsOf(svc: Service, kind: CollectionKind): Map<string, Collection<string | number>> {
    return kind === MAP_KIND ? svc.maps : svc.lists;
  }

  /** A Map or List by SID or unique name, else a 404 (for a Map: with the `missingMapCode` code). */
  collectionOf(svc: Service, kind: CollectionKind, id: string): Collection<string | number> {
    const c = findIn(this.collectionsOf(svc, kind), id);
    if (c) return c;
    if (kind !== MAP_KIND) throw new TwilioApiError(404, kind.notFound, `${kind.label} ${id} not found`);
    const code = this.opts.missingMapCode?.() ?? 20404;
    if (code === 20404)
      throw new TwilioApiError(404, 20404, `The requested resource /Services/${svc.sid}/Maps/${id} was not found`);
    if (code === 54300) throw new TwilioApiError(404, 54300, `Unique name not found: ${id}`);
    throw new TwilioApiError(404, 54200, `Map ${id} not found`);
  }
}
