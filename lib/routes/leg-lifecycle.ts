// What happens to a Voice SDK leg over its life, whichever callback reports it: subscribed once at
// the first chance Twilio allows (a <Dial> noun's status callback, or a conference participant's
// join), and closed out at its end. /call-status and /conference-status both act through here.
import type { StoredSubscription } from '../store/records';
import { isFinalStatus, statusRank, type FinalStatus, type SdkLeg } from '../calls/legs';
import { isAbandonedClaim } from '../store/call-store';
import { messageCallbackUrl } from '../calls/callback-urls';
import { apiError } from '../shared/error-catalogue';
import { isTwilioRestError, twilioCode } from '../platform/errors';
import type { RouteContext } from '../http/function-handler';
import { CALL_LAG_WAIT_MS, REQUEST_TIMEOUT_MS, withRetry } from '../platform/retry';
import { finishLegAndForward, forwardLegStarted } from '../forwarding/leg-events';

// Twilio refuses a subscription on a call that is not active (not ringing yet, or already over).
const CALL_NOT_ACTIVE = new Set([20404, 21220, 31211]);
/** How long a callback keeps looking at another invocation's subscription under way (a subscribe is 3 requests). */
const IN_FLIGHT_WAIT_MS = 3000;

type StartStatus = 'initiated' | 'ringing' | 'in-progress';

/** A conference's Map, with the invocation's deadline (lib/store/conference-store.ts). */
export const conferenceStore = (ctx: Pick<RouteContext, 'store'>) => ctx.store().conferences();

/**
 * Closes out a leg at its final status: its state final (and kept SYNC_TTL_SECONDS), out of its
 * identity's Map and the console's index, and with APP_WEBHOOK_URL set, call.ended to the backend.
 */
export async function finishLeg(ctx: RouteContext, leg: SdkLeg, status: FinalStatus, seconds?: number): Promise<void> {
  await finishLegAndForward(ctx, leg, status, seconds, async () => {
    const store = ctx.store();
    // The leg leaves its identity's Map: a later send by identity never finds it (best effort: a
    // send reads each leg's state too, and takes an ended one out).
    const leaving = store.removeIdentityLeg(leg.identity, leg.callSid).catch((err: unknown) => {
      ctx.log.forCall(leg.callSid).info({ identityLegRemoved: false, error: String(err) });
    });
    // And the console's index: an open console sees the end as an event (best effort: a console
    // still shows the leg's state, and the item's TTL ends it).
    const unindexed = store.unindexLeg(leg.callSid).catch((err: unknown) => {
      ctx.log.forCall(leg.callSid).info({ consoleIndexRemoved: false, error: String(err) });
    });
    await Promise.all([store.markFinished(leg, status, new Date(), seconds), leaving, unindexed]);
  });
}

/** Creates the leg's Map early, so the callback the SDK waits on (ringing) writes one item. */
export async function prepareLeg(ctx: RouteContext, leg: SdkLeg): Promise<string> {
  await ctx.store().ensureLegMap(leg.callSid);
  return 'prepared';
}

/**
 * Subscribes the leg unless Sync shows it is done or under way: only the invocation that wins the
 * claim subscribes, whatever Twilio does with a reused IdempotencyKey. A refusal before in-progress
 * (the leg not ringing yet, or refused while it rings: 31211) is recorded so a later callback tries
 * again — one waiting on that claim included; a refusal at in-progress that lasts past the Calls
 * API's lag (`subscribe`) means the call is over.
 */
