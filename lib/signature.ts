import twilio from 'twilio';
import { baseUrl, rebuildSignedRequest, ROUTE_QUERY_KEYS, type RequestSite } from './callback-urls';

/**
 * Checks X-Twilio-Signature over the URL Twilio requested and the parameters it sent.
 * twilio-run never checks `.protected` locally, so the functions check for themselves; on Twilio
 * this repeats the platform's check at the cost of one HMAC.
 * The URL may be this deployment's own (`https://<DOMAIN_NAME>`, what Twilio signs for a number or
 * app wired to it) or PUBLIC_BASE_URL (a tunnel or custom domain the callbacks were built with).
 * For JSON bodies Twilio signs the URL (carrying bodySHA256) with no parameters; the body itself
 * cannot be re-hashed inside a Function, which is why message callbacks also carry a per-leg token.
 */
export function isValidTwilioSignature(
  authToken: string,
  headers: Record<string, unknown>,
  site: RequestSite,
  event: Record<string, unknown>,
): boolean {
  const signature = headers['x-twilio-signature'];
  if (typeof signature !== 'string' || signature === '') return false;
  const sites =
    site.publicBaseUrl && baseUrl(site) !== baseUrl({ domainName: site.domainName })
      ? [site, { ...site, publicBaseUrl: undefined }]
      : [site];
  return sites.some((s) => matches(authToken, signature, headers, s, event));
}

/** Whether the request carried a JSON body (Twilio's bodySHA256 scheme applies only to those). */
export function isJsonBody(headers: Record<string, unknown>): boolean {
  const contentType = headers['content-type'];
  return typeof contentType === 'string' && contentType.startsWith('application/json');
}

function matches(
  authToken: string,
  signature: string,
  headers: Record<string, unknown>,
  site: RequestSite,
  event: Record<string, unknown>,
): boolean {
  const { url, params } = rebuildSignedRequest(site, event);
  // The bodySHA256 scheme only where Twilio uses it: JSON bodies to a route that declares the key.
  const bodyHashed = typeof event.bodySHA256 === 'string' && (ROUTE_QUERY_KEYS[site.path] ?? []).includes('bodySHA256');
  if (bodyHashed) return isJsonBody(headers) && twilio.validateRequest(authToken, signature, url, {});
  if (twilio.validateRequest(authToken, signature, url, params)) return true;
  // A GET carries Twilio's parameters in the query, after ours, in the order `event` kept them.
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (typeof value === 'string') query.append(key, value);
  const rest = query.toString();
  return (
    rest !== '' && twilio.validateRequest(authToken, signature, `${url}${url.includes('?') ? '&' : '?'}${rest}`, {})
  );
}
