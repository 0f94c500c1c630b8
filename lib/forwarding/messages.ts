// Forwarding what happens on SDK legs to the app's backend (APP_WEBHOOK_URL), and sending its
// replies back. Messages are delivered exactly once as the app sees it: a message the backend
// acknowledged (2xx) is recorded `forwarded: true` and never delivered again; a failed delivery is
// recorded `forwarded: false` and the callback answers 503, so Twilio redelivers it (the retry
// fragment on its URL) and the next attempt delivers it, with the same Idempotency-Key.
import type { CallStore, StoredInbound } from '../store/call-store';
import { LegCache } from '../store/leg-cache';
import { apiError, HttpError, type ErrorCode } from '../shared/error-catalogue';
import { isRetryable } from '../platform/errors';
import {
  deliver,
  deliveryTimeout,
  messageEventBody,
  type ForwardingSettings,
  type InboundMessage,
  type LegIdentity,
} from './webhook';
import { compactJson } from '../shared/json-text';
import { messageKeySid } from '../store/keys';
import { REQUEST_TIMEOUT_MS } from '../platform/retry';
import { logDelivery } from './leg-events';
import { sendMessage, type SendDeps, type SendOutcome } from '../messages/send';

export { forwardingOf } from './leg-events';

/** What became of a reply the backend asked for. */
export interface ReplyOutcome {
  outcome: SendOutcome['outcome'] | 'failed';
  sid?: string | null;
  /** Why it was not sent (the error code /send-message would have answered). */
  code?: ErrorCode;
}

export interface ForwardOutcome {
  /** As the store saw the message: `duplicate` when it was stored before this callback. */
  outcome: 'stored' | 'duplicate';
  forwarded: boolean;
  reply?: ReplyOutcome;
}

/**
 * Each leg's parent and identity never change. Callback URLs issued since they carry both
 * (`cme_parent`, `cme_identity`); for a URL issued before, a warm container reads the leg's state
 * once per leg.
 */
const legIdentities = new LegCache<LegIdentity>();

async function legIdentity(store: CallStore, callSid: string): Promise<LegIdentity> {
  const known = legIdentities.get(callSid);
  if (known) return known;
  const state = await store.readState(callSid);
  const leg = { parentCallSid: state?.parentCallSid ?? null, identity: state?.identity ?? null };
  if (state) legIdentities.remember(callSid, leg);
  return leg;
}

/**
 * Forwards a message from the SDK and stores it, in this order (`names`: the leg's parent and
 * identity from its callback URL; without them, read from the leg's state):
 * 1. read its head item (is it stored, and was it forwarded?): forwarded → a duplicate, no delivery;
 * 2. deliver it (at most DELIVERY_TIMEOUT_MS, leaving time for one Sync write);
 * 3. not stored yet: store it with the outcome (the one write of the happy path); stored but not
 *    forwarded before: mark it forwarded once delivered;
 * 4. a failed delivery answers 503 (Twilio redelivers); a delivered one sends the backend's reply.
 */
export async function forwardInbound(
  ctx: SendDeps,
  settings: ForwardingSettings,
  message: InboundMessage,
  names?: LegIdentity,
): Promise<ForwardOutcome> {
  const store = ctx.store();
  const [stored, leg] = await Promise.all([
    store.readInbound(message.callSid, message.sequence, message.sid),
    names ?? legIdentity(store, message.callSid),
  ]);
  // Stored while forwarding was off (undefined) or delivered already (true): nothing to deliver.
  if (stored && stored.forwarded !== false) return { outcome: 'duplicate', forwarded: stored.forwarded === true };

  const timeoutMs = deliveryTimeout(ctx.deadline, REQUEST_TIMEOUT_MS);
  // A Sid of another format may hold anything: the idempotency header carries the key's form of it.
  const delivery = await deliver(settings, messageEventBody(message, leg), messageKeySid(message.sid), timeoutMs);
  logDelivery(ctx.log.forCall(message.callSid), 'call.message', message.sid, delivery);

  let outcome: ForwardOutcome['outcome'] = 'duplicate';
  if (!stored) {
    outcome = await store.saveInbound({ ...message, forwarded: delivery.ok });
    // A copy of this callback stored it in the meantime; if its delivery had failed, this one's counts.
    if (outcome === 'duplicate' && delivery.ok) await markIfUndelivered(store, message);
  } else if (delivery.ok) {
    await store.markForwarded(message.callSid, stored);
  }
  if (!delivery.ok) {
    throw apiError('forwarding-failed', 'The app backend did not acknowledge the message; retry the callback.', {
      details: {
        sid: message.sid,
        ...(delivery.status !== undefined ? { backendStatus: delivery.status } : { failure: delivery.failure }),
      },
    });
  }
  if (delivery.reply === undefined) return { outcome, forwarded: true };
  return { outcome, forwarded: true, reply: await sendReply(ctx, message, delivery.reply) };
}

async function markIfUndelivered(store: CallStore, message: InboundMessage): Promise<void> {
  const now: StoredInbound | undefined = await store.readInbound(message.callSid, message.sequence, message.sid);
  if (now?.forwarded === false) await store.markForwarded(message.callSid, now);
}

/**
 * Sends the backend's `reply` to the leg the message came from, as /send-message does (same checks,
 * recorded the same way), keyed on the message's Sid: however often the message is delivered, one
 * reply is sent. A reply that cannot be sent is reported, not retried: the message was delivered.
 */
async function sendReply(ctx: SendDeps, message: InboundMessage, reply: unknown): Promise<ReplyOutcome> {
  const content = typeof reply === 'string' ? reply : compactJson(reply);
  const idempotencyKey = replyKey(messageKeySid(message.sid));
  try {
    const sent = await sendMessage(ctx, { callSid: message.callSid, content, idempotencyKey });
    return { outcome: sent.outcome, sid: sent.sid };
  } catch (err) {
    const code: ErrorCode =
      err instanceof HttpError ? err.code : isRetryable(err) ? 'twilio-unavailable' : 'internal-error';
    ctx.log.forCall(message.callSid).info({ messageSid: message.sid, reply: 'failed', code });
    return { outcome: 'failed', code };
  }
}

/** The idempotencyKey of the reply to a message: one reply per message, whatever happens. */
export const replyKey = (messageSid: string) => `reply-${messageSid}`;
