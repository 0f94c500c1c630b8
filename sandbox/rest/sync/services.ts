// Sync v1 Services: `default` always exists; others can be created, updated and deleted.
import type express from 'express';
import { newSid } from '../../http';
import { serviceJson, PUBLIC_BASE } from './json';
import { ascending, paginate, parsePaging } from './paging';
import { bodyOf } from './params';
import { applyServiceParams, type Service, type SyncState } from './state';

export function registerServices(router: express.Router, state: SyncState): void {
  router.get('/Services', (req, res) => {
    const all = [...state.services.values()].sort((a, b) => a.seq - b.seq);
    const paging = parsePaging(req.query);
    const page = paginate(all, (s) => s.seq, ascending, paging, `${PUBLIC_BASE}/Services`, [], 'services');
    page.services = (page.services as Service[]).map((s) => serviceJson(state, s));
    res.json(page);
  });

  router.post('/Services', (req, res) => {
    const svc = state.makeService(newSid('IS'), null, bodyOf(req));
    state.services.set(svc.sid, svc);
    res.status(201).json(serviceJson(state, svc));
  });

  router.get('/Services/:Sid', (req, res) => {
    res.json(serviceJson(state, state.serviceOf(req, 'Sid')));
  });

  router.post('/Services/:Sid', (req, res) => {
    const svc = state.serviceOf(req, 'Sid');
    applyServiceParams(svc, bodyOf(req));
    svc.updated = state.now();
    res.json(serviceJson(state, svc));
  });

  router.delete('/Services/:Sid', (req, res) => {
    const svc = state.serviceOf(req, 'Sid');
    state.services.delete(svc.sid);
    res.status(204).end();
  });
}
