// .twilioserviceconfig: the project's Twilio-side wiring (numbers, TwiML App, caller ID, Sync
// service, where the functions live). Loaded and validated here; the format is in docs/WIRING.md.
import { readFileSync } from 'node:fs';
import { isE164, isIdentity } from '../../lib/shared/identifiers';

export const SERVICE_CONFIG_FILE = '.twilioserviceconfig';

export interface ServiceConfig {
  /** E.164 numbers whose voice URL should be `<base>/voice`. */
  phoneNumbers: string[];
  /** The TwiML App the Voice SDK places calls through; found by friendly name, created if absent. */
  twimlApp: { friendlyName: string };
  /** CALLER_ID: what SDK calls to the phone network show. */
  callerId: string;
  /** CLIENT_IDENTITY: who answers calls to the numbers. */
  clientIdentity: string;
  /** SYNC_SERVICE_SID: `default` or an IS… SID. */
  syncServiceSid: string;
  /** The deployed domain, e.g. `cme-1234-dev.twil.io`; if absent, found from `.twiliodeployinfo`. */
  domain?: string;
  /** A full base URL that wins over `domain` (the sandbox, a tunnel). */
  baseUrl?: string;
}

/** A config file that cannot be used; `problems` lists every field that is wrong. */
export class ServiceConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(
      `${source} is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}\n(The format is described in docs/WIRING.md.)`,
    );
    this.name = 'ServiceConfigError';
  }
}

const FIELDS = [
  'phoneNumbers',
  'twimlApp',
  'callerId',
  'clientIdentity',
  'syncServiceSid',
  'domain',
  'baseUrl',
] as const;
const TWIML_APP_FIELDS = ['friendlyName'] as const;
const SYNC_SERVICE_SID = /^IS[0-9a-f]{32}$/;
// A host name: labels of letters, digits and '-', at least one dot, no scheme, port or path.
const HOST_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/i;
const E164_EXAMPLE = 'an E.164 number like +15005550006';

const show = (value: unknown): string => {
  if (value === undefined) return 'nothing';
  const json = JSON.stringify(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
};

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Validates a parsed config object; throws ServiceConfigError naming every problem. */
export function validateServiceConfig(raw: unknown, source = SERVICE_CONFIG_FILE): ServiceConfig {
  if (!isPlainObject(raw)) throw new ServiceConfigError(source, [`the file must hold a JSON object, not ${show(raw)}`]);
  const problems: string[] = [];

  for (const key of Object.keys(raw)) {
    if (!(FIELDS as readonly string[]).includes(key))
      problems.push(`unknown field "${key}" (allowed: ${FIELDS.join(', ')})`);
  }

  const phoneNumbers: string[] = [];
  if (!Array.isArray(raw.phoneNumbers)) {
    problems.push(
      `phoneNumbers is required: an array of E.164 numbers, e.g. ["+15005550006"] (got ${show(raw.phoneNumbers)})`,
    );
  } else if (raw.phoneNumbers.length === 0) {
    problems.push('phoneNumbers must list at least one number');
  } else {
    raw.phoneNumbers.forEach((n, i) => {
      if (!isE164(n)) problems.push(`phoneNumbers[${i}] must be ${E164_EXAMPLE} (got ${show(n)})`);
      else if (phoneNumbers.includes(n)) problems.push(`phoneNumbers[${i}] repeats ${n}`);
      else phoneNumbers.push(n);
    });
  }

  let friendlyName = '';
  if (!isPlainObject(raw.twimlApp)) {
    problems.push(
      `twimlApp is required: an object like {"friendlyName": "Call Message Events"} (got ${show(raw.twimlApp)})`,
    );
  } else {
    for (const key of Object.keys(raw.twimlApp)) {
      if (!(TWIML_APP_FIELDS as readonly string[]).includes(key))
        problems.push(`unknown field "twimlApp.${key}" (allowed: ${TWIML_APP_FIELDS.join(', ')})`);
    }
    const name = raw.twimlApp.friendlyName;
    if (typeof name !== 'string' || name.trim() === '')
      problems.push(`twimlApp.friendlyName must be a non-empty string (got ${show(name)})`);
    else if (name.length > 64)
      problems.push(`twimlApp.friendlyName must be at most 64 characters (got ${name.length})`);
    else friendlyName = name;
  }

  if (!isE164(raw.callerId))
    problems.push(
      `callerId must be ${E164_EXAMPLE}: a Twilio number or verified caller ID (got ${show(raw.callerId)})`,
    );

  if (!isIdentity(raw.clientIdentity)) {
    problems.push(
      `clientIdentity must be 1-121 characters of letters, digits, '_', '.' or '-' (got ${show(raw.clientIdentity)})`,
    );
  }

  if (
    raw.syncServiceSid !== undefined &&
    !(
      raw.syncServiceSid === 'default' ||
      (typeof raw.syncServiceSid === 'string' && SYNC_SERVICE_SID.test(raw.syncServiceSid))
    )
  ) {
    problems.push(
      `syncServiceSid must be "default" or a Sync Service SID (IS followed by 32 hex digits) (got ${show(raw.syncServiceSid)})`,
    );
  }

  if (raw.domain !== undefined) {
    if (typeof raw.domain === 'string' && /^[a-z]+:\/\//i.test(raw.domain)) {
      problems.push(
        `domain must be a host name like "cme-1234-dev.twil.io", not a URL (got ${show(raw.domain)}); put full URLs in baseUrl`,
      );
    } else if (typeof raw.domain !== 'string' || !HOST_NAME.test(raw.domain)) {
      problems.push(`domain must be a host name like "cme-1234-dev.twil.io" (got ${show(raw.domain)})`);
    }
  }

  let baseUrl: string | undefined;
  if (raw.baseUrl !== undefined) {
    const problem = typeof raw.baseUrl === 'string' ? baseUrlProblem(raw.baseUrl) : 'must be a string';
    if (problem) problems.push(`baseUrl ${problem} (got ${show(raw.baseUrl)})`);
    else baseUrl = normalizeBaseUrl(raw.baseUrl as string);
  }

  if (problems.length > 0) throw new ServiceConfigError(source, problems);
  return {
    phoneNumbers,
    twimlApp: { friendlyName },
    callerId: raw.callerId as string,
    clientIdentity: raw.clientIdentity as string,
    syncServiceSid: (raw.syncServiceSid as string | undefined) ?? 'default',
    ...(raw.domain !== undefined ? { domain: (raw.domain as string).toLowerCase() } : {}),
    ...(baseUrl !== undefined ? { baseUrl } : {}),
  };
}

/** Why `value` cannot be a base URL (undefined when it can). */
export function baseUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be a full URL like "https://cme-1234-dev.twil.io"';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return 'must start with https:// (or http:// for a local server)';
  if (url.search || url.hash || value.includes('?') || value.includes('#'))
    return 'must not have a query string or fragment';
  if (url.username || url.password) return 'must not carry credentials';
  return undefined;
}

/** `https://x.twil.io/` → `https://x.twil.io` (no trailing slash; a path prefix is kept). */
export function normalizeBaseUrl(value: string): string {
  const url = new URL(value);
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

/** Reads and validates a config file. */
export function loadServiceConfig(path: string): ServiceConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ServiceConfigError(path, [
      code === 'ENOENT'
        ? 'the file does not exist (copy the committed .twilioserviceconfig and edit it)'
        : `cannot be read: ${(err as Error).message}`,
    ]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ServiceConfigError(path, [`it is not valid JSON: ${(err as Error).message}`]);
  }
  return validateServiceConfig(raw, path);
}
