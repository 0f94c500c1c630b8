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
  const signedParams = typeof event.bodySHA256 === 'string' ? {} : params;
  return twilio.validateRequest(authToken, signature, url, signedParams);
}
