import twilio from 'twilio';
import { rebuildSignedRequest, type RequestSite } from './callback-urls';

/**
 * Checks X-Twilio-Signature over the URL Twilio requested and the parameters it sent.
 * twilio-run never checks `.protected` locally, so the functions check for themselves; on Twilio
 * this repeats the platform's check at the cost of one HMAC.
 * For JSON bodies Twilio signs the URL (carrying bodySHA256) with no parameters; the body itself
 * cannot be re-hashed inside a Function, which is why message callbacks also carry a per-leg token.
 */
export function isValidTwilioSignature(
  authToken: string,
  signature: unknown,
  site: RequestSite,
  event: Record<string, unknown>,
): boolean {
  if (typeof signature !== 'string' || signature === '') return false;
  const { url, params } = rebuildSignedRequest(site, event);
  if (typeof event.bodySHA256 === 'string') return twilio.validateRequest(authToken, signature, url, {});
  if (twilio.validateRequest(authToken, signature, url, params)) return true;
  // A GET carries Twilio's parameters in the query, after ours, in the order `event` kept them.
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (typeof value === 'string') query.append(key, value);
  const rest = query.toString();
  return rest !== '' && twilio.validateRequest(authToken, signature, `${url}${url.includes('?') ? '&' : '?'}${rest}`, {});
}
