// In-memory Twilio Sync v1 REST (Services, Documents, Maps + Items, Lists + Items).
// Mounted by the caller at /sync/v1 after urlencoded body parsing and Basic auth; the caller
// adds twilioErrorHandler after it. Contract: /work/shared/TWILIO-FACTS.md §4 and the OAI spec
// twilio_sync_v1.json (field names, params, response shapes).
import express, { type Request, type Response } from 'express';
import { TwilioApiError, formBool, iso8601, newSid } from '../http';
import type { SandboxClock } from '../clock';

export interface SyncOptions {
  accountSid: string;
  clock: SandboxClock;
  /** writes/s allowed per object (Map/List/Document incl. their items) over a 10 s window; undefined = no limit */
  writeRateLimit?: () => number | undefined;
  /** Length of the window the rate is averaged over (Twilio: a 10 s burst window). */
  writeRateWindowSeconds?: () => number | undefined;
}

const PUBLIC_BASE = 'https://sync.twilio.com/v1';
const MAX_TTL = 31_536_000;
const MAX_DATA_BYTES = 16_384;
const MAX_UNIQUE_NAME = 256;
const MAX_KEY = 320;
const RATE_WINDOW_MS = 10_000;
/** Per-object cap on remembered write timestamps (stats()), so a long sandbox run stays bounded. */
const MAX_WRITE_LOG = 10_000;
const SID_PATTERN = /^[A-Z]{2}[a-f0-9]{32}$/;

interface Item<K extends string | number> {
  id: K;
  data: Record<string, unknown>;
  revision: number;
  created: number;
  updated: number;
  expires: number | null;
}

interface SyncObject {
  sid: string;
  uniqueName: string | null;
  revision: number;
  created: number;
  updated: number;
  expires: number | null;
  seq: number;
}

interface Doc extends SyncObject {
  data: Record<string, unknown>;
}

interface Collection<K extends string | number> extends SyncObject {
  items: Map<K, Item<K>>;
  nextIndex: number;
}

interface Service {
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
interface CollectionKind {
  label: 'Map' | 'List';
  path: 'Maps' | 'Lists';
  prefix: 'MP' | 'ES';
  sidField: 'map_sid' | 'list_sid';
  notFound: number;
  itemNotFound: number;
  itemRevisionMismatch: number;
  itemInvalidData: number;
}

const MAP_KIND: CollectionKind = {
  label: 'Map',
  path: 'Maps',
  prefix: 'MP',
  sidField: 'map_sid',
  notFound: 54200,
  itemNotFound: 54201,
  itemRevisionMismatch: 54205,
  itemInvalidData: 54206,
};

const LIST_KIND: CollectionKind = {
  label: 'List',
  path: 'Lists',
  prefix: 'ES',
  sidField: 'list_sid',
  notFound: 54150,
  itemNotFound: 54151,
  itemRevisionMismatch: 54155,
  itemInvalidData: 54156,
};

// ---------------------------------------------------------------------------------------------
// Parameter parsing

type Body = Record<string, unknown>;

function bodyOf(req: Request): Body {
  return (req.body ?? {}) as Body;
}

/** A form/query value as a string (first one if repeated); undefined when absent. */
function param(source: Body, name: string): string | undefined {
  const v = source[name];
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.length ? String(v[0]) : undefined;
  return String(v);
}

function required(source: Body, name: string): string {
  const v = param(source, name);
  if (v === undefined || v === '') {
    throw new TwilioApiError(400, 20001, `Missing required parameter ${name} in the post body`);
  }
  return v;
}

/** Empty/absent → undefined; otherwise an integer 0..31536000 or 54011. */
function parseTtl(source: Body, name: string): number | undefined {
  const v = param(source, name);
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v.trim()) || Number(v) > MAX_TTL) {
    throw new TwilioApiError(400, 54011, `Invalid TTL: ${name} must be an integer between 0 and ${MAX_TTL}`);
  }
  return Number(v);
}

