import twilio from 'twilio';
import type { VoiceRoute } from './legs';
import { callStatusUrl } from './callback-urls';

const STATUS_EVENTS = ['initiated', 'ringing', 'answered', 'completed'] as const;

/** TwiML for a routed call: every dialed noun reports its progress to `/call-status`. */
export function voiceTwiml(route: VoiceRoute, base: string): string {
  const response = new twilio.twiml.VoiceResponse();
  if (route.kind === 'refuse') {
    response.say(route.say);
    response.hangup();
    return response.toString();
  }
  const statusCallback = {
    statusCallback: callStatusUrl(base, route.sdkLegs),
    statusCallbackEvent: [...STATUS_EVENTS],
    statusCallbackMethod: 'POST' as const,
  };
  if (route.kind === 'number') {
    response.dial({ callerId: route.callerId, answerOnBridge: true }).number(statusCallback, route.number);
  } else {
    response.dial({ answerOnBridge: true }).client(statusCallback, route.identity);
  }
  return response.toString();
}
