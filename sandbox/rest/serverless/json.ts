// Serverless v1 resources as JSON, fields as twilio_serverless_v1.json describes them (its examples
// give the `links` each one carries).
import { iso8601 } from '../../http';
import {
  PUBLIC_BASE,
  type Build,
  type Deployment,
  type Environment,
  type Log,
  type Resource,
  type ServerlessState,
  type Service,
  type Variable,
  type Version,
} from './state';

export const serviceUrl = (serviceSid: string) => `${PUBLIC_BASE}/Services/${serviceSid}`;
export const environmentUrl = (e: { serviceSid: string; environmentSid?: string; sid: string }) =>
  `${serviceUrl(e.serviceSid)}/Environments/${e.environmentSid ?? e.sid}`;
const resourcePath = (kind: Resource['kind']) => (kind === 'function' ? 'Functions' : 'Assets');

export function serviceJson(state: ServerlessState, s: Service) {
  const url = serviceUrl(s.sid);
  return {
    sid: s.sid,
    account_sid: state.accountSid,
    friendly_name: s.friendlyName,
    unique_name: s.uniqueName,
    include_credentials: s.includeCredentials,
    ui_editable: s.uiEditable,
    domain_base: s.domainBase,
    date_created: iso8601(s.created),
    date_updated: iso8601(s.updated),
    url,
    links: {
      environments: `${url}/Environments`,
      functions: `${url}/Functions`,
      assets: `${url}/Assets`,
      builds: `${url}/Builds`,
    },
  };
}

export function environmentJson(state: ServerlessState, e: Environment) {
  const url = environmentUrl(e);
  return {
    sid: e.sid,
    account_sid: state.accountSid,
    service_sid: e.serviceSid,
    build_sid: e.buildSid,
    unique_name: e.uniqueName,
    domain_suffix: e.domainSuffix,
    domain_name: e.domainName,
    date_created: iso8601(e.created),
    date_updated: iso8601(e.updated),
    url,
    links: { variables: `${url}/Variables`, deployments: `${url}/Deployments`, logs: `${url}/Logs` },
  };
}

export function variableJson(state: ServerlessState, v: Variable) {
  return {
    sid: v.sid,
    account_sid: state.accountSid,
    service_sid: v.serviceSid,
    environment_sid: v.environmentSid,
    key: v.key,
    value: v.value,
    date_created: iso8601(v.created),
    date_updated: iso8601(v.updated),
    url: `${environmentUrl({ serviceSid: v.serviceSid, sid: v.environmentSid })}/Variables/${v.sid}`,
  };
}

export function resourceJson(state: ServerlessState, r: Resource) {
  const url = `${serviceUrl(r.serviceSid)}/${resourcePath(r.kind)}/${r.sid}`;
  return {
    sid: r.sid,
    account_sid: state.accountSid,
    service_sid: r.serviceSid,
    friendly_name: r.friendlyName,
    date_created: iso8601(r.created),
    date_updated: iso8601(r.updated),
    url,
    links: { [r.kind === 'function' ? 'function_versions' : 'asset_versions']: `${url}/Versions` },
  };
}

export function versionJson(state: ServerlessState, v: Version) {
  const url = `${serviceUrl(v.serviceSid)}/${resourcePath(v.kind)}/${v.resourceSid}/Versions/${v.sid}`;
  return {
    sid: v.sid,
    account_sid: state.accountSid,
    service_sid: v.serviceSid,
    [v.kind === 'function' ? 'function_sid' : 'asset_sid']: v.resourceSid,
    path: v.path,
    visibility: v.visibility,
    date_created: iso8601(v.created),
    url,
    ...(v.kind === 'function' ? { links: { function_version_content: `${url}/Content` } } : {}),
  };
}

/**
 * A version as a Build lists it. Twilio's spec example writes its visibility in upper case
 * (`"PUBLIC"`) there and in lower case everywhere else; the sandbox follows the example.
 */
function buildVersionJson(state: ServerlessState, v: Version) {
  return {
    sid: v.sid,
    account_sid: state.accountSid,
    service_sid: v.serviceSid,
    [v.kind === 'function' ? 'function_sid' : 'asset_sid']: v.resourceSid,
    date_created: iso8601(v.created),
    path: v.path,
    visibility: v.visibility.toUpperCase(),
  };
}

export function buildJson(state: ServerlessState, b: Build, now = Date.now()) {
  const url = `${serviceUrl(b.serviceSid)}/Builds/${b.sid}`;
  const versions = (sids: string[]) =>
    sids.flatMap((sid) => {
      const v = state.versions.get(sid);
      return v ? [buildVersionJson(state, v)] : [];
    });
  const status = state.buildStatus(b, now);
  return {
    sid: b.sid,
    account_sid: state.accountSid,
    service_sid: b.serviceSid,
    status,
    asset_versions: versions(b.assetVersions),
    function_versions: versions(b.functionVersions),
    dependencies: b.dependencies,
    runtime: b.runtime,
    date_created: iso8601(b.created),
    date_updated: iso8601(status === 'building' ? b.created : b.doneAt),
    url,
    links: { build_status: `${url}/Status` },
  };
}

export function deploymentJson(state: ServerlessState, d: Deployment) {
  return {
    sid: d.sid,
    account_sid: state.accountSid,
    service_sid: d.serviceSid,
    environment_sid: d.environmentSid,
    build_sid: d.buildSid,
    date_created: iso8601(d.created),
    date_updated: iso8601(d.created),
    url: `${environmentUrl(d)}/Deployments/${d.sid}`,
  };
}

export function logJson(state: ServerlessState, l: Log) {
  return {
    sid: l.sid,
    account_sid: state.accountSid,
    service_sid: l.serviceSid,
    environment_sid: l.environmentSid,
    build_sid: l.buildSid,
    deployment_sid: l.deploymentSid,
    function_sid: l.functionSid,
    request_sid: l.requestSid,
    level: l.level,
    message: l.message,
    date_created: iso8601(l.created),
    url: `${environmentUrl(l)}/Logs/${l.sid}`,
  };
}