/** The first TTL given among `names` (the preferred name first: CollectionTtl/ItemTtl win over Ttl). */
function ttlOf(source: Body, ...names: string[]): number | undefined {
  // Validate every one that was sent, even the ignored alias.
  const values = names.map((n) => parseTtl(source, n));
  return values.find((v) => v !== undefined);
}

function parseData(raw: string, invalidCode: number, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new TwilioApiError(400, 54008, 'Invalid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new TwilioApiError(400, invalidCode, `Invalid ${what} data: must be a JSON object`);
  }
  const size = Buffer.byteLength(JSON.stringify(parsed), 'utf8');
  if (size > MAX_DATA_BYTES) {
    throw new TwilioApiError(400, 54006, `Entity too large: ${what} data is ${size} bytes, limit ${MAX_DATA_BYTES}`);
  }
  return parsed as Record<string, unknown>;
}

function parseUniqueName(source: Body): string | null {
  const v = param(source, 'UniqueName');
  if (v === undefined) return null;
  if (v.length < 1 || v.length > MAX_UNIQUE_NAME || SID_PATTERN.test(v)) {
    throw new TwilioApiError(
      400,
      54302,
      `Invalid unique name: length must be 1-${MAX_UNIQUE_NAME} and must not match the SID pattern`,
    );
  }
  return v;
}

/** If-Match value (quotes and a weak prefix tolerated); undefined when absent. */
function ifMatchOf(req: Request): string | undefined {
  const v = req.get('If-Match');
  if (v === undefined || v.trim() === '') return undefined;
  return v
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
}

function checkRevision(req: Request, revision: number, code: number, what: string): void {
  const expected = ifMatchOf(req);
  if (expected === undefined || expected === '*') return;
  if (expected !== String(revision)) {
    throw new TwilioApiError(
      412,
      code,
      `The revision of the ${what} does not match the expected revision (If-Match ${expected}, current ${revision})`,
    );
  }
}

function expiryFrom(ttl: number, now: number): number | null {
  return ttl === 0 ? null : now + ttl * 1000;
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : iso8601(ms);
}

// ---------------------------------------------------------------------------------------------
// Paging

type Cursor = string | number;

interface PageRequest {
  pageSize: number;
  page: number;
  token?: { after: boolean; cursor: Cursor };
}

function parsePaging(query: Body): PageRequest {
  const rawSize = param(query, 'PageSize');
  const pageSize = rawSize === undefined || rawSize === '' ? 50 : Number(rawSize);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) {
    throw new TwilioApiError(400, 20001, `Invalid PageSize: ${rawSize} (must be 1-100)`);
  }
  const rawPage = param(query, 'Page');
  const page = rawPage === undefined || rawPage === '' ? 0 : Number(rawPage);
  if (!Number.isInteger(page) || page < 0) throw new TwilioApiError(400, 20001, `Invalid Page: ${rawPage}`);
  const rawToken = param(query, 'PageToken');
  let token: PageRequest['token'];
  if (rawToken !== undefined && rawToken !== '') {
    const m = /^P([AB])(.+)$/.exec(rawToken);
    let cursor: unknown;
    try {
      cursor = m ? JSON.parse(Buffer.from(m[2], 'base64url').toString('utf8')) : undefined;
    } catch {
      cursor = undefined;
    }
    if (!m || (typeof cursor !== 'string' && typeof cursor !== 'number')) {
      throw new TwilioApiError(400, 20001, `Invalid PageToken: ${rawToken}`);
    }
    token = { after: m[1] === 'A', cursor };
  }
  return { pageSize, page, token };
}

function encodeToken(after: boolean, cursor: Cursor): string {
  return `P${after ? 'A' : 'B'}${Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url')}`;
}

/**
 * One page of `all` (already filtered and ordered; `cmp` orders cursors the same way).
 * Tokens are cursors ("after X" / "before X"), so paging stays stable while items change.
 */
