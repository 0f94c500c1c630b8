import { createHash } from 'node:crypto';
import twilio from 'twilio';
import {
  baseUrl,
  rebuildSignedRequest,
  RETRY_FRAGMENT,
  ROUTE_QUERY_KEYS,
  ROUTES_WITH_FRAGMENT,
  type RequestSite,
} from '../calls/callback-urls';
import { missingVariable } from '../platform/config';
import { compactJson } from '../shared/json-text';
import { secretsMatch } from '../platform/secrets';

/** The secrets a webhook may be signed with: the Auth Token, or a SharedKey's secret. */
export interface WebhookSecrets {
  authToken: string;
  /** WEBHOOK_SHARED_KEY_SECRET */
  sharedKeySecret?: string | undefined;
}

/**
 * The outcome of a signature check. `bodyVerified` says whether the signature covers what the
 * route reads: always for form bodies and GETs; for a JSON body (bodySHA256 scheme) only when the
 * body, re-serialised, hashes to the signed bodySHA256 (see jsonBodyMatchesHash).
 */
export type SignatureCheck = { valid: false } | { valid: true; bodyVerified: boolean };

/** Twilio's header on webhooks signed with a SharedKey: `key=<id>,algorithm=HMAC_SHA256`. */
const SETTINGS_HEADER = twilio.SIGNATURE_SETTINGS_HEADER.toLowerCase();

/**
 * Far more than any request Twilio signs (a 20,000-character Content is ~180 KB URL-encoded but
 * 20,000 characters decoded); past it the request is refused before hashing anything, so a big
 * body cannot make us run a dozen HMACs over megabytes.
 */
const MAX_SIGNED_CHARS = 200_000;

/**
 * Checks X-Twilio-Signature over the URL Twilio requested and the parameters it sent.
 * twilio-run never checks `.protected` locally, so the functions check for themselves; on Twilio
 * this repeats the platform's check at the cost of a few HMACs.
 * - Key: with X-Twilio-Webhooks-Signature-Settings, the SharedKey secret and the header's
 *   algorithm (HMAC-SHA256); without it, the Auth Token and HMAC-SHA1. The header without a
 *   configured secret is a deployment problem: 500 configuration-missing.
 * - URL: this deployment's own (`https://<DOMAIN_NAME>`, what Twilio signs for a number or app
 *   wired to it) or PUBLIC_BASE_URL (a tunnel or custom domain the callbacks were built with);
 *   for routes whose URLs carry RETRY_FRAGMENT, with or without it (whether Twilio signs the
 *   fragment is undocumented).
 * - JSON bodies: Twilio signs the URL (carrying bodySHA256) with no parameters.
 */
export function checkTwilioSignature(
  secrets: WebhookSecrets,
  headers: Record<string, unknown>,
  site: RequestSite,
  event: Record<string, unknown>,
): SignatureCheck {
  const signature = headers['x-twilio-signature'];
  if (typeof signature !== 'string' || signature === '') return { valid: false };
  const key = signingKey(secrets, headers);
  if (!key) return { valid: false };
  // A JSON body (bodySHA256) is not among the signed parameters; any other body is, as strings.
  if (!isBodyHashed(site, event) && !signable(rebuildSignedRequest(site, event).params)) return { valid: false };
  const sites =
    site.publicBaseUrl && baseUrl(site) !== baseUrl({ domainName: site.domainName })
      ? [site, { ...site, publicBaseUrl: undefined }]
      : [site];
  const fragments = ROUTES_WITH_FRAGMENT.includes(site.path) ? ['', `#${RETRY_FRAGMENT}`] : [''];
  const valid = sites.some((s) => fragments.some((fragment) => matches(key, signature, headers, s, event, fragment)));
  if (!valid) return { valid: false };
  return { valid: true, bodyVerified: !isBodyHashed(site, event) || jsonBodyMatchesHash(site, event) };
}

/** Whether the request carries a valid signature (see checkTwilioSignature). */
export function isValidTwilioSignature(
  secrets: WebhookSecrets,
  headers: Record<string, unknown>,
  site: RequestSite,
  event: Record<string, unknown>,
): boolean {
  return checkTwilioSignature(secrets, headers, site, event).valid;
}