export async function startLeg(
  ctx: RouteContext,
  leg: SdkLeg,
  status: StartStatus,
  /** early: one attempt, no waiting out the Calls API's lag (/voice: its caller waits for the TwiML). */
  options: { early?: boolean } = {},
): Promise<string> {
  const store = ctx.store();
  let claim = await store.claimSubscription(leg, status, new Date());
  // At most twice: a claim taken over from a refused one may lose its race to a copy of this callback.
  for (let round = 0; round < 2 && claim.action === 'none' && claim.reason === 'in-flight'; round++) {
    // Another copy of a callback is subscribing the leg: answer once it has, so an answered early
    // callback means a subscribed leg (a message sent after it is not dropped).
    const until = Math.min(Date.now() + IN_FLIGHT_WAIT_MS + REQUEST_TIMEOUT_MS, ctx.deadline);
    const state = await store.awaitSubscription(leg.callSid, until);
    // The leg ended while this callback waited: nothing left to subscribe.
    if (state && isFinalStatus(state.status)) return 'ended-before-start';
    const record = state?.subscription;
    if (record?.status === 'subscribed') return 'subscribed';
    // Refused to this status or a later one: another copy already saw what this one would.
    if (record?.status === 'refused' && statusRank(record.by) >= statusRank(status))
      return status === LAST_CHANCE ? 'call-gone' : 'not-yet-subscribable';
    // Twilio refused it to an earlier status (a leg that rang: 31211), or its claimant gave up or
    // was stopped: this callback takes over, for no later callback may come (in-progress is the last).
    const overtaken =
      record?.status === 'failed' ||
      record?.status === 'refused' ||
      (record !== undefined && isAbandonedClaim(record, new Date()));
    if (!overtaken || round > 0) return inFlight(leg, status);
    claim = await store.claimSubscription(leg, status, new Date());
  }
  if (claim.action === 'none' && claim.reason === 'in-flight') return inFlight(leg, status);
  if (claim.action === 'none' && claim.reason === 'subscribed') {
    // A copy of a callback whose first delivery may have failed after subscribing, before its note.
    await noteInRoom(ctx, leg);
    return 'subscribed';
  }
  if (claim.action === 'none') return claim.reason === 'ended' ? 'ended-before-start' : claim.reason;
  const carried = claim.claimed.carriedKey;
  const key = claim.claimed.state.subscription?.key ?? `cme-subscribe-${leg.callSid}-${claim.claimed.revision}`;
  const record = (outcome: StoredSubscription['status'], sid?: string) =>
    store.recordSubscription(leg, claim.claimed, {
      status: outcome,
      at: new Date().toISOString(),
      by: status,
      ...(sid ? { sid } : {}),
      ...(outcome === 'failed' ? { key } : {}),
    });
  // The leg joins its identity's Map as it is claimed, alongside the subscription (best effort: a
  // send by identity that finds nothing there asks the Calls API, as before).
  const joining = Promise.all([
    store.addIdentityLeg(leg, new Date()).catch((err: unknown) => {
      ctx.log.forCall(leg.callSid).info({ identityLegAdded: false, error: String(err) });
    }),
    // And the console's index: an open console sees the new call as an event (best effort).
    store.indexLeg(leg, new Date()).catch((err: unknown) => {
      ctx.log.forCall(leg.callSid).info({ consoleIndexAdded: false, error: String(err) });
    }),
  ]);
  let sid: string;
  try {
    [sid] = await Promise.all([subscribe(ctx, leg, key, status, options.early === true), joining]);
  } catch (err) {
    if (carried && isTwilioRestError(err) && err.status === 409) {
      // The failed attempt's key, refused as reused: that attempt did make the subscription.
      await record('subscribed');
      await Promise.all([forwardLegStarted(ctx, leg, status), noteInRoom(ctx, leg)]);
      return 'subscribed';
    }
    if (CALL_NOT_ACTIVE.has(twilioCode(err) ?? 0)) {
      await record('refused');
      return status === 'in-progress' ? 'call-gone' : 'not-yet-subscribable';
    }
    // Let the next callback (or Twilio's redelivery of this one) take over, then answer 5xx.
    await record('failed').catch(() => undefined);
    throw err;
  }
  await record('subscribed', sid);
  await Promise.all([forwardLegStarted(ctx, leg, status), noteInRoom(ctx, leg)]);
  return 'subscribed';
}

/**
 * A conference participant's leg, once subscribed, is in its room's record: a broadcast reaches it
 * even while Twilio has not sent its participant-join yet (Twilio promises no order). A failure
 * fails the callback, so Twilio's redelivery notes it.
 */
async function noteInRoom(ctx: RouteContext, leg: SdkLeg): Promise<void> {
  if (leg.conference)
    await conferenceStore(ctx).noteSubscribed(
      leg.conference,
      { callSid: leg.callSid, identity: leg.identity },
      new Date(),
    );
}

/** The last status callback before a leg's end: no later one can subscribe the leg. */
const LAST_CHANCE = 'in-progress';

/**
 * Another invocation still holds the leg's claim. Before in-progress a later callback will look
 * again; at in-progress none will, so the answer is 503 and Twilio redelivers (RETRY_FRAGMENT): by
 * then the claim is subscribed, refused, failed, or stale enough (CLAIM_STALE_MS) to take over.
 * A claimant stopped before it recorded anything would otherwise leave the leg unsubscribed.
 */
function inFlight(leg: SdkLeg, status: StartStatus): string {
  if (status !== LAST_CHANCE) return 'in-flight';
  throw apiError(
    'subscription-in-flight',
    `Another invocation is still subscribing ${leg.callSid}; Twilio redelivers this callback.`,
  );
}

/**
 * Creates the leg's subscription. Twilio's Calls API may not show a call its callbacks reported yet
 * (TWILIO-FACTS §9): a 20404 for the very call this callback is about, or at in-progress any "not
 * active" refusal, is asked again for up to CALL_LAG_WAIT_MS (a refusal creates nothing).
 */
async function subscribe(
  ctx: RouteContext,
  leg: SdkLeg,
  key: string,
  status: StartStatus,
  early: boolean,
): Promise<string> {
  const notYet = (err: unknown) => {
    const code = twilioCode(err);
    return !early && (code === 20404 || (status === 'in-progress' && CALL_NOT_ACTIVE.has(code ?? 0)));
  };
  const subscription = await withRetry(
    () =>
      ctx
        .client()
        .calls(leg.callSid)
        .userDefinedMessageSubscriptions.create({
          callback: messageCallbackUrl(ctx.base, ctx.config.authToken, leg.callSid, new Date(), leg),
          // One key per claim (a failed attempt's key carried over): Sync's claim, not the key, keeps
          // the subscription single; the key only spares a retry of a lost answer a second one.
          idempotencyKey: key,
          method: 'POST',
        }),
    // Retries stop one request early: the claim's outcome must still be recorded, or a claimant out
    // of time would leave the claim `claimed` until it goes stale (the conference trust run saw it).
    { deadline: ctx.deadline - REQUEST_TIMEOUT_MS, alsoRetry: { when: notYet, forMs: CALL_LAG_WAIT_MS } },
  );
  return subscription.sid;
}
