// Callback URLs are built deterministically (fixed keys, fixed order, URLSearchParams encoding) so
// that a function, which sees only `event` = query ∪ body, can rebuild the exact URL Twilio signed.
// Query keys start with `cme_` so they can never clash with Twilio's PascalCase parameters.
import { createHmac } from 'node:crypto';
import { isLocalDomain } from '../platform/config';
import { secretsMatch } from '../platform/secrets';
import { isCallSid, isIdentity } from '../shared/identifiers';
import { parseRoom } from './conference';

export interface RequestSite {
  /** `context.DOMAIN_NAME`: `example-1234.twil.io`, or `localhost:3000` under twilio-run. */
  domainName: string;
  /** `context.PATH`, e.g. `/voice`. */
  path: string;
  publicBaseUrl?: string | undefined;
}

/** The base every callback URL starts with. Local hosts are plain http, as twilio-run serves them. */
export function baseUrl(site: Pick<RequestSite, 'domainName' | 'publicBaseUrl'>): string {
  if (site.publicBaseUrl) return site.publicBaseUrl.replace(/\/+$/, '');
  return `${isLocalDomain(site.domainName) ? 'http' : 'https'}://${site.domainName}`;
}

/** The query keys each route's callback URL may carry, in the order they are written. */
export const ROUTE_QUERY_KEYS: Record<string, readonly string[]> = {
  // cme_conf: the conference room of a leg added to one as a participant (cme_sdk=call).
  '/call-status': ['cme_sdk', 'cme_parent', 'cme_child', 'cme_conf'],
  '/conference-status': ['cme_conf'],
  // bodySHA256 is appended by Twilio to URLs that receive JSON bodies.
  // cme_parent and cme_identity name the leg's parent and SDK identity, so forwarding a message
  // never reads the leg's state for them (URLs issued before they existed lack both).
  // cme_conf: the room of a conference participant's leg, so its messages join the room's history.
  '/message-callback': ['cme_leg', 'cme_issued', 'cme_token', 'cme_parent', 'cme_identity', 'cme_conf', 'bodySHA256'],
};

/**
 * Twilio's connection override (its docs: "Webhook connection overrides"), on every callback URL we hand out: retry up to
 * 3 times (rc) after a 5xx answer, a connect timeout or a read timeout (rp); wait at most 10 s for
 * an answer (rt: a Function is stopped at 10 s anyway), and all attempts within 15 s (tt, the
 * documented maximum). Twilio retries nothing by default but connection failures, so without it a
 * 503 (Sync briefly unavailable) would lose the message. Both routes are idempotent (Sync
 * create-if-absent, messages keyed by Sid), so a retry of a request that did succeed is harmless.
 * The fragment is never sent to us; whether Twilio signs it is undocumented, so signatures are
 * checked over the URL with and without it.
 */
export const RETRY_FRAGMENT = 'rc=3&rp=5xx,ct,rt&rt=10000&tt=15000';

/** The routes whose URLs carry RETRY_FRAGMENT (the ones Twilio calls back on its own). */
export const ROUTES_WITH_FRAGMENT: readonly string[] = ['/call-status', '/message-callback', '/conference-status'];

function withQuery(url: string, pairs: [string, string | undefined][]): string {
  const query = new URLSearchParams();
  for (const [key, value] of pairs) if (value !== undefined) query.append(key, value);
  const text = query.toString();
  return text ? `${url}?${text}` : url;
}

/** Which legs of a dialed call are Voice SDK legs, and their identities. */
export interface SdkLegs {
  parent?: string | undefined;
  child?: string | undefined;
}

export function callStatusUrl(base: string, legs: SdkLegs): string {
  const sdk = legs.parent && legs.child ? 'both' : legs.parent ? 'parent' : 'child';
  const url = withQuery(`${base}/call-status`, [
    ['cme_sdk', sdk],
    ['cme_parent', legs.parent],
    ['cme_child', legs.child],
  ]);
  return `${url}#${RETRY_FRAGMENT}`;
}

/**
 * The status callback of a Voice SDK leg added to a conference as a participant (its own call: no
 * parent, no <Dial>): `cme_sdk=call`, its identity and its room.
 */
