import { isFinalStatus, sdkLegsOfStatusCallback, type SdkLeg } from '../call-legs';
import { messageCallbackUrl } from '../callback-urls';
import { badRequest, twilioCode } from '../errors';
import { json, type RouteContext, type RouteResult } from '../function-handler';
import { logEvent } from '../log';
import { withRetry } from '../retry';

// Twilio refuses a subscription on a call that is no longer active (the end overtook us): not an error.
const CALL_GONE = new Set([20404, 21220, 31211]);

/**
 * `/call-status`: the `<Dial>` noun's status callback. At in-progress, subscribe each SDK leg to its
 * call messages (once: Sync's create-if-absent plus the subscription's IdempotencyKey); at the end,
 * close the legs out. Callbacks may repeat or arrive out of order.
 */
export async function handleCallStatus(ctx: RouteContext): Promise<RouteResult> {
  const { event } = ctx;
  const status = event.CallStatus;
  if (typeof status !== 'string' || status === '') throw badRequest('call-status-missing', 'CallStatus is required.');
  const legs = sdkLegsOfStatusCallback(event);
  if (legs.length === 0)
    throw badRequest('legs-unknown', 'CallSid, ParentCallSid and the cme_* query keys /voice wrote are required.');

  let act: (leg: SdkLeg) => Promise<string>;
  if (status === 'in-progress') {
    act = (leg) => startLeg(ctx, leg);
  } else if (isFinalStatus(status)) {
    const duration = event.CallDuration === undefined || event.CallDuration === '' ? NaN : Number(event.CallDuration);
    act = async (leg) => {
      await ctx.store().markFinished(leg, status, new Date(), Number.isFinite(duration) ? duration : undefined);
      return status;
    };
  } else if (status === 'initiated' || status === 'queued') {
    // Creating the Maps now keeps the in-progress callback (the one the SDK waits on) at one write;
    // if this callback is late or lost, in-progress creates the Map itself.
    act = async (leg) => {
      await ctx.store().ensureLegMap(leg.callSid);
      return status;
    };
  } else if (status === 'ringing') {
    act = async () => status; // nothing to record: the Map exists since initiated
  } else {
    throw badRequest('call-status-invalid', `CallStatus ${status.slice(0, 40)} is not a Twilio call status.`);
  }
  // Both legs of a client → client call at once: the 10 s limit is for the whole invocation. Each
  // leg finishes its work before the answer, so a failure on one never cuts the other short.
  const settled = await Promise.allSettled(legs.map(act));
  const outcomes = Object.fromEntries(
    legs.map((leg, i) => [leg.callSid, settled[i].status === 'fulfilled' ? settled[i].value : 'failed']),
  );
  const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) {
    logEvent('/call-status', event, { status, legs: outcomes });
    throw failure.reason;
  }
  logEvent('/call-status', event, { status, legs: outcomes });
  return json(200, { status, legs: outcomes });
}

/**
 * Records the leg in progress and subscribes it at the same time: until the subscription exists the
 * SDK's messages reach nobody, so it does not wait for Sync. If the leg had already ended (its final
 * callback overtook this one) its state stays final, and Twilio refuses the subscription on the
 * finished call (answered here as 'call-gone').
 */
async function startLeg(ctx: RouteContext, leg: SdkLeg): Promise<string> {
  const [state, subscription] = await Promise.allSettled([
    ctx.store().markInProgress(leg, new Date()),
    subscribe(ctx, leg),
  ]);
  if (state.status === 'rejected') throw state.reason;
  if (subscription.status === 'rejected') throw subscription.reason;
  return state.value === 'ended' ? 'ended-before-start' : subscription.value;
}

async function subscribe(ctx: RouteContext, leg: SdkLeg): Promise<string> {
  try {
    // Repeated in-progress callbacks reuse the key, so Twilio keeps exactly one subscription.
    await withRetry(
      () =>
        ctx
          .client()
          .calls(leg.callSid)
          .userDefinedMessageSubscriptions.create({
            callback: messageCallbackUrl(ctx.base, ctx.config.authToken, leg.callSid),
            idempotencyKey: `cme-subscribe-${leg.callSid}`,
            method: 'POST',
          }),
      { deadline: ctx.deadline },
    );
    return 'subscribed';
  } catch (err) {
    if (CALL_GONE.has(twilioCode(err) ?? 0)) return 'call-gone';
    throw err;
  }
}
