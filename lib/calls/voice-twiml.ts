import twilio from 'twilio';
import type { VoiceRoute } from './legs';
import { callStatusUrl, conferenceStatusUrl } from './callback-urls';
import { CONFERENCE_EVENTS, type CallerSeat } from './conference';
import type { CustomParameter } from './custom-parameters';

const STATUS_EVENTS = ['initiated', 'ringing', 'answered', 'completed'] as const;

/**
 * TwiML for a routed call: every dialed noun reports its progress to `/call-status`. A called client
 * receives `parameters` as <Parameter> nouns (its SDK's `customParameters`), which need the identity
 * in an <Identity> noun beside them; a <Number> has no parameters.
 */
export function voiceTwiml(route: VoiceRoute, base: string, parameters: readonly CustomParameter[] = []): string {
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
    const dial = response.dial({ answerOnBridge: true });
    if (parameters.length === 0) {
      dial.client(statusCallback, route.identity);
    } else {
      const client = dial.client(statusCallback);
      client.identity(route.identity);
      for (const { name, value } of parameters) client.parameter({ name, value });
    }
  }
  return response.toString();
}

/**
 * The caller's TwiML in conference mode: it joins its room, which reports every event to
 * `/conference-status` (the first participant to join sets these; the added party carries the same).
 */
export function conferenceTwiml(seat: CallerSeat, base: string): string {
  const response = new twilio.twiml.VoiceResponse();
  response.dial().conference(
    {
      participantLabel: seat.label,
      startConferenceOnEnter: true,
      endConferenceOnExit: true,
      beep: 'false',
      statusCallback: conferenceStatusUrl(base, seat.room),
      statusCallbackEvent: [...CONFERENCE_EVENTS],
      statusCallbackMethod: 'POST',
    },
    seat.room,
  );
  return response.toString();
}