function paginate<T>(
  all: T[],
  cursorOf: (t: T) => Cursor,
  cmp: (a: Cursor, b: Cursor) => number,
  req: PageRequest,
  baseUrl: string,
  extraQuery: [string, string][],
  key: string,
): Record<string, unknown> {
  const { pageSize, page, token } = req;
  let start: number;
  if (!token) {
    start = page * pageSize;
  } else if (token.after) {
    start = all.findIndex((t) => cmp(cursorOf(t), token.cursor) > 0);
    if (start < 0) start = all.length;
  } else {
    let end = all.findIndex((t) => cmp(cursorOf(t), token.cursor) >= 0);
    if (end < 0) end = all.length;
    start = Math.max(0, end - pageSize);
  }
  const slice = all.slice(start, start + pageSize);
  const url = (p: number, tok?: string) => {
    const q = new URLSearchParams(extraQuery);
    q.set('PageSize', String(pageSize));
    q.set('Page', String(p));
    if (tok) q.set('PageToken', tok);
    return `${baseUrl}?${q.toString()}`;
  };
  const hasNext = start + slice.length < all.length && slice.length > 0;
  const hasPrev = start > 0;
  const currentToken = token ? encodeToken(token.after, token.cursor) : undefined;
  return {
    [key]: slice,
    meta: {
      first_page_url: url(0),
      key,
      next_page_url: hasNext ? url(page + 1, encodeToken(true, cursorOf(slice[slice.length - 1]))) : null,
      page,
      page_size: pageSize,
      previous_page_url: hasPrev
        ? url(Math.max(0, page - 1), slice.length ? encodeToken(false, cursorOf(slice[0])) : undefined)
        : null,
      url: url(page, currentToken),
    },
  };
}

const ascending = (a: Cursor, b: Cursor): number => (a < b ? -1 : a > b ? 1 : 0);

function parseOrder(query: Body): { order?: 'asc' | 'desc'; bounds?: 'inclusive' | 'exclusive'; from?: string } {
  const order = param(query, 'Order');
  if (order !== undefined && order !== 'asc' && order !== 'desc') {
    throw new TwilioApiError(400, 20001, `Invalid Order: ${order} (must be asc or desc)`);
  }
  const bounds = param(query, 'Bounds');
  if (bounds !== undefined && bounds !== 'inclusive' && bounds !== 'exclusive') {
    throw new TwilioApiError(400, 20001, `Invalid Bounds: ${bounds} (must be inclusive or exclusive)`);
  }
  return { order, bounds, from: param(query, 'From') };
}

// ---------------------------------------------------------------------------------------------
// Router

