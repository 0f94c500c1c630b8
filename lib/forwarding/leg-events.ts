// call.started / call.ended for each SDK leg, forwarded to the app's backend (APP_WEBHOOK_URL).
// Apart from lib/forwarding/messages.ts (messages and replies) so /call-status bundles neither the
// send operation (lib/messages/send.ts) nor the schema validator.
import { isFinalStatus, type SdkLeg } from '../calls/legs';
import {
  deliver,
  deliveryTimeout,
  forwardingSettings,
  legEventBody,
  legEventKey,
  type Delivery,
  type ForwardingSettings,
  type LegEvent,
} from './webhook';
import type { Config } from '../platform/config';
import type { Log } from '../platform/log';
import type { CallStore } from '../store/call-store';

/** What forwarding needs from its invocation (a route's context has all of it). */
export interface ForwardingDeps {
  config: Pick<Config, 'raw'>;
  /** Deliveries end by then (ms since epoch): the invocation's deadline. */
  deadline: number;
  store: () => CallStore;
  log: Log;
}

/** The forwarding settings when forwarding is on (throws 500 configuration-invalid when half set). */
export const forwardingOf = (ctx: Pick<ForwardingDeps, 'config'>) => forwardingSettings(ctx.config);

/**
 * Forwards `call.started` / `call.ended` for one SDK leg. Not retried by Twilio (a status callback
 * must not fail for the app's backend): a failed delivery is logged, and the Idempotency-Key
 * (`<CallSid>:<event>`) lets the app drop a repeat.
 */
export async function forwardLegEvent(
  ctx: ForwardingDeps,
  settings: ForwardingSettings,
  leg: SdkLeg,
  type: LegEvent['type'],
  status: string,
  durationSeconds?: number,
): Promise<Delivery> {
  const event: LegEvent = {
    type,
    callSid: leg.callSid,
    parentCallSid: leg.parentCallSid,
    identity: leg.identity,
    role: leg.role,
    status,
    timestamp: new Date().toISOString(),
    ...(durationSeconds !== undefined ? { durationSeconds } : {}),
  };
  const delivery = await deliver(settings, legEventBody(event), legEventKey(event), deliveryTimeout(ctx.deadline, 0));
  logDelivery(ctx.log.forCall(leg.callSid), type, legEventKey(event), delivery);
  return delivery;
}

/** Forwards `call.started` for a leg whose subscription was just recorded (exactly one invocation does that). */
export async function forwardLegStarted(ctx: ForwardingDeps, leg: SdkLeg, status: string): Promise<void> {
  const settings = forwardingOf(ctx);
  if (settings) await forwardLegEvent(ctx, settings, leg, 'call.started', status);
}

/**
 * Records a leg's end with `finish`, and forwards `call.ended` unless the leg had ended already (a
 * repeated final status callback): one Sync read more, only while forwarding is on.
 */
export async function finishLegAndForward(
  ctx: ForwardingDeps,
  leg: SdkLeg,
  status: string,
  durationSeconds: number | undefined,
  finish: () => Promise<void>,
): Promise<void> {
  const settings = forwardingOf(ctx);
  if (!settings) return finish();
  const before = await ctx.store().readState(leg.callSid);
  await finish();
  if (before && isFinalStatus(before.status)) return;
  await forwardLegEvent(ctx, settings, leg, 'call.ended', status, durationSeconds);
}

/** One log line per delivery: identifiers and outcome only, never the content. */
export function logDelivery(log: Log, type: string, key: string, delivery: Delivery): void {
  log.info({
    event: type,
    key,
    forwarded: delivery.ok,
    backendStatus: delivery.status,
    failure: delivery.failure,
    ms: delivery.ms,
  });
}
