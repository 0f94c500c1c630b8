import { routeVoiceCall, type VoiceRoute } from '../calls/legs';
import { countryCode, dialAllowed, isDialAllowed } from '../calls/dial-allowed';
import { twimlResult, type RouteContext, type RouteResult } from '../http/function-handler';
import { voiceTwiml } from '../calls/voice-twiml';
import { customParametersOf } from '../calls/custom-parameters';

/** What a caller hears when DIAL_ALLOWED does not cover the number. */
export const DIAL_REFUSED_SAY = 'Sorry, calls to that number are not allowed.';

/** `/voice`: TwiML for a call to our number (→ the SDK client) or from an SDK client (→ number or client). */
export function answerVoiceCall({ event, config, base, log }: RouteContext): RouteResult {
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
  if (route.kind !== 'client') return twimlResult(voiceTwiml(route, base));
  // The caller's own parameters reach the callee; one over the bounds is dropped (logged), never the call.
  const { passed, dropped } = customParametersOf(event);
  if (dropped.length > 0) log.info({ droppedParameters: dropped });
  return twimlResult(voiceTwiml(route, base, passed));
}
