// The Sync sandbox's state: services and their objects, TTL expiry, per-object write rates and
// lookups by SID or unique name. The route modules (services, documents, collections, items) are
// views onto it.
import type { Request, Response } from 'express';
import { TwilioApiError, formBool, newSid } from '../../http';
import type { SandboxClock } from '../../clock';
import { expiryFrom, param, type Body } from './params';

/** The codes Twilio has been seen to give a 404 for a Map that does not exist (README: "What is not verified"). */
export type MissingMapCode = 20404 | 54200 | 54300;
export const MISSING_MAP_CODES: readonly MissingMapCode[] = [20404, 54200, 54300];

export interface SyncOptions {
  accountSid: string;
  clock: SandboxClock;
  /** writes/s allowed per object (Map/List/Document incl. their items) over a 10 s window; undefined = no limit */
  writeRateLimit?: () => number | undefined;
  /** Length of the window the rate is averaged over (Twilio: a 10 s burst window). */
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

export class SyncState {
  readonly services = new Map<string, Service>();
  /** The earliest expiry anything may have: sweeping before then finds nothing, so it is skipped. */
  private nextExpiry = Infinity;
  private readonly writes = new Map<string, number[]>();
  private readonly defaultServiceSid = newSid('IS');
  private seq = 0;

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

  /** Throws 429/54009 when one more write to `objectKey` would exceed the configured rate. */
  checkRate(res: Response, objectKey: string): void {
    const limit = this.opts.writeRateLimit?.();
    if (limit === undefined) return;
    const windowMs = (this.opts.writeRateWindowSeconds?.() ?? RATE_WINDOW_MS / 1000) * 1000;
    const now = this.now();
    const log = this.writes.get(objectKey) ?? [];
    let recent = 0;
    for (let i = log.length - 1; i >= 0; i--) {
      const at = log[i];
      if (at === undefined || at <= now - windowMs) break;
      recent++;
    }
    if (recent + 1 > limit * (windowMs / 1000)) {
      res.set('Retry-After', '1');
      throw new TwilioApiError(429, 54009, `Rate limit exceeded for Sync object ${objectKey}`);
    }
  }

  recordWrite(objectKey: string): void {
    let log = this.writes.get(objectKey);
    if (!log) this.writes.set(objectKey, (log = []));
    log.push(this.now());
    if (log.length > MAX_WRITE_LOG) log.splice(0, log.length - MAX_WRITE_LOG);
  }

  stats(): { writesByObject: Record<string, number[]> } {
    const writesByObject: Record<string, number[]> = {};
    for (const [k, v] of this.writes) writesByObject[k] = [...v];
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
