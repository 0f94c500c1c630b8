// Serverless v1 Services, Environments and Variables.
import type express from 'express';
import { formBool, newSid, TwilioApiError } from '../../http';
import { bodyOf, param, required, type Body } from '../sync/params';
import { environmentJson, environmentUrl, serviceJson, serviceUrl, variableJson } from './json';
import { page } from './paging';
import { PUBLIC_BASE, type ServerlessState, type Service } from './state';

/** Twilio's documented maxima (twilio_serverless_v1.json's parameter descriptions). */
export const LIMITS = {
  serviceUniqueName: 50,
  friendlyName: 255,
  environmentUniqueName: 100,
  domainSuffix: 16,
  variableKey: 128,
  variableValueBytes: 450,
};

function bounded(body: Body, name: string, max: number, req: boolean): string | undefined {
  const v = req ? required(body, name) : param(body, name);
  if (v !== undefined && v.length > max)
    throw new TwilioApiError(400, 20001, `${name} must be ${max} characters or less`);
  return v;
}

function booleanParam(body: Body, name: string): boolean | undefined {
  const v = param(body, name);
  if (v === undefined || v === '') return undefined;
  if (!/^(true|false)$/i.test(v)) throw new TwilioApiError(400, 20001, `${name} must be true or false`);
  return formBool(v);
}

