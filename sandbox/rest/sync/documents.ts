// Sync v1 Documents: revisions and If-Match, unique names, TTL, 16 KB data.
import type express from 'express';
import type { Request } from 'express';
import { TwilioApiError, newSid } from '../../http';
import { documentJson, serviceUrl } from './json';
import { ascending, paginate, parsePaging } from './paging';
import { bodyOf, checkRevision, param, parseData, parseUniqueName, ttlOf } from './params';
import { assertUniqueName, findIn, payloadBytes, rateKey, type Doc, type Service, type SyncState } from './state';

function documentOf(svc: Service, req: Request): Doc {
  const id = String(req.params.Sid);
  const d = findIn(svc.documents, id);
  if (!d) throw new TwilioApiError(404, 54100, `Document ${id} not found`);
  return d;
}

export function registerDocuments(router: express.Router, state: SyncState): void {
  router.get('/Services/:ServiceSid/Documents', (req, res) => {
    const svc = state.serviceOf(req);
    const all = [...svc.documents.values()].sort((a, b) => a.seq - b.seq);
    const paging = parsePaging(req.query);
    const page = paginate(all, (d) => d.seq, ascending, paging, `${serviceUrl(svc)}/Documents`, [], 'documents');
    page.documents = (page.documents as Doc[]).map((d) => documentJson(state, svc, d));
    res.json(page);
  });

  router.post('/Services/:ServiceSid/Documents', (req, res) => {
    const svc = state.serviceOf(req);
    const body = bodyOf(req);
    const uniqueName = parseUniqueName(body);
    const rawData = param(body, 'Data');
    const data = rawData === undefined || rawData === '' ? {} : parseData(rawData, 54101, 'Document');
    const ttl = ttlOf(body, 'Ttl');
    assertUniqueName(svc.documents, uniqueName);
    const now = state.now();
    const d: Doc = {
      sid: newSid('ET'),
      uniqueName,
      revision: 0,
      created: now,
      updated: now,
      expires: ttl === undefined ? null : state.trackExpiry(ttl, now),
      seq: state.nextSeq(),
      data,
    };
    const cost = state.checkRate(res, rateKey(d), payloadBytes(rawData));
    svc.documents.set(d.sid, d);
    state.recordWrite(rateKey(d), cost);
    res
      .status(201)
      .set('ETag', String(d.revision))
      .json(documentJson(state, svc, d));
  });

  router.get('/Services/:ServiceSid/Documents/:Sid', (req, res) => {
    const svc = state.serviceOf(req);
    const d = documentOf(svc, req);
    res.set('ETag', String(d.revision)).json(documentJson(state, svc, d));
  });

  router.post('/Services/:ServiceSid/Documents/:Sid', (req, res) => {
    const svc = state.serviceOf(req);
    const d = documentOf(svc, req);
    const body = bodyOf(req);
    const rawData = param(body, 'Data');
    const data = rawData === undefined ? undefined : parseData(rawData, 54101, 'Document');
    const ttl = ttlOf(body, 'Ttl');
    if (data === undefined && ttl === undefined) {
      throw new TwilioApiError(400, 54010, 'No parameters specified: send Data and/or Ttl');
    }
    const cost = state.checkRate(res, rateKey(d), payloadBytes(rawData));
    checkRevision(req, d.revision, 54103, 'Document');
    const now = state.now();
    if (data !== undefined) d.data = data;
    if (ttl !== undefined) d.expires = state.trackExpiry(ttl, now);
    d.revision++;
    d.updated = now;
    state.recordWrite(rateKey(d), cost);
    res.set('ETag', String(d.revision)).json(documentJson(state, svc, d));
  });

  router.delete('/Services/:ServiceSid/Documents/:Sid', (req, res) => {
    const svc = state.serviceOf(req);
    const d = documentOf(svc, req);
    const cost = state.checkRate(res, rateKey(d));
    checkRevision(req, d.revision, 54103, 'Document');
    svc.documents.delete(d.sid);
    state.recordWrite(rateKey(d), cost);
    res.status(204).end();
  });
}
