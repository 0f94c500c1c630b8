// Sync v1 Map Items (by Key) and List Items (by Index): revisions and If-Match, TTLs (ItemTtl and the
// parent's CollectionTtl), ordering and From/Bounds, 16 KB data. Item writes count against the parent.
import type express from 'express';
import type { Request } from 'express';
import { TwilioApiError } from '../../http';
import { collectionUrl, itemJson } from './json';
import { ascending, paginate, parseOrder, parsePaging, type Cursor } from './paging';
import { bodyOf, checkRevision, MAX_KEY, param, parseData, required, ttlOf, type Body } from './params';
import {
  LIST_KIND,
  MAP_KIND,
  payloadBytes,
  rateKey,
  type Collection,
  type CollectionKind,
  type Item,
  type Service,
  type SyncState,
} from './state';

/** The item routes of one kind of collection: `/Services/:ServiceSid/Maps/:MapSid/Items` or the List's. */
export function registerItems(router: express.Router, state: SyncState, kind: CollectionKind): void {
  const parentParam = kind === MAP_KIND ? 'MapSid' : 'ListSid';
  const idParam = kind === MAP_KIND ? 'Key' : 'Index';
  const base = `/Services/:ServiceSid/${kind.path}/:${parentParam}/Items`;
  const what = `${kind.label} Item`;

  const parentOf = (svc: Service, req: Request) => state.collectionOf(svc, kind, String(req.params[parentParam]));

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
    if (collectionTtl !== undefined) c.expires = state.trackExpiry(collectionTtl, now);
    c.revision++;
  }

  router.get(base, (req, res) => {
    const svc = state.serviceOf(req);
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
    page.items = (page.items as Item<string | number>[]).map((it) => itemJson(state, svc, kind, c, it));
    res.json(page);
  });

  router.post(base, (req, res) => {
    const svc = state.serviceOf(req);
    const c = parentOf(svc, req);
    const body = bodyOf(req);
    let key: string | undefined;
    if (kind === MAP_KIND) {
      key = required(body, 'Key');
      if (key.length > MAX_KEY) {
        throw new TwilioApiError(400, 54209, `Invalid Map Item key: longer than ${MAX_KEY} characters`);
      }
    }
    const rawData = required(body, 'Data');
    const data = parseData(rawData, kind.itemInvalidData, what);
    const itemTtl = ttlOf(body, 'ItemTtl', 'Ttl');
    const collectionTtl = ttlOf(body, 'CollectionTtl');
    if (key !== undefined && c.items.has(key)) {
      throw new TwilioApiError(409, 54208, `Map Item with key ${key} already exists`);
    }
    const cost = state.checkRate(res, rateKey(c), payloadBytes(rawData));
    const now = state.now();
    const id = key ?? c.nextIndex++;
    const it: Item<string | number> = {
      id,
      data,
      revision: 0,
      created: now,
      updated: now,
      expires: itemTtl === undefined ? null : state.trackExpiry(itemTtl, now),
    };
    c.items.set(id, it);
    touchParent(c, collectionTtl, now);
    state.recordWrite(rateKey(c), cost);
    state.itemChanged({ svc, kind, collection: c, item: it, type: 'added', eventId: c.revision });
    res
      .status(201)
      .set('ETag', String(it.revision))
      .json(itemJson(state, svc, kind, c, it));
  });

  router.get(`${base}/:${idParam}`, (req, res) => {
    const svc = state.serviceOf(req);
    const c = parentOf(svc, req);
    const it = itemOf(c, itemIdOf(req));
    res.set('ETag', String(it.revision)).json(itemJson(state, svc, kind, c, it));
  });

  router.post(`${base}/:${idParam}`, (req, res) => {
    const svc = state.serviceOf(req);
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
    const cost = state.checkRate(res, rateKey(c), payloadBytes(rawData));
    checkRevision(req, it.revision, kind.itemRevisionMismatch, what);
    const now = state.now();
    if (data !== undefined) it.data = data;
    if (itemTtl !== undefined) it.expires = state.trackExpiry(itemTtl, now);
    it.revision++;
    it.updated = now;
    touchParent(c, collectionTtl, now);
    state.recordWrite(rateKey(c), cost);
    if (data !== undefined)
      state.itemChanged({ svc, kind, collection: c, item: it, type: 'updated', eventId: c.revision });
    res.set('ETag', String(it.revision)).json(itemJson(state, svc, kind, c, it));
  });

  router.delete(`${base}/:${idParam}`, (req, res) => {
    const svc = state.serviceOf(req);
    const c = parentOf(svc, req);
    const it = itemOf(c, itemIdOf(req));
    const cost = state.checkRate(res, rateKey(c));
    checkRevision(req, it.revision, kind.itemRevisionMismatch, what);
    c.items.delete(it.id);
    touchParent(c, undefined, state.now());
    state.recordWrite(rateKey(c), cost);
    state.itemChanged({ svc, kind, collection: c, item: it, type: 'removed', eventId: c.revision });
    res.status(204).end();
  });
}