export function createSyncRouter(opts: SyncOptions): {
  router: express.Router;
  reset(): void;
  stats(): { writesByObject: Record<string, number[]> };
} {
  const { accountSid, clock } = opts;
  const services = new Map<string, Service>();
  /** The earliest expiry anything may have: sweeping before then finds nothing, so it is skipped. */
  let nextExpiry = Infinity;
  const trackExpiry = (ttl: number, now: number) => {
    const at = expiryFrom(ttl, now);
    if (at !== null) nextExpiry = Math.min(nextExpiry, at);
    return at;
  };
  const writes = new Map<string, number[]>();
  const defaultServiceSid = newSid('IS');
  let seq = 0;

  function makeService(sid: string, uniqueName: string | null, body: Body): Service {
    const now = clock.now();
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
      seq: seq++,
      documents: new Map(),
      maps: new Map(),
      lists: new Map(),
    };
    applyServiceParams(svc, body);
    return svc;
  }

  function reset(): void {
    services.clear();
    writes.clear();
    const svc = makeService(defaultServiceSid, 'default', { FriendlyName: 'Default Service' });
    services.set(svc.sid, svc);
  }
  reset();

  // --- write-rate accounting ---------------------------------------------------------------

  /** Throws 429/54009 when one more write to `objectKey` would exceed the configured rate. */
  function checkRate(res: Response, objectKey: string): void {
    const limit = opts.writeRateLimit?.();
    if (limit === undefined) return;
    const windowMs = (opts.writeRateWindowSeconds?.() ?? RATE_WINDOW_MS / 1000) * 1000;
    const now = clock.now();
    const log = writes.get(objectKey) ?? [];
    let recent = 0;
    for (let i = log.length - 1; i >= 0 && log[i] > now - windowMs; i--) recent++;
    if (recent + 1 > limit * (windowMs / 1000)) {
      res.set('Retry-After', '1');
      throw new TwilioApiError(429, 54009, `Rate limit exceeded for Sync object ${objectKey}`);
    }
  }

  function recordWrite(objectKey: string): void {
    let log = writes.get(objectKey);
    if (!log) writes.set(objectKey, (log = []));
    log.push(clock.now());
    if (log.length > MAX_WRITE_LOG) log.splice(0, log.length - MAX_WRITE_LOG);
  }

  const rateKey = (o: SyncObject) => o.uniqueName ?? o.sid;

  // --- lookups & expiry ----------------------------------------------------------------------

  const expired = (expires: number | null, now: number) => expires !== null && expires <= now;

  /** Removes what has expired, in every service; a no-op (O(1)) until the earliest expiry is due. */
  function purge(): void {
    const now = clock.now();
    if (now < nextExpiry) return;
    nextExpiry = Infinity;
    const keep = (expires: number | null) => {
      if (expires !== null) nextExpiry = Math.min(nextExpiry, expires);
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
    for (const svc of services.values()) {
      for (const [sid, d] of svc.documents) {
        if (expired(d.expires, now)) svc.documents.delete(sid);
        else keep(d.expires);
      }
      sweep(svc.maps);
      sweep(svc.lists);
    }
  }

  function findService(id: string): Service | undefined {
    return services.get(id) ?? [...services.values()].find((s) => s.uniqueName === id);
  }

  function serviceOf(req: Request, name = 'ServiceSid'): Service {
    const id = String(req.params[name]);
    const svc = findService(id);
    if (!svc) throw new TwilioApiError(404, 54050, `Service ${id} not found`);
    purge();
    return svc;
  }

  function findIn<T extends SyncObject>(objs: Map<string, T>, id: string): T | undefined {
    return objs.get(id) ?? [...objs.values()].find((o) => o.uniqueName === id);
  }

  function assertUniqueName<T extends SyncObject>(objs: Map<string, T>, name: string | null): void {
    if (name !== null && findIn(objs, name)) {
      throw new TwilioApiError(409, 54301, `Unique name already exists: ${name}`);
    }
  }

  // --- serializers (field order as in the OAI schemas) ----------------------------------------

  const serviceUrl = (svc: Service) => `${PUBLIC_BASE}/Services/${svc.sid}`;

  function serviceJson(svc: Service) {
    const url = serviceUrl(svc);
    return {
      sid: svc.sid,
      unique_name: svc.uniqueName,
      account_sid: accountSid,
      friendly_name: svc.friendlyName,
      date_created: iso8601(svc.created),
      date_updated: iso8601(svc.updated),
      url,
      webhook_url: svc.webhookUrl,
      webhooks_from_rest_enabled: svc.webhooksFromRestEnabled,
      reachability_webhooks_enabled: svc.reachabilityWebhooksEnabled,
      acl_enabled: svc.aclEnabled,
      reachability_debouncing_enabled: svc.reachabilityDebouncingEnabled,
      reachability_debouncing_window: svc.reachabilityDebouncingWindow,
      links: {
        documents: `${url}/Documents`,
        lists: `${url}/Lists`,
        maps: `${url}/Maps`,
        streams: `${url}/Streams`,
      },
    };
  }

  function documentJson(svc: Service, d: Doc) {
    const url = `${serviceUrl(svc)}/Documents/${d.sid}`;
    return {
      sid: d.sid,
      unique_name: d.uniqueName,
      account_sid: accountSid,
      service_sid: svc.sid,
      url,
      links: { permissions: `${url}/Permissions` },
      revision: String(d.revision),
      data: d.data,
      date_expires: isoOrNull(d.expires),
      date_created: iso8601(d.created),
      date_updated: iso8601(d.updated),
      created_by: 'system',
    };
  }

  function collectionUrl(svc: Service, kind: CollectionKind, c: SyncObject) {
    return `${serviceUrl(svc)}/${kind.path}/${c.sid}`;
  }

  function collectionJson(svc: Service, kind: CollectionKind, c: SyncObject) {
    const url = collectionUrl(svc, kind, c);
    return {
      sid: c.sid,
      unique_name: c.uniqueName,
      account_sid: accountSid,
      service_sid: svc.sid,
      url,
      links: { items: `${url}/Items`, permissions: `${url}/Permissions` },
      revision: String(c.revision),
      date_expires: isoOrNull(c.expires),
      date_created: iso8601(c.created),
      date_updated: iso8601(c.updated),
      created_by: 'system',
    };
  }

  function itemJson<K extends string | number>(svc: Service, kind: CollectionKind, c: Collection<K>, it: Item<K>) {
    const idField = kind === MAP_KIND ? 'key' : 'index';
    return {
      [idField]: it.id,
      account_sid: accountSid,
      service_sid: svc.sid,
      [kind.sidField]: c.sid,
      url: `${collectionUrl(svc, kind, c)}/Items/${encodeURIComponent(String(it.id))}`,
      revision: String(it.revision),
      data: it.data,
      date_expires: isoOrNull(it.expires),
      date_created: iso8601(it.created),
      date_updated: iso8601(it.updated),
      created_by: 'system',
    };
  }

  // --- services ------------------------------------------------------------------------------

  function applyServiceParams(svc: Service, body: Body): void {
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

  const router = express.Router();

  router.get('/Services', (req, res) => {
    const all = [...services.values()].sort((a, b) => a.seq - b.seq);
    const paging = parsePaging(req.query as Body);
    const page = paginate(all, (s) => s.seq, ascending, paging, `${PUBLIC_BASE}/Services`, [], 'services');
    page.services = (page.services as Service[]).map(serviceJson);
    res.json(page);
  });

  router.post('/Services', (req, res) => {
    const svc = makeService(newSid('IS'), null, bodyOf(req));
    services.set(svc.sid, svc);
    res.status(201).json(serviceJson(svc));
  });

  router.get('/Services/:Sid', (req, res) => {
    res.json(serviceJson(serviceOf(req, 'Sid')));
  });

  router.post('/Services/:Sid', (req, res) => {
    const svc = serviceOf(req, 'Sid');
    applyServiceParams(svc, bodyOf(req));
    svc.updated = clock.now();
    res.json(serviceJson(svc));
  });

  router.delete('/Services/:Sid', (req, res) => {
    const svc = serviceOf(req, 'Sid');
    services.delete(svc.sid);
    res.status(204).end();
  });

  // --- documents -----------------------------------------------------------------------------

  function documentOf(svc: Service, req: Request): Doc {
    const id = String(req.params.Sid);
    const d = findIn(svc.documents, id);
    if (!d) throw new TwilioApiError(404, 54100, `Document ${id} not found`);
    return d;
  }

  router.get('/Services/:ServiceSid/Documents', (req, res) => {
    const svc = serviceOf(req);
    const all = [...svc.documents.values()].sort((a, b) => a.seq - b.seq);
    const paging = parsePaging(req.query as Body);
    const page = paginate(all, (d) => d.seq, ascending, paging, `${serviceUrl(svc)}/Documents`, [], 'documents');
    page.documents = (page.documents as Doc[]).map((d) => documentJson(svc, d));
    res.json(page);
  });

  router.post('/Services/:ServiceSid/Documents', (req, res) => {
    const svc = serviceOf(req);
    const body = bodyOf(req);
    const uniqueName = parseUniqueName(body);
    const rawData = param(body, 'Data');
    const data = rawData === undefined || rawData === '' ? {} : parseData(rawData, 54101, 'Document');
    const ttl = ttlOf(body, 'Ttl');
    assertUniqueName(svc.documents, uniqueName);
    const now = clock.now();
    const d: Doc = {
      sid: newSid('ET'),
      uniqueName,
      revision: 0,
      created: now,
      updated: now,
      expires: ttl === undefined ? null : trackExpiry(ttl, now),
      seq: seq++,
      data,
    };
    checkRate(res, rateKey(d));
    svc.documents.set(d.sid, d);
    recordWrite(rateKey(d));
    res.status(201).set('ETag', String(d.revision)).json(documentJson(svc, d));
  });

  router.get('/Services/:ServiceSid/Documents/:Sid', (req, res) => {
    const svc = serviceOf(req);
    const d = documentOf(svc, req);
    res.set('ETag', String(d.revision)).json(documentJson(svc, d));
  });

  router.post('/Services/:ServiceSid/Documents/:Sid', (req, res) => {
    const svc = serviceOf(req);
    const d = documentOf(svc, req);
    const body = bodyOf(req);
    const rawData = param(body, 'Data');
    const data = rawData === undefined ? undefined : parseData(rawData, 54101, 'Document');
    const ttl = ttlOf(body, 'Ttl');
    if (data === undefined && ttl === undefined) {
      throw new TwilioApiError(400, 54010, 'No parameters specified: send Data and/or Ttl');
    }
    checkRate(res, rateKey(d));
    checkRevision(req, d.revision, 54103, 'Document');
    const now = clock.now();
    if (data !== undefined) d.data = data;
    if (ttl !== undefined) d.expires = trackExpiry(ttl, now);
    d.revision++;
    d.updated = now;
    recordWrite(rateKey(d));
    res.set('ETag', String(d.revision)).json(documentJson(svc, d));
  });

  router.delete('/Services/:ServiceSid/Documents/:Sid', (req, res) => {
    const svc = serviceOf(req);
    const d = documentOf(svc, req);
    checkRate(res, rateKey(d));
    checkRevision(req, d.revision, 54103, 'Document');
    svc.documents.delete(d.sid);
    recordWrite(rateKey(d));
    res.status(204).end();
  });

  // --- maps and lists ------------------------------------------------------------------------

  function collectionsOf(svc: Service, kind: CollectionKind): Map<string, Collection<string | number>> {
    return (kind === MAP_KIND ? svc.maps : svc.lists) as Map<string, Collection<string | number>>;
  }

  function collectionOf(svc: Service, kind: CollectionKind, id: string): Collection<string | number> {
    const c = findIn(collectionsOf(svc, kind), id);
    if (!c) throw new TwilioApiError(404, kind.notFound, `${kind.label} ${id} not found`);
    return c;
  }

  function registerCollection(kind: CollectionKind): void {
    const base = `/Services/:ServiceSid/${kind.path}`;
    const listKey = kind === MAP_KIND ? 'maps' : 'lists';

    router.get(base, (req, res) => {
      const svc = serviceOf(req);
      const all = [...collectionsOf(svc, kind).values()].sort((a, b) => a.seq - b.seq);
      const paging = parsePaging(req.query as Body);
      const page = paginate(all, (c) => c.seq, ascending, paging, `${serviceUrl(svc)}/${kind.path}`, [], listKey);
      page[listKey] = (page[listKey] as SyncObject[]).map((c) => collectionJson(svc, kind, c));
      res.json(page);
    });

    router.post(base, (req, res) => {
      const svc = serviceOf(req);
      const body = bodyOf(req);
      const uniqueName = parseUniqueName(body);
      const ttl = ttlOf(body, 'CollectionTtl', 'Ttl');
      const colls = collectionsOf(svc, kind);
      assertUniqueName(colls, uniqueName);
      const now = clock.now();
      const c: Collection<string | number> = {
        sid: newSid(kind.prefix),
        uniqueName,
        revision: 0,
        created: now,
        updated: now,
        expires: ttl === undefined ? null : trackExpiry(ttl, now),
        seq: seq++,
        items: new Map(),
        nextIndex: 0,
      };
      checkRate(res, rateKey(c));
      colls.set(c.sid, c);
      recordWrite(rateKey(c));
      res.status(201).json(collectionJson(svc, kind, c));
    });

    router.get(`${base}/:Sid`, (req, res) => {
      const svc = serviceOf(req);
      res.json(collectionJson(svc, kind, collectionOf(svc, kind, String(req.params.Sid))));
    });

    router.post(`${base}/:Sid`, (req, res) => {
      const svc = serviceOf(req);
      const c = collectionOf(svc, kind, String(req.params.Sid));
      const ttl = ttlOf(bodyOf(req), 'CollectionTtl', 'Ttl');
      if (ttl === undefined) throw new TwilioApiError(400, 54010, 'No parameters specified: send Ttl or CollectionTtl');
      checkRate(res, rateKey(c));
      const now = clock.now();
      c.expires = trackExpiry(ttl, now);
      c.revision++;
      c.updated = now;
      recordWrite(rateKey(c));
      res.json(collectionJson(svc, kind, c));
    });

    router.delete(`${base}/:Sid`, (req, res) => {
      const svc = serviceOf(req);
      const c = collectionOf(svc, kind, String(req.params.Sid));
      checkRate(res, rateKey(c));
      collectionsOf(svc, kind).delete(c.sid);
      recordWrite(rateKey(c));
      res.status(204).end();
    });
  }

  registerCollection(MAP_KIND);
  registerCollection(LIST_KIND);

  // --- items ---------------------------------------------------------------------------------

  function registerItems(kind: CollectionKind): void {
    const parentParam = kind === MAP_KIND ? 'MapSid' : 'ListSid';
    const idParam = kind === MAP_KIND ? 'Key' : 'Index';
    const base = `/Services/:ServiceSid/${kind.path}/:${parentParam}/Items`;
    const what = `${kind.label} Item`;

    const parentOf = (svc: Service, req: Request) => collectionOf(svc, kind, String(req.params[parentParam]));

    function itemIdOf(req: Request): string | number {
      const raw = String(req.params[idParam]);
      if (kind === MAP_KIND) return raw;
      if (!/^\d+$/.test(raw)) throw new TwilioApiError(404, kind.itemNotFound, `${what} ${raw} not found`);
      return Number(raw);
    }

    function itemOf(c: Collection<string | number>, id: string | number): Item<string | number> {
      const it = c.items.get(id);
      if (!it) throw new TwilioApiError(404, kind.itemNotFound, `${what} ${id} not found`);
      return it;
    }

    /** Applies CollectionTtl from an item write to the parent. */
    function touchParent(c: Collection<string | number>, collectionTtl: number | undefined, now: number): void {
      if (collectionTtl !== undefined) c.expires = trackExpiry(collectionTtl, now);
      c.revision++;
    }

    router.get(base, (req, res) => {
      const svc = serviceOf(req);
      const c = parentOf(svc, req);
      const query = req.query as Body;
      const { order, bounds, from } = parseOrder(query);
      const paging = parsePaging(query);
      const dir = order === 'desc' ? -1 : 1;
      const cmp = (a: Cursor, b: Cursor) => dir * ascending(a, b);
      let fromCursor: Cursor | undefined;
      if (from !== undefined && from !== '') {
        if (kind === LIST_KIND) {
          if (!/^\d+$/.test(from)) throw new TwilioApiError(400, 20001, `Invalid From: ${from} (must be an index)`);
          fromCursor = Number(from);
        } else {
          fromCursor = from;
        }
      }
      let all = [...c.items.values()];
      if (fromCursor !== undefined) {
        const fc = fromCursor;
        all = all.filter((it) => (bounds === 'exclusive' ? cmp(it.id, fc) > 0 : cmp(it.id, fc) >= 0));
      }
      all.sort((a, b) => cmp(a.id, b.id));
      const extra: [string, string][] = [];
      if (from !== undefined) extra.push(['From', from]);
      if (bounds !== undefined) extra.push(['Bounds', bounds]);
      if (order !== undefined) extra.push(['Order', order]);
      const itemsUrl = `${collectionUrl(svc, kind, c)}/Items`;
      const page = paginate(all, (it) => it.id, cmp, paging, itemsUrl, extra, 'items');
      page.items = (page.items as Item<string | number>[]).map((it) => itemJson(svc, kind, c, it));
      res.json(page);
    });

    router.post(base, (req, res) => {
      const svc = serviceOf(req);
      const c = parentOf(svc, req);
      const body = bodyOf(req);
      let key: string | undefined;
      if (kind === MAP_KIND) {
        key = required(body, 'Key');
        if (key.length > MAX_KEY) {
          throw new TwilioApiError(400, 54209, `Invalid Map Item key: longer than ${MAX_KEY} characters`);
        }
      }
      const data = parseData(required(body, 'Data'), kind.itemInvalidData, what);
      const itemTtl = ttlOf(body, 'ItemTtl', 'Ttl');
      const collectionTtl = ttlOf(body, 'CollectionTtl');
      if (key !== undefined && c.items.has(key)) {
        throw new TwilioApiError(409, 54208, `Map Item with key ${key} already exists`);
      }
      checkRate(res, rateKey(c));
      const now = clock.now();
      const id = key ?? c.nextIndex++;
      const it: Item<string | number> = {
        id,
        data,
        revision: 0,
        created: now,
        updated: now,
        expires: itemTtl === undefined ? null : trackExpiry(itemTtl, now),
      };
      c.items.set(id, it);
      touchParent(c, collectionTtl, now);
      recordWrite(rateKey(c));
      res
        .status(201)
        .set('ETag', String(it.revision))
        .json(itemJson(svc, kind, c, it));
    });

    router.get(`${base}/:${idParam}`, (req, res) => {
      const svc = serviceOf(req);
      const c = parentOf(svc, req);
      const it = itemOf(c, itemIdOf(req));
      res.set('ETag', String(it.revision)).json(itemJson(svc, kind, c, it));
    });

    router.post(`${base}/:${idParam}`, (req, res) => {
      const svc = serviceOf(req);
      const c = parentOf(svc, req);
      const it = itemOf(c, itemIdOf(req));
      const body = bodyOf(req);
      const rawData = param(body, 'Data');
      const data = rawData === undefined ? undefined : parseData(rawData, kind.itemInvalidData, what);
      const itemTtl = ttlOf(body, 'ItemTtl', 'Ttl');
      const collectionTtl = ttlOf(body, 'CollectionTtl');
      if (data === undefined && itemTtl === undefined) {
        throw new TwilioApiError(
          400,
          54010,
          collectionTtl === undefined
            ? 'No parameters specified: send Data and/or Ttl'
            : 'CollectionTtl can only be used when Data or Ttl is updated in the same request',
        );
      }
      checkRate(res, rateKey(c));
      checkRevision(req, it.revision, kind.itemRevisionMismatch, what);
      const now = clock.now();
      if (data !== undefined) it.data = data;
      if (itemTtl !== undefined) it.expires = trackExpiry(itemTtl, now);
      it.revision++;
      it.updated = now;
      touchParent(c, collectionTtl, now);
      recordWrite(rateKey(c));
      res.set('ETag', String(it.revision)).json(itemJson(svc, kind, c, it));
    });

    router.delete(`${base}/:${idParam}`, (req, res) => {
      const svc = serviceOf(req);
      const c = parentOf(svc, req);
      const it = itemOf(c, itemIdOf(req));
      checkRate(res, rateKey(c));
      checkRevision(req, it.revision, kind.itemRevisionMismatch, what);
      c.items.delete(it.id);
      touchParent(c, undefined, clock.now());
      recordWrite(rateKey(c));
      res.status(204).end();
    });
  }

  registerItems(MAP_KIND);
  registerItems(LIST_KIND);

  function stats(): { writesByObject: Record<string, number[]> } {
    const writesByObject: Record<string, number[]> = {};
    for (const [k, v] of writes) writesByObject[k] = [...v];
    return { writesByObject };
  }

  return { router, reset, stats };
}
