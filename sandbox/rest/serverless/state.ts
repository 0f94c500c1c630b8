// The Serverless API's state: Services, their Environments and Variables, Functions and Assets with
// their Versions, Builds, Deployments and Logs. One account's worth, in memory.
import type { Request } from 'express';
import { newSid, TwilioApiError } from '../../http';

export const PUBLIC_BASE = 'https://serverless.twilio.com/v1';

export interface ServerlessOptions {
  accountSid: string;
  /** How long a Build stays `building` before it is `completed` (ms, read on each status check). */
  buildMs: () => number;
  /** How a Build ends: `completed` (Twilio's normal) or `failed` (to play a failed build). */
  buildOutcome: () => 'completed' | 'failed';
}

export interface Service {
  sid: string;
  uniqueName: string;
  friendlyName: string;
  includeCredentials: boolean;
  uiEditable: boolean;
  domainBase: string;
  created: number;
  updated: number;
}

export interface Environment {
  sid: string;
  serviceSid: string;
  uniqueName: string;
  domainSuffix: string | null;
  domainName: string;
  buildSid: string | null;
  created: number;
  updated: number;
}

export interface Variable {
  sid: string;
  serviceSid: string;
  environmentSid: string;
  key: string;
  value: string;
  created: number;
  updated: number;
}

export type ResourceKind = 'function' | 'asset';

export interface Resource {
  sid: string;
  serviceSid: string;
  kind: ResourceKind;
  friendlyName: string;
  created: number;
  updated: number;
}

export type Visibility = 'public' | 'protected' | 'private';

export interface Version {
  sid: string;
  serviceSid: string;
  kind: ResourceKind;
  resourceSid: string;
  path: string;
  visibility: Visibility;
  content: Buffer;
  contentType: string;
  created: number;
}

export interface Build {
  sid: string;
  serviceSid: string;
  functionVersions: string[];
  assetVersions: string[];
  dependencies: { name: string; version: string }[];
  runtime: string;
  /** When it stops `building`, and how. */
  doneAt: number;
  outcome: 'completed' | 'failed';
  created: number;
}

export interface Deployment {
  sid: string;
  serviceSid: string;
  environmentSid: string;
  buildSid: string;
  created: number;
}

export interface Log {
  sid: string;
  serviceSid: string;
  environmentSid: string;
  buildSid: string;
  deploymentSid: string;
  functionSid: string;
  requestSid: string;
  level: 'info' | 'warn' | 'error';
  message: string;
  created: number;
}

export const notFound = (req: Request) =>
  new TwilioApiError(404, 20404, `The requested resource ${req.originalUrl.split('?')[0]} was not found`);

export class ServerlessState {
  services = new Map<string, Service>();
  environments = new Map<string, Environment>();
  variables = new Map<string, Variable>();
  resources = new Map<string, Resource>();
  versions = new Map<string, Version>();
  builds = new Map<string, Build>();
  deployments = new Map<string, Deployment>();
  logs: Log[] = [];

  constructor(readonly opts: ServerlessOptions) {}

  get accountSid(): string {
    return this.opts.accountSid;
  }

  reset(): void {
    for (const m of [
      this.services,
      this.environments,
      this.variables,
      this.resources,
      this.versions,
      this.builds,
      this.deployments,
    ])
      m.clear();
    this.logs.length = 0;
  }

  /** A Service by its SID or its unique name (Twilio takes either in the URL). */
  serviceOf(req: Request, param = 'ServiceSid'): Service {
    const id = String(req.params[param]);
    const svc = this.services.get(id) ?? [...this.services.values()].find((s) => s.uniqueName === id && id !== '');
    if (!svc) throw notFound(req);
    return svc;
  }

  environmentOf(req: Request, svc: Service, param = 'EnvironmentSid'): Environment {
    const env = this.environments.get(String(req.params[param]));
    if (!env || env.serviceSid !== svc.sid) throw notFound(req);
    return env;
  }

  resourceOf(req: Request, svc: Service, kind: ResourceKind, param: string): Resource {
    const r = this.resources.get(String(req.params[param]));
    if (!r || r.serviceSid !== svc.sid || r.kind !== kind) throw notFound(req);
    return r;
  }

  /** Deletes a Service and everything under it. */
  deleteService(svc: Service): void {
    this.services.delete(svc.sid);
    for (const m of [this.environments, this.variables, this.resources, this.versions, this.builds, this.deployments])
      for (const [sid, v] of m as Map<string, { serviceSid: string }>) if (v.serviceSid === svc.sid) m.delete(sid);
    this.logs = this.logs.filter((l) => l.serviceSid !== svc.sid);
  }

  /** A build's status now: `building` until its time is up, then its outcome. */
  buildStatus(b: Build, now = Date.now()): 'building' | 'completed' | 'failed' {
    return now < b.doneAt ? 'building' : b.outcome;
  }

  /**
   * A log line, as a deployed Function's console output would produce (the sandbox runs no deployed
   * code: tests and people add them). The environment must have a deployment.
   */
  addLog(environmentSid: string, entry: { functionSid: string; level?: Log['level']; message: string }): Log {
    const env = this.environments.get(environmentSid);
    const deployment = [...this.deployments.values()].filter((d) => d.environmentSid === environmentSid).pop();
    if (!env || !deployment) throw new Error(`no deployment in environment ${environmentSid}`);
    const log: Log = {
      sid: newSid('NO'),
      serviceSid: env.serviceSid,
      environmentSid,
      buildSid: deployment.buildSid,
      deploymentSid: deployment.sid,
      functionSid: entry.functionSid,
      requestSid: newSid('RQ'),
      level: entry.level ?? 'info',
      message: entry.message,
      created: Date.now(),
    };
    this.logs.push(log);
    return log;
  }
}
