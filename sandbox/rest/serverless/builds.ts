// Serverless v1 Builds (status `building`, then `completed` or `failed` as the sandbox is told),
// Deployments (a completed Build made an Environment's) and Logs.
import type express from 'express';
import { newSid, TwilioApiError } from '../../http';
import { bodyOf, param, type Body } from '../sync/params';
import { buildJson, deploymentJson, environmentUrl, logJson, serviceUrl } from './json';
import { page } from './paging';
import { notFound, type Build, type ResourceKind, type ServerlessState } from './state';

export const RUNTIMES = ['node8', 'node10', 'node12', 'node14', 'node16', 'node18', 'node20', 'node22'];
/** The runtime of a Build created without one (undocumented: the newest the spec lists). */
export const DEFAULT_RUNTIME = 'node22';

function all(body: Body, name: string): string[] {
  const v = body[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

/**
 * `Dependencies`: a JSON array of `{name, version}`. @twilio-labs/serverless-api sends it wrapped
 * once more in double quotes (`"[{…}]"`); Twilio takes that, so the sandbox does too.
 */
function dependencies(raw: string | undefined): Build['dependencies'] {
  if (raw === undefined || raw === '') return [];
  const unwrapped = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
  let parsed: unknown;
  try {
    parsed = JSON.parse(unwrapped);
  } catch {
    throw new TwilioApiError(400, 20001, 'Dependencies must be a JSON array of {name, version}');
  }
  if (
    !Array.isArray(parsed) ||
    !parsed.every(
      (d: unknown) =>
        typeof d === 'object' &&
        d !== null &&
        typeof (d as { name?: unknown }).name === 'string' &&
        typeof (d as { version?: unknown }).version === 'string',
    )
  )
    throw new TwilioApiError(400, 20001, 'Dependencies must be a JSON array of {name, version}');
  return (parsed as { name: string; version: string }[]).map(({ name, version }) => ({ name, version }));
}

function isoParam(query: Body, name: string): number | undefined {
  const v = param(query, name);
  if (v === undefined || v === '') return undefined;
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new TwilioApiError(400, 20001, `${name} must be an ISO 8601 date-time`);
  return ms;
}

export function registerBuilds(router: express.Router, state: ServerlessState): void {
  const buildOf = (req: express.Request) => {
    const svc = state.serviceOf(req);
    const b = state.builds.get(String(req.params.Sid));
    if (!b || b.serviceSid !== svc.sid) throw notFound(req);
    return b;
  };

  router.get('/Services/:ServiceSid/Builds', (req, res) => {
    const svc = state.serviceOf(req);
    const builds = [...state.builds.values()].filter((b) => b.serviceSid === svc.sid);
    const now = Date.now();
    res.json(page(req, 'builds', builds, (b) => buildJson(state, b, now), `${serviceUrl(svc.sid)}/Builds`));
  });

  router.post('/Services/:ServiceSid/Builds', (req, res) => {
    const svc = state.serviceOf(req);
    const body = bodyOf(req);
    const versions = (name: string, kind: ResourceKind) =>
      all(body, name).map((sid) => {
        const v = state.versions.get(sid);
        if (!v || v.serviceSid !== svc.sid || v.kind !== kind)
          throw new TwilioApiError(400, 20001, `${name}: ${sid} is not a ${kind} version of this Service`);
        return v;
      });
    const functionVersions = versions('FunctionVersions', 'function');
    const assetVersions = versions('AssetVersions', 'asset');
    const paths = [...functionVersions, ...assetVersions].map((v) => v.path);
    const twice = paths.find((p, i) => paths.indexOf(p) !== i);
    if (twice !== undefined) throw new TwilioApiError(400, 20001, `Two versions in one Build have the path ${twice}`);
    const runtime = param(body, 'Runtime') || DEFAULT_RUNTIME;
    if (!RUNTIMES.includes(runtime))
      throw new TwilioApiError(400, 20001, `Runtime must be one of ${RUNTIMES.join(', ')}`);
    const now = Date.now();
    const build: Build = {
      sid: newSid('ZB'),
      serviceSid: svc.sid,
      functionVersions: functionVersions.map((v) => v.sid),
      assetVersions: assetVersions.map((v) => v.sid),
      dependencies: dependencies(param(body, 'Dependencies')),
      runtime,
      doneAt: now + Math.max(0, state.opts.buildMs()),
      outcome: state.opts.buildOutcome(),
      created: now,
    };
    state.builds.set(build.sid, build);
    res.status(201).json(buildJson(state, build, now));
  });

  router.get('/Services/:ServiceSid/Builds/:Sid', (req, res) => {
    res.json(buildJson(state, buildOf(req)));
  });

  router.get('/Services/:ServiceSid/Builds/:Sid/Status', (req, res) => {
    const b = buildOf(req);
    res.json({
      sid: b.sid,
      account_sid: state.accountSid,
      service_sid: b.serviceSid,
      status: state.buildStatus(b),
      url: `${serviceUrl(b.serviceSid)}/Builds/${b.sid}/Status`,
    });
  });

  router.delete('/Services/:ServiceSid/Builds/:Sid', (req, res) => {
    const b = buildOf(req);
    if ([...state.environments.values()].some((e) => e.buildSid === b.sid))
      throw new TwilioApiError(409, 20409, `Build ${b.sid} is deployed in an Environment`);
    state.builds.delete(b.sid);
    res.status(204).end();
  });

  // ---- Deployments -------------------------------------------------------------------------
  const deployments = '/Services/:ServiceSid/Environments/:EnvironmentSid/Deployments';
  router.get(deployments, (req, res) => {
    const env = state.environmentOf(req, state.serviceOf(req));
    const list = [...state.deployments.values()].filter((d) => d.environmentSid === env.sid);
    res.json(page(req, 'deployments', list, (d) => deploymentJson(state, d), `${environmentUrl(env)}/Deployments`));
  });

  router.post(deployments, (req, res) => {
    const svc = state.serviceOf(req);
    const env = state.environmentOf(req, svc);
    const buildSid = param(bodyOf(req), 'BuildSid');
    // Twilio's spec leaves BuildSid optional; what a Deployment without one is, it does not say.
    if (!buildSid) throw new TwilioApiError(400, 20001, 'Missing required parameter BuildSid in the post body');
    const build = state.builds.get(buildSid);
    if (!build || build.serviceSid !== svc.sid)
      throw new TwilioApiError(404, 20404, `Build ${buildSid} was not found in this Service`);
    const status = state.buildStatus(build);
    if (status !== 'completed')
      throw new TwilioApiError(400, 20001, `Build ${buildSid} is ${status}: only a completed Build is deployed`);
    const now = Date.now();
    const d = { sid: newSid('ZD'), serviceSid: svc.sid, environmentSid: env.sid, buildSid, created: now };
    state.deployments.set(d.sid, d);
    env.buildSid = buildSid;
    env.updated = now;
    res.status(201).json(deploymentJson(state, d));
  });

  router.get(`${deployments}/:Sid`, (req, res) => {
    const env = state.environmentOf(req, state.serviceOf(req));
    const d = state.deployments.get(String(req.params.Sid));
    if (!d || d.environmentSid !== env.sid) throw notFound(req);
    res.json(deploymentJson(state, d));
  });

  // ---- Logs --------------------------------------------------------------------------------
  const logs = '/Services/:ServiceSid/Environments/:EnvironmentSid/Logs';
  router.get(logs, (req, res) => {
    const env = state.environmentOf(req, state.serviceOf(req));
    const q = req.query as Body;
    const functionSid = param(q, 'FunctionSid');
    const now = Date.now();
    // Twilio's defaults: from a day ago until now.
    const start = isoParam(q, 'StartDate') ?? now - 86_400_000;
    const end = isoParam(q, 'EndDate') ?? now;
    const list = state.logs
      .filter(
        (l) =>
          l.environmentSid === env.sid &&
          (!functionSid || l.functionSid === functionSid) &&
          l.created >= start &&
          l.created <= end,
      )
      .sort((a, b) => b.created - a.created);
    res.json(page(req, 'logs', list, (l) => logJson(state, l), `${environmentUrl(env)}/Logs`));
  });

  router.get(`${logs}/:Sid`, (req, res) => {
    const env = state.environmentOf(req, state.serviceOf(req));
    const l = state.logs.find((x) => x.sid === req.params.Sid && x.environmentSid === env.sid);
    if (!l) throw notFound(req);
    res.json(logJson(state, l));
  });
}