/** Whether the request carried a JSON body (Twilio's bodySHA256 scheme applies only to those). */
export function isJsonBody(headers: Record<string, unknown>): boolean {
  const contentType = headers['content-type'];
  return typeof contentType === 'string' && contentType.startsWith('application/json');
}

/** The secret and algorithm that must have signed this request; undefined when none can have. */
function signingKey(
  secrets: WebhookSecrets,
  headers: Record<string, unknown>,
): { secret: string; algorithm: string } | undefined {
  const settings = headers[SETTINGS_HEADER];
  if (settings === undefined || settings === '') return { secret: secrets.authToken, algorithm: twilio.HMAC_SHA1 };
  if (typeof settings !== 'string') return undefined;
  if (!secrets.sharedKeySecret) {
    throw missingVariable(
      'WEBHOOK_SHARED_KEY_SECRET',
      `Twilio signed this webhook with a SharedKey (${twilio.SIGNATURE_SETTINGS_HEADER}); set the key's secret`,
    );
  }
  const algorithm = twilio.getSignatureAlgorithm(settings).toUpperCase();
  // Only what twilio-node can compute (it would log a warning for anything else).
  if (algorithm !== twilio.HMAC_SHA256 && algorithm !== twilio.HMAC_SHA1) return undefined;
  return { secret: secrets.sharedKeySecret, algorithm };
}

/**
 * Twilio signs form parameters: strings (or a repeated key's strings). Anything else came from a
 * JSON body or bracketed keys and cannot match; refusing it up front also keeps twilio-node from
 * stringifying attacker-shaped values (String() of a deeply nested array recurses).
 */
function signable(params: Record<string, unknown>): boolean {
  let size = 0;
  for (const [key, value] of Object.entries(params)) {
    size += key.length;
    if (typeof value === 'string') size += value.length;
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
      for (const v of value) size += v.length;
    } else return false;
    if (size > MAX_SIGNED_CHARS) return false;
  }
  return true;
}

/** The bodySHA256 scheme only where Twilio uses it: JSON bodies to a route that declares the key. */
function isBodyHashed(site: RequestSite, event: Record<string, unknown>): boolean {
  return typeof event.bodySHA256 === 'string' && (ROUTE_QUERY_KEYS[site.path] ?? []).includes('bodySHA256');
}

function matches(
  key: { secret: string; algorithm: string },
  signature: string,
  headers: Record<string, unknown>,
  site: RequestSite,
  event: Record<string, unknown>,
  fragment: string,
): boolean {
  const validate = (url: string, params: Record<string, unknown>) =>
    twilio.validateRequest(key.secret, signature, url + fragment, params, key.algorithm);
  if (isBodyHashed(site, event)) {
    // The JSON body is not among the signed parameters: only the URL (carrying its hash) is.
    return isJsonBody(headers) && validate(rebuildSignedRequest(site, event).url, {});
  }
  const { url, params } = rebuildSignedRequest(site, event);
  if (validate(url, params)) return true;
  // A GET carries Twilio's parameters in the query, after ours, in the order `event` kept them.
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (typeof value === 'string') query.append(name, value);
  const rest = query.toString();
  return rest !== '' && validate(`${url}${url.includes('?') ? '&' : '?'}${rest}`, {});
}

/**
 * A Function never sees its raw body, so the bodySHA256 of a JSON body is checked against the
 * parsed body written back compactly, in the order its keys arrived (twilio-run keeps it). That
 * reproduces the raw bytes exactly when Twilio sends compact JSON that JavaScript would write the
 * same way; any other spacing or escaping fails to match (and the callback is then only as
 * trusted as its URL and per-leg token). Keys before the body's are the URL's own query keys.
 */
export function jsonBodyMatchesHash(site: RequestSite, event: Record<string, unknown>): boolean {
  const expected = event.bodySHA256;
  if (typeof expected !== 'string' || !/^[0-9a-f]{64}$/i.test(expected)) return false;
  const { params } = rebuildSignedRequest(site, event);
  const actual = createHash('sha256').update(compactJson(params), 'utf8').digest('hex');
  return secretsMatch(actual, expected.toLowerCase());
}
