import { routeVoiceCall, type VoiceRoute } from '../calls/legs';
import { countryCode, dialAllowed, isDialAllowed } from '../calls/dial-allowed';
import { twimlResult, type RouteContext, type RouteResult } from '../http/function-handler';
import { conferenceTwiml, voiceTwiml } from '../calls/voice-twiml';
import { customParametersOf, type CustomParameter } from '../calls/custom-parameters';
import {
  CONFERENCE_MODE_PARAMETER,
  conferenceModeOf,
  conferencePlan,
  roomOf,
  usesConference,
} from '../calls/conference';
import { addToRoom, LABEL_IN_USE } from '../calls/conference-control';
import { conferenceLeg } from '../calls/legs';
import { startLeg } from './leg-lifecycle';
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

/**
 * Conference mode: the dialled party is added to the call's room (one Participants create, by the
 * room's name: whichever joins first creates it), and the caller joins it by TwiML; an SDK caller's
 * leg is subscribed alongside. A retried add is safe: the label is unique in the room, so a second
 * one is refused (16026).
 */
async function answerInConference(
  ctx: RouteContext,
  route: Exclude<VoiceRoute, { kind: 'refuse' }>,
  parameters: CustomParameter[],
): Promise<string> {
  const { event, base, log } = ctx;
  const origin = event.CallSid;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const plan = isCallSid(origin) && conferencePlan(route, roomOf(origin), str(event.To), str(event.From), parameters);
  if (!plan || !isCallSid(origin)) {
    log.info({ refused: 'conference mode needs the CallSid and a From for the added party' });
    return voiceTwiml({ kind: 'refuse', reason: 'conference-unplanned', say: CONFERENCE_ADD_FAILED_SAY }, base);
  }
  const { seat, party } = plan;
  // An SDK caller's own leg rings while /voice runs: subscribed now, so a message it sends the moment
  // the room opens is not lost (a refusal is recorded; its participant-join then subscribes it).
  const caller = route.sdkLegs.parent;
  const callerLeg = caller && conferenceLeg({ room: seat.room, originCallSid: origin }, origin, caller);
  const subscribing = callerLeg
    ? startLeg(ctx, callerLeg, 'ringing', { early: true }).catch(
        (err: unknown) => `failed: ${String(err).slice(0, 200)}`,
      )
    : Promise.resolve(undefined);
  const adding = withRetry(() => addToRoom(ctx, seat.room, seat.room, party), {
    deadline: Math.min(ctx.deadline, Date.now() + ADD_BUDGET_MS),
  }).then(
    () => undefined,
    (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
  );
  const [failed, subscribed] = await Promise.all([adding, subscribing]);
  if (subscribed !== undefined) log.info({ conference: seat.room, callerLeg: subscribed });
  if (failed && twilioCode(failed) !== LABEL_IN_USE) {
    log.info({ conference: seat.room, added: false, error: failed.message.slice(0, 300) });
    return voiceTwiml({ kind: 'refuse', reason: 'conference-add-failed', say: CONFERENCE_ADD_FAILED_SAY }, base);
  }
  log.info({ conference: seat.room, added: party.label });
  return conferenceTwiml(seat, base);
}
