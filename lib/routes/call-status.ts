import { isFinalStatus, sdkLegsOfStatusCallback, type SdkLeg } from '../calls/legs';
import { parseRoom } from '../calls/conference';
import { apiError } from '../shared/error-catalogue';
import { json, type RouteContext, type RouteResult } from '../http/function-handler';
import { conferenceStore, finishLeg, prepareLeg, startLeg } from './leg-lifecycle';

/**
 * `/call-status`: the `<Dial>` noun's status callback. Each SDK leg is subscribed to its call
 * messages at the first callback where Twilio can accept it — so a message the SDK sends the moment
 * the call opens reaches us — and in-progress stays the guarantee: exactly one subscription per leg,
 * recorded in Sync. At the end, the legs are closed out. Callbacks may repeat or arrive in any order.
 */
export async function handleCallStatus(ctx: RouteContext): Promise<RouteResult> {
  const { event } = ctx;
  const status = event.CallStatus;
  if (typeof status !== 'string' || status === '') throw apiError('call-status-missing', 'CallStatus is required.');
  const legs = sdkLegsOfStatusCallback(event);
  if (legs.length === 0)
    throw apiError('legs-unknown', 'CallSid, ParentCallSid and the cme_* query keys /voice wrote are required.');

  let act: (leg: SdkLeg) => Promise<string>;
  if (isFinalStatus(status)) {
    const duration = event.CallDuration === undefined || event.CallDuration === '' ? NaN : Number(event.CallDuration);
    act = async (leg) => {
      await finishLeg(ctx, leg, status, Number.isFinite(duration) ? duration : undefined);
      return status;
    };
  } else if (status === 'initiated' || status === 'queued') {
    // The parent leg (the SDK's own call out) is already ringing or answered when its <Dial> starts a
    // child, so it can be subscribed now; the child (a call into the SDK) only once it rings.
    act = (leg) => (leg.role === 'parent' ? startLeg(ctx, leg, 'initiated') : prepareLeg(ctx, leg));
  } else if (status === 'ringing' || status === 'in-progress') {
    act = (leg) => startLeg(ctx, leg, status);
  } else {
    throw apiError('call-status-invalid', `CallStatus ${status.slice(0, 40)} is not a Twilio call status.`);
  }
  // A conference participant's leg still ringing when its room ended is never subscribed (1 read).
  const room = parseRoom(event.cme_conf);
  if (room && !isFinalStatus(status) && (await conferenceStore(ctx).readRoom(room.room))?.status === 'ended') {
    const outcomes = Object.fromEntries(legs.map((leg) => [leg.callSid, 'conference-ended']));
    ctx.log.info({ status, legs: outcomes });
    return json(200, { status, legs: outcomes });
  }
  // Both legs of a client → client call at once: the 10 s limit is for the whole invocation. Each
  // leg finishes its work before the answer, so a failure on one never cuts the other short.
  const settled = await Promise.allSettled(legs.map(act));
  const outcomes = Object.fromEntries(
    legs.map((leg, i) => {
      const result = settled[i];
      return [leg.callSid, result?.status === 'fulfilled' ? result.value : 'failed'];
    }),
  );
  ctx.log.info({ status, legs: outcomes });
  const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
  return json(200, { status, legs: outcomes });
}