export function participantStatusUrl(base: string, identity: string, room: string): string {
  const url = withQuery(`${base}/call-status`, [
    ['cme_sdk', 'call'],
    ['cme_child', identity],
    ['cme_conf', room],
  ]);
  return `${url}#${RETRY_FRAGMENT}`;
}

/** A room's conference status callback: `cme_conf` names the room it was issued for. */
export function conferenceStatusUrl(base: string, room: string): string {
  return `${withQuery(`${base}/conference-status`, [['cme_conf', room]])}#${RETRY_FRAGMENT}`;
}

/**
 * A per-leg token in the subscription's Callback URL, bound to the leg and to when the URL was
 * issued (`cme_issued`, Unix seconds): it authenticates message callbacks whatever their body
 * encoding, and lets a URL be refused once no call could still be using it.
 */
export function legToken(authToken: string, legSid: string, issued: string): string {
  return createHmac('sha256', authToken)
    .update(`message-callback:${legSid}:${issued}`)
    .digest('base64url')
    .slice(0, 32);
}

export function legTokenMatches(authToken: string, legSid: string, issued: unknown, token: unknown): boolean {
  if (typeof token !== 'string' || typeof issued !== 'string' || !/^\d{1,12}$/.test(issued)) return false;
  return secretsMatch(token, legToken(authToken, legSid, issued));
}

/** The query of a leg's message callback URL, keys in ROUTE_QUERY_KEYS order. */
export function messageCallbackQuery(
  authToken: string,
  legSid: string,
  issuedAt = new Date(),
): { cme_leg: string; cme_issued: string; cme_token: string } {
  const issued = String(Math.floor(issuedAt.getTime() / 1000));
  return { cme_leg: legSid, cme_issued: issued, cme_token: legToken(authToken, legSid, issued) };
}

/** Who a leg is, written into its message callback URL (the parent CallSid and the SDK identity). */
export interface LegNames {
  parentCallSid: string;
  identity: string;
  /** The conference room the leg is a participant of (lib/calls/conference.ts). */
  conference?: string | undefined;
}

/**
 * A leg's message callback URL. With `names`, the URL also carries the leg's parent and identity
 * (`cme_parent`, `cme_identity`): Twilio signs the URL with its query, and /message-callback
 * always checks that signature, so they are as trusted as the URL (the per-leg token does not
 * cover them: the signature does), and a forwarded message names them without a Sync read.
 */
export function messageCallbackUrl(
  base: string,
  authToken: string,
  legSid: string,
  issuedAt = new Date(),
  names?: LegNames,
): string {
  const query = messageCallbackQuery(authToken, legSid, issuedAt);
  const url = withQuery(`${base}/message-callback`, [
    ['cme_leg', query.cme_leg],
    ['cme_issued', query.cme_issued],
    ['cme_token', query.cme_token],
    ['cme_parent', names?.parentCallSid],
    ['cme_identity', names?.identity],
    ['cme_conf', names?.conference],
  ]);
  return `${url}#${RETRY_FRAGMENT}`;
}

/** The leg's names its callback URL carried (`cme_parent`, `cme_identity`), if it carried both, well formed. */
export function legNamesOf(event: Record<string, unknown>): LegNames | undefined {
  const { cme_parent: parentCallSid, cme_identity: identity } = event;
  if (!isCallSid(parentCallSid) || !isIdentity(identity)) return undefined;
  const conference = parseRoom(event.cme_conf)?.room;
  return { parentCallSid, identity, ...(conference ? { conference } : {}) };
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
  // fromEntries defines own properties: a `__proto__` key stays a parameter, never a prototype.
  const params: Record<string, unknown> = Object.fromEntries(
    Object.entries(event).filter(([key]) => key !== 'request' && !keys.includes(key)),
  );
  const pairs = keys.map((key): [string, string | undefined] => {
    const value = event[key];
    return [key, typeof value === 'string' ? value : undefined];
  });
  return { url: withQuery(`${baseUrl(site)}${site.path}`, pairs), params };
}
