// Sync v1 Maps and Lists (the collections themselves; their items are in items.ts).
import type express from 'express';
import { TwilioApiError } from '../../http';
import { collectionJson, serviceUrl } from './json';
import { ascending, paginate, parsePaging } from './paging';
import { bodyOf, parseUniqueName, ttlOf } from './params';
import { assertUniqueName, MAP_KIND, rateKey, type CollectionKind, type SyncObject, type SyncState } from './state';

/** The routes of one kind of collection: `/Services/:ServiceSid/Maps` or `/Lists`. */
export function registerCollection(router: express.Router, state: SyncState, kind: CollectionKind): void {
  const base = `/Services/:ServiceSid/${kind.path}`;
  const listKey = kind === MAP_KIND ? 'maps' : 'lists';

  router.get(base, (req, res) => {
    const svc = state.serviceOf(req);
    const all = [...state.collectionsOf(svc, kind).values()].sort((a, b) => a.seq - b.seq);
    const paging = parsePaging(req.query);
    const page = paginate(all, (c) => c.seq, ascending, paging, `${serviceUrl(svc)}/${kind.path}`, [], listKey);
    page[listKey] = (page[listKey] as SyncObject[]).map((c) => collectionJson(state, svc, kind, c));
    res.json(page);
  });

  router.post(base, (req, res) => {
    const svc = state.serviceOf(req);
    const body = bodyOf(req);
    const uniqueName = parseUniqueName(body);
    const ttl = ttlOf(body, 'CollectionTtl', 'Ttl');
    const colls = state.collectionsOf(svc, kind);
    assertUniqueName(colls, uniqueName);
    const c = state.newCollection<string | number>(kind.prefix, uniqueName, ttl);
    const cost = state.checkRate(res, rateKey(c));
    colls.set(c.sid, c);
    state.recordWrite(rateKey(c), cost);
    res.status(201).json(collectionJson(state, svc, kind, c));
  });

  router.get(`${base}/:Sid`, (req, res) => {
    const svc = state.serviceOf(req);
    res.json(collectionJson(state, svc, kind, state.collectionOf(svc, kind, String(req.params.Sid))));
  });

  router.post(`${base}/:Sid`, (req, res) => {
    const svc = state.serviceOf(req);
    const c = state.collectionOf(svc, kind, String(req.params.Sid));
    const ttl = ttlOf(bodyOf(req), 'CollectionTtl', 'Ttl');
    if (ttl === undefined) throw new TwilioApiError(400, 54010, 'No parameters specified: send Ttl or CollectionTtl');
    const cost = state.checkRate(res, rateKey(c));
    const now = state.now();
    c.expires = state.trackExpiry(ttl, now);
    c.revision++;
    c.updated = now;
    state.recordWrite(rateKey(c), cost);
    res.json(collectionJson(state, svc, kind, c));
  });

  router.delete(`${base}/:Sid`, (req, res) => {
    const svc = state.serviceOf(req);
    const c = state.collectionOf(svc, kind, String(req.params.Sid));
    const cost = state.checkRate(res, rateKey(c));
    state.collectionsOf(svc, kind).delete(c.sid);
    state.recordWrite(rateKey(c), cost);
    res.status(204).end();
  });
}