export function registerServices(router: express.Router, state: ServerlessState): void {
  // ---- Services ----------------------------------------------------------------------------
  router.get('/Services', (req, res) => {
    res.json(
      page(req, 'services', [...state.services.values()], (s) => serviceJson(state, s), `${PUBLIC_BASE}/Services`),
    );
  });

  router.post('/Services', (req, res) => {
    const b = bodyOf(req);
    const uniqueName = bounded(b, 'UniqueName', LIMITS.serviceUniqueName, true) as string;
    const friendlyName = bounded(b, 'FriendlyName', LIMITS.friendlyName, true) as string;
    // The unique name becomes part of a domain: the sandbox takes what a domain label takes.
    if (!/^[A-Za-z0-9-]+$/.test(uniqueName))
      throw new TwilioApiError(400, 20001, 'UniqueName may contain only letters, digits and hyphens');
    if ([...state.services.values()].some((s) => s.uniqueName === uniqueName))
      throw new TwilioApiError(409, 20409, `Service with UniqueName ${uniqueName} already exists`);
    const now = Date.now();
    const svc: Service = {
      sid: newSid('ZS'),
      uniqueName,
      friendlyName,
      includeCredentials: booleanParam(b, 'IncludeCredentials') ?? true,
      uiEditable: booleanParam(b, 'UiEditable') ?? false,
      domainBase: `${uniqueName.toLowerCase()}-${String(1000 + Math.floor(Math.random() * 9000))}`,
      created: now,
      updated: now,
    };
    state.services.set(svc.sid, svc);
    res.status(201).json(serviceJson(state, svc));
  });

  router.get('/Services/:Sid', (req, res) => {
    res.json(serviceJson(state, state.serviceOf(req, 'Sid')));
  });

  router.post('/Services/:Sid', (req, res) => {
    const svc = state.serviceOf(req, 'Sid');
    const b = bodyOf(req);
    const friendlyName = bounded(b, 'FriendlyName', LIMITS.friendlyName, false);
    const includeCredentials = booleanParam(b, 'IncludeCredentials');
    const uiEditable = booleanParam(b, 'UiEditable');
    if (friendlyName !== undefined) svc.friendlyName = friendlyName;
    if (includeCredentials !== undefined) svc.includeCredentials = includeCredentials;
    if (uiEditable !== undefined) svc.uiEditable = uiEditable;
    svc.updated = Date.now();
    res.json(serviceJson(state, svc));
  });

  router.delete('/Services/:Sid', (req, res) => {
    state.deleteService(state.serviceOf(req, 'Sid'));
    res.status(204).end();
  });

  // ---- Environments ------------------------------------------------------------------------
  router.get('/Services/:ServiceSid/Environments', (req, res) => {
    const svc = state.serviceOf(req);
    const all = [...state.environments.values()].filter((e) => e.serviceSid === svc.sid);
    res.json(page(req, 'environments', all, (e) => environmentJson(state, e), `${serviceUrl(svc.sid)}/Environments`));
  });

  router.post('/Services/:ServiceSid/Environments', (req, res) => {
    const svc = state.serviceOf(req);
    const b = bodyOf(req);
    const uniqueName = bounded(b, 'UniqueName', LIMITS.environmentUniqueName, true) as string;
    const suffix = bounded(b, 'DomainSuffix', LIMITS.domainSuffix, false);
    if (suffix !== undefined && suffix !== '' && !/^[A-Za-z0-9-]+$/.test(suffix))
      throw new TwilioApiError(400, 20001, 'DomainSuffix may contain only letters, digits and hyphens');
    const mine = [...state.environments.values()].filter((e) => e.serviceSid === svc.sid);
    if (mine.some((e) => e.uniqueName === uniqueName))
      throw new TwilioApiError(409, 20409, `Environment with UniqueName ${uniqueName} already exists`);
    const domainSuffix = suffix === undefined || suffix === '' ? null : suffix;
    if (mine.some((e) => e.domainSuffix === domainSuffix))
      throw new TwilioApiError(409, 20409, `Environment with DomainSuffix ${String(domainSuffix)} already exists`);
    const now = Date.now();
    const env = {
      sid: newSid('ZE'),
      serviceSid: svc.sid,
      uniqueName,
      domainSuffix,
      domainName: `${svc.domainBase}${domainSuffix ? `-${domainSuffix.toLowerCase()}` : ''}.twil.io`,
      buildSid: null,
      created: now,
      updated: now,
    };
    state.environments.set(env.sid, env);
    res.status(201).json(environmentJson(state, env));
  });

  router.get('/Services/:ServiceSid/Environments/:Sid', (req, res) => {
    const svc = state.serviceOf(req);
    res.json(environmentJson(state, state.environmentOf(req, svc, 'Sid')));
  });

  router.delete('/Services/:ServiceSid/Environments/:Sid', (req, res) => {
    const env = state.environmentOf(req, state.serviceOf(req), 'Sid');
    state.environments.delete(env.sid);
    for (const [sid, v] of state.variables) if (v.environmentSid === env.sid) state.variables.delete(sid);
    for (const [sid, d] of state.deployments) if (d.environmentSid === env.sid) state.deployments.delete(sid);
    state.logs = state.logs.filter((l) => l.environmentSid !== env.sid);
    res.status(204).end();
  });

  // ---- Variables ---------------------------------------------------------------------------
  const base = '/Services/:ServiceSid/Environments/:EnvironmentSid/Variables';
  const envOf = (req: express.Request) => state.environmentOf(req, state.serviceOf(req));
  const variableOf = (req: express.Request) => {
    const env = envOf(req);
    const v = state.variables.get(String(req.params.Sid));
    if (!v || v.environmentSid !== env.sid)
      throw new TwilioApiError(404, 20404, `The requested resource ${req.originalUrl.split('?')[0]} was not found`);
    return v;
  };
  const checkValue = (value: string) => {
    if (Buffer.byteLength(value, 'utf8') > LIMITS.variableValueBytes)
      throw new TwilioApiError(400, 20001, `Value must be ${LIMITS.variableValueBytes} bytes or less`);
  };
  const checkKeyFree = (environmentSid: string, key: string, except?: string) => {
    for (const v of state.variables.values())
      if (v.environmentSid === environmentSid && v.key === key && v.sid !== except)
        throw new TwilioApiError(409, 20409, `Variable with Key ${key} already exists`);
  };

  router.get(base, (req, res) => {
    const env = envOf(req);
    const all = [...state.variables.values()].filter((v) => v.environmentSid === env.sid);
    res.json(page(req, 'variables', all, (v) => variableJson(state, v), `${environmentUrl(env)}/Variables`));
  });

  router.post(base, (req, res) => {
    const env = envOf(req);
    const b = bodyOf(req);
    const key = bounded(b, 'Key', LIMITS.variableKey, true) as string;
    // An empty Value is a value (required means present).
    const value = param(b, 'Value');
    if (value === undefined) throw new TwilioApiError(400, 20001, 'Missing required parameter Value in the post body');
    checkValue(value);
    checkKeyFree(env.sid, key);
    const now = Date.now();
    const v = {
      sid: newSid('ZV'),
      serviceSid: env.serviceSid,
      environmentSid: env.sid,
      key,
      value,
      created: now,
      updated: now,
    };
    state.variables.set(v.sid, v);
    res.status(201).json(variableJson(state, v));
  });

  router.get(`${base}/:Sid`, (req, res) => {
    res.json(variableJson(state, variableOf(req)));
  });

  router.post(`${base}/:Sid`, (req, res) => {
    const v = variableOf(req);
    const b = bodyOf(req);
    const key = bounded(b, 'Key', LIMITS.variableKey, false);
    const value = param(b, 'Value');
    if (key !== undefined) {
      if (key === '') throw new TwilioApiError(400, 20001, 'Key must not be empty');
      checkKeyFree(v.environmentSid, key, v.sid);
    }
    if (value !== undefined) checkValue(value);
    if (key !== undefined) v.key = key;
    if (value !== undefined) v.value = value;
    v.updated = Date.now();
    res.json(variableJson(state, v));
  });

  router.delete(`${base}/:Sid`, (req, res) => {
    state.variables.delete(variableOf(req).sid);
    res.status(204).end();
  });
}
