/**
 * POST /voice — voice URL of your phone number(s) and of the TwiML App the SDK calls through.
 * Takes Twilio's voice request (From, To, CallSid, …). Returns TwiML:
 *   call to our number          → <Dial answerOnBridge><Client statusCallback=/call-status>CLIENT_IDENTITY</Client>
 *   SDK call to +E.164 / client → <Dial callerId=CALLER_ID><Number|Client statusCallback=/call-status>
 *   anything else               → <Say> + <Hangup>
 */
import { twilioFunction } from '../lib/http/function-handler';
import { answerVoiceCall } from '../lib/routes/voice';

export const handler = twilioFunction({ signed: true }, async (ctx) => answerVoiceCall(ctx));
