import { routeVoiceCall } from '../call-legs';
import { twimlResult, type RouteContext, type RouteResult } from '../function-handler';
import { logEvent } from '../log';
import { voiceTwiml } from '../voice-twiml';

/** `/voice`: TwiML for a call to our number (→ the SDK client) or from an SDK client (→ number or client). */
export function answerVoiceCall({ event, config, base }: RouteContext): RouteResult {
  const route = routeVoiceCall(event, { inboundIdentity: config.raw.CLIENT_IDENTITY, callerId: config.raw.CALLER_ID });
  logEvent(
    '/voice',
    event,
    route.kind === 'refuse' ? { refused: route.reason } : { dial: route.kind, sdkLegs: Object.keys(route.sdkLegs) },
  );
  return twimlResult(voiceTwiml(route, base));
}
