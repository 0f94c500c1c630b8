import { routeVoiceCall, type VoiceRoute } from '../calls/legs';
import { countryCode, dialAllowed, isDialAllowed } from '../calls/dial-allowed';
import { twimlResult, type RouteContext, type RouteResult } from '../http/function-handler';
import { conferenceTwiml, voiceTwiml } from '../calls/voice-twiml';
import { customParametersOf, type CustomParameter } from '../calls/custom-parameters';
import {
  CONFERENCE_EVENTS,
  CONFERENCE_MODE_PARAMETER,
  conferenceModeOf,
  conferencePlan,
  roomOf,
  usesConference,
} from '../calls/conference';
import { conferenceStatusUrl, participantStatusUrl } from '../calls/callback-urls';
import { isCallSid } from '../shared/identifiers';
import { twilioCode } from '../platform/errors';
import { withRetry } from '../platform/retry';

/** What a caller hears when DIAL_ALLOWED does not cover the number. */
export const DIAL_REFUSED_SAY = 'Sorry, calls to that number are not allowed.';

/** `/voice`: TwiML for a call to our number (→ the SDK client) or from an SDK client (→ number or client). */
export async function answerVoiceCall(ctx: RouteContext): Promise<RouteResult> {
  const { event, config, base, log } = ctx;
  const route = routeVoiceCall(event, {
    inboundIdentity: config.raw.CLIENT_IDENTITY,
    callerId: config.raw.CALLER_ID,
  });
  if (route.kind === 'number' && !isDialAllowed(route.number, dialAllowed(config.raw))) {
    // Logged with the caller and the country code only: enough to see who tried to dial where.
    log.info({
      refused: 'number not in DIAL_ALLOWED',
      caller: route.sdkLegs.parent,
      countryCode: countryCode(route.number),
    });
    const refusal: VoiceRoute = { kind: 'refuse', reason: 'dial-not-allowed', say: DIAL_REFUSED_SAY };
    return twimlResult(voiceTwiml(refusal, base));
  }
  log.info(
    route.kind === 'refuse' ? { refused: route.reason } : { dial: route.kind, sdkLegs: Object.keys(route.sdkLegs) },
  );
  // The caller's own parameters reach a client callee; one over the bounds is dropped (logged), never
  // the call. cmeMode is ours: consumed here, never passed on.
  const { passed: all, dropped } = customParametersOf(event);
  const passed = all.filter((p) => p.name !== CONFERENCE_MODE_PARAMETER);
  if (route.kind !== 'refuse' && usesConference(conferenceModeOf(config.raw), route, event)) {
    return twimlResult(await answerInConference(ctx, route, passed));
  }
  if (route.kind !== 'client') return twimlResult(voiceTwiml(route, base));
  if (dropped.length > 0) log.info({ droppedParameters: dropped });
  return twimlResult(voiceTwiml(route, base, passed));
}

/** What a caller hears when the other party could not be added to its room. */
export const CONFERENCE_ADD_FAILED_SAY = 'Sorry, the call could not be connected.';
/** The add is retried within this time: the caller waits in silence for /voice's answer. */
const ADD_BUDGET_MS = 5000;
/** A label in use (16026): an earlier attempt of this same add landed (labels are unique per room). */
const LABEL_IN_USE = 16026;

/**
 * Conference mode: the dialled party is added to the call's room (one Participants create, by the
 * room's name: whichever joins first creates it), and the caller joins it by TwiML. A retried add is
 * safe: the label is unique in the room, so a second one is refused (16026).
 */
async function answerInConference(
  ctx: RouteContext,
  route: Exclude<VoiceRoute, { kind: 'refuse' }>,
  parameters: CustomParameter[],
): Promise<string> {
  const { event, base, log } = ctx;
  const origin = event.CallSid;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const plan = isCallSid(origin)
    ? conferencePlan(route, roomOf(origin), str(event.To), str(event.From), parameters)
    : undefined;
  if (!plan) {
    log.info({ refused: 'conference mode needs the CallSid and a From for the added party' });
    return voiceTwiml({ kind: 'refuse', reason: 'conference-unplanned', say: CONFERENCE_ADD_FAILED_SAY }, base);
  }
  const { seat, party } = plan;
  const conferenceEvents = {
    conferenceStatusCallback: conferenceStatusUrl(base, seat.room),
    conferenceStatusCallbackEvent: [...CONFERENCE_EVENTS],
    conferenceStatusCallbackMethod: 'POST',
  };
  const ownCallbacks = party.identity
    ? {
        statusCallback: participantStatusUrl(base, party.identity, seat.room),
        statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
        statusCallbackMethod: 'POST',
      }
    : {};
  try {
    await withRetry(
      () =>
        ctx
          .client()
          .conferences(seat.room)
          .participants.create({
            from: party.from,
            to: party.to,
            label: party.label,
            beep: 'false',
            startConferenceOnEnter: true,
            endConferenceOnExit: true,
            ...ownCallbacks,
            ...conferenceEvents,
          }),
      { deadline: Math.min(ctx.deadline, Date.now() + ADD_BUDGET_MS) },
    );
  } catch (err) {
    if (twilioCode(err) !== LABEL_IN_USE) {
      log.info({ conference: seat.room, added: false, error: String(err).slice(0, 300) });
      return voiceTwiml({ kind: 'refuse', reason: 'conference-add-failed', say: CONFERENCE_ADD_FAILED_SAY }, base);
    }
  }
  log.info({ conference: seat.room, added: party.label });
  return conferenceTwiml(seat, base);
}
