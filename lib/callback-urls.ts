// Callback URLs are built deterministically (fixed keys, fixed order, URLSearchParams encoding) so
// that a function, which sees only `event` = query ∪ body, can rebuild the exact URL Twilio signed.
// Query keys start with `cme_` so they can never clash with Twilio's PascalCase parameters.
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface RequestSite {
  /** `context.DOMAIN_NAME`: `example-1234.twil.io`, or `localhost:3000` under twilio-run. */
  domainName: string;
  /** `context.PATH`, e.g. `/voice`. */
  path: string;
  publicBaseUrl?: string;
}

/** twilio-run serves `localhost:<port>`; a deployed Function's DOMAIN_NAME is its twil.io host. */
export const isLocalDomain = (domainName: string | undefined) =>
  /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(domainName ?? '');

/** The base every callback URL starts with. Local hosts are plain http, as twilio-run serves them. */
export function baseUrl(site: Pick<RequestSite, 'domainName' | 'publicBaseUrl'>): string {
  if (site.publicBaseUrl) return site.publicBaseUrl.replace(/\/+$/, '');
  return `${isLocalDomain(site.domainName) ? 'http' : 'https'}://${site.domainName}`;
}

/** The query keys each route's callback URL may carry, in the order they are written. */
export const ROUTE_QUERY_KEYS: Record<string, readonly string[]> = {
  '/call-status': ['cme_sdk', 'cme_parent', 'cme_child'],
  // bodySHA256 is appended by Twilio to URLs that receive JSON bodies.
  '/message-callback': ['cme_leg', 'cme_token', 'bodySHA256'],
};

function withQuery(url: string, pairs: [string, string | undefined][]): string {
  const query = new URLSearchParams();
  for (const [key, value] of pairs) if (value !== undefined) query.append(key, value);
  const text = query.toString();
  return text ? `${url}?${text}` : url;
}

/** Which legs of a dialed call are Voice SDK legs, and their identities. */
export interface SdkLegs {
  parent?: string;
  child?: string;
}

export function callStatusUrl(base: string, legs: SdkLegs): string {
  const sdk = legs.parent && legs.child ? 'both' : legs.parent ? 'parent' : 'child';
  return withQuery(`${base}/call-status`, [
    ['cme_sdk', sdk],
    ['cme_parent', legs.parent],
    ['cme_child', legs.child],
  ]);
}

/**
 * A per-leg token in the subscription's Callback URL: it authenticates message callbacks whatever
 * their body encoding (a Function cannot re-hash a JSON body for the bodySHA256 scheme).
 */
export function legToken(authToken: string, legSid: string): string {
  return createHmac('sha256', authToken).update(`message-callback:${legSid}`).digest('base64url').slice(0, 32);
}

export function legTokenMatches(authToken: string, legSid: string, token: unknown): boolean {
  if (typeof token !== 'string') return false;
  const expected = Buffer.from(legToken(authToken, legSid));
  const given = Buffer.from(token);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export function messageCallbackUrl(base: string, authToken: string, legSid: string): string {
  return withQuery(`${base}/message-callback`, [
    ['cme_leg', legSid],
    ['cme_token', legToken(authToken, legSid)],
  ]);
}

/**
 * Splits `event` into the URL Twilio requested (rebuilt from the route's known query keys) and the
 * body parameters it signed.
 */
export function rebuildSignedRequest(
  site: RequestSite,
  event: Record<string, unknown>,
): { url: string; params: Record<string, unknown> } {
  const keys = ROUTE_QUERY_KEYS[site.path] ?? [];
  const params: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    if (key !== 'request' && !keys.includes(key)) params[key] = value;
  }
  const pairs = keys.map((key): [string, string | undefined] => {
    const value = event[key];
    return [key, typeof value === 'string' ? value : undefined];
  });
  return { url: withQuery(`${baseUrl(site)}${site.path}`, pairs), params };
}
