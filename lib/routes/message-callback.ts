import { legTokenMatches } from '../callback-urls';
import { badRequest, HttpError } from '../errors';
import { json, type RouteContext, type RouteResult } from '../function-handler';
import { isCallSid, isMessageSid } from '../identifiers';
import { logEvent } from '../log';
import { callbackContent } from '../message-content';
import { isJsonBody } from '../signature';

/**
 * `/message-callback`: a message the SDK sent, delivered by the leg's subscription. Stored exactly
 * once (its Sid is the Sync key); a repeat is a 200 no-op. JSON, form and query all work.
 */
export async function receiveCallMessage({ event, config, store, headers }: RouteContext): Promise<RouteResult> {
  const leg = event.cme_leg;
  if (!isCallSid(leg) || !legTokenMatches(config.authToken, leg, event.cme_token)) {
    throw new HttpError(403, 'callback-token-invalid', 'This callback URL was not issued for this call.');
  }
  if (event.CallSid !== leg)
    throw new HttpError(403, 'callback-token-invalid', 'CallSid does not match the callback URL.');
  if (event.AccountSid !== config.accountSid)
    throw new HttpError(403, 'account-mismatch', 'AccountSid is not this account.');
  if (!isMessageSid(event.Sid))
    throw badRequest('sid-invalid', 'Sid must be a message SID: KX followed by 32 hex digits.');
  const sequence = Number(event.SequenceNumber);
  if (event.SequenceNumber === '' || !Number.isInteger(sequence) || sequence < 0 || sequence > 9_999_999_999) {
    throw badRequest('sequence-invalid', 'SequenceNumber must be a whole number from 0.');
  }
  const contentType =
    typeof event.ContentType === 'string' && event.ContentType ? event.ContentType : 'application/json';
  if (contentType !== 'application/json')
    throw badRequest('content-type-invalid', 'ContentType must be application/json.');
  const content = callbackContent(event.Content, isJsonBody(headers));
  const twilioTime = typeof event.Timestamp === 'string' ? Date.parse(event.Timestamp) : NaN;

  const outcome = await store().saveMessage({
    sid: event.Sid,
    callSid: leg,
    direction: 'from-sdk',
    sequence,
    contentType,
    content,
    timestamp: new Date(Number.isNaN(twilioTime) ? Date.now() : twilioTime).toISOString(),
  });
  logEvent('/message-callback', event, { messageSid: event.Sid, sequence, outcome });
  return json(200, { sid: event.Sid, outcome });
}
