// Where the deployed functions live: --base-url, else `baseUrl`, else `domain` from
// .twilioserviceconfig, else the service twilio-run last deployed (.twiliodeployinfo) looked up on
// the Serverless API.
//
// .twiliodeployinfo (written by `twilio-run deploy`) holds no domain: it is a JSON object keyed by
// `<AccountSid>:<region>` (older versions: `<AccountSid>`) whose values are exactly
// `{ "serviceSid": "ZS…", "latestBuild": "ZB…" }`. The domain belongs to the service's
// environment that runs that build (Serverless v1 Services/{ZS}/Environments, `domain_name`).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { baseUrlProblem, normalizeBaseUrl, type ServiceConfig } from './service-config';

export const DEPLOY_INFO_FILE = '.twiliodeployinfo';

export interface DeployInfo {
  serviceSid: string;
  latestBuild: string;
}

export interface DeployedEnvironment {
  uniqueName: string;
  domainName: string;
  buildSid: string | null;
}

/** Lists a Serverless service's environments (the real one calls Twilio). */
export type EnvironmentLister = (serviceSid: string) => Promise<DeployedEnvironment[]>;

export class BaseUrlError extends Error {
  override name = 'BaseUrlError';
}

/** This account's entry in `.twiliodeployinfo` (under `dir`), or undefined when there is none. */
export function readDeployInfo(dir: string, accountSid: string, region = 'us1'): DeployInfo | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, DEPLOY_INFO_FILE), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new BaseUrlError(`${DEPLOY_INFO_FILE} cannot be read: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const entries = raw as Record<string, unknown>;
  const otherRegions = Object.keys(entries).filter((k) => k.startsWith(`${accountSid}:`));
  const onlyOtherRegion = otherRegions.length === 1 ? otherRegions[0] : undefined;
  const entry =
    entries[`${accountSid}:${region}`] ??
    entries[accountSid] ??
    (onlyOtherRegion !== undefined ? entries[onlyOtherRegion] : undefined);
  if (typeof entry !== 'object' || entry === null) return undefined;
  const { serviceSid, latestBuild } = entry as Record<string, unknown>;
  if (
    typeof serviceSid !== 'string' ||
    !serviceSid.startsWith('ZS') ||
    typeof latestBuild !== 'string' ||
    !latestBuild.startsWith('ZB')
  )
    return undefined;
  return { serviceSid, latestBuild };
}

export interface BaseUrlSources {
  /** --base-url */
  override?: string | undefined;
  config: Pick<ServiceConfig, 'baseUrl' | 'domain'>;
  accountSid: string;
  /** Where `.twiliodeployinfo` is (the project root). */
  dir: string;
  listEnvironments: EnvironmentLister;
}

export interface ResolvedBaseUrl {
  baseUrl: string;
  /** Human-readable origin of the value, for the plan header. */
  from: string;
}

export async function resolveBaseUrl(s: BaseUrlSources): Promise<ResolvedBaseUrl> {
  if (s.override !== undefined) {
    const problem = baseUrlProblem(s.override);
    if (problem) throw new BaseUrlError(`--base-url ${problem} (got "${s.override}").`);
    return { baseUrl: normalizeBaseUrl(s.override), from: '--base-url' };
  }
  if (s.config.baseUrl) return { baseUrl: s.config.baseUrl, from: 'baseUrl in the service config' };
  if (s.config.domain) return { baseUrl: `https://${s.config.domain}`, from: 'domain in the service config' };

  const info = readDeployInfo(s.dir, s.accountSid);
  if (!info) {
    throw new BaseUrlError(
      `Cannot tell where the functions are deployed: no "domain" or "baseUrl" in the service config, no --base-url, ` +
        `and ${DEPLOY_INFO_FILE} has no deploy for ${s.accountSid}. Run \`npm run deploy\` first, or set "domain".`,
    );
  }
  const environments = await s.listEnvironments(info.serviceSid);
  const running = environments.filter((e) => e.buildSid === info.latestBuild);
  const chosen =
    running.length === 1 ? running[0] : running.length === 0 && environments.length === 1 ? environments[0] : undefined;
  if (!chosen) {
    const seen = environments.map((e) => `${e.uniqueName} (${e.domainName})`).join(', ') || 'none';
    throw new BaseUrlError(
      `Cannot tell which environment of service ${info.serviceSid} to wire: ${running.length} run build ${info.latestBuild}; ` +
        `environments: ${seen}. Set "domain" in the service config.`,
    );
  }
  return {
    baseUrl: `https://${chosen.domainName}`,
    from: `${DEPLOY_INFO_FILE} (service ${info.serviceSid}, environment ${chosen.uniqueName})`,
  };
}
