/**
 * POST|GET /message-callback?cme_leg=CA…&cme_token=… — the Callback of each leg's message subscription.
 * Takes Twilio's ContentType, Content (a JSON string), SequenceNumber, CallSid, Timestamp, AccountSid,
 * Sid (KX…), form, JSON or query encoded. Stores the message once; returns 200 {sid, outcome}.
 */
import { twilioFunction } from '../lib/http/function-handler';
import { receiveCallMessage } from '../lib/routes/message-callback';

export const handler = twilioFunction({ signed: true }, receiveCallMessage);
