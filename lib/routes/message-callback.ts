import { isFinalStatus } from '../calls/legs';
import { legNamesOf, legTokenMatches } from '../calls/callback-urls';
import { apiError } from '../shared/error-catalogue';
import { json, type RouteContext, type RouteResult } from '../http/function-handler';
import { inboundKey, MAX_SEQUENCE_NUMBER } from '../store/keys';
import type { StoredConferenceMessage } from '../store/conference-records';
import { LegCache } from '../store/leg-cache';
import { integerParam, isCallSid, isMessageSid } from '../shared/identifiers';
import type { MessageIrregularity } from '../shared/api-types';
import {
  CALLBACK_URL_GRACE_SECONDS,
  CONFERENCE_INLINE_BYTES,
  FINISHED_LEG_GRACE_SECONDS,
  MAX_CALL_SECONDS,
} from '../shared/limits';
import { callbackContentAsSent } from '../messages/content';
import { isJsonBody } from '../http/signature';
import type { InboundMessage } from '../forwarding/webhook';
import { messageSchemas } from '../messages/schemas';
import { forwardingOf, forwardInbound } from '../forwarding/messages';

/**
 * How far a callback is trusted: `signature` = Twilio's signature covers everything stored (form
 * and GET callbacks, and JSON ones whose bodySHA256 matched the re-serialised body);
 * `url-and-token` = a JSON body the signature does not reach: only its URL and per-leg token are.
 */
export type CallbackVerification = 'signature' | 'url-and-token';

/** Longest Sid or ContentType kept as given: far past any Twilio value, well inside a Sync item. */
const MAX_FIELD_CHARS = 128;

/**
 * `/message-callback`: a message the SDK sent, delivered by the leg's subscription. Stored exactly
 * once (its Sid is the Sync key); a repeat is a 200 no-op. JSON, form and query all work. Refused
 * (4xx, nothing written) only when it is forged (token, account, signature), its URL is older than
 * any call can last, or its leg ended more than FINISHED_LEG_GRACE_SECONDS ago. Twilio never
 * retries a 4xx, so a genuine message in a shape the JS SDK never sends (another Sid format,
 * non-JSON Content, another ContentType) is stored and answered flagged (`irregular`), not refused.
 */
export async function receiveCallMessage(ctx: RouteContext): Promise<RouteResult> {
  const { event, config, store, headers } = ctx;
  const leg = event.cme_leg;
  if (!isCallSid(leg) || !legTokenMatches(config.authToken, leg, event.cme_issued, event.cme_token)) {
    throw apiError('callback-token-invalid', 'This callback URL was not issued for this call.');
  }
  const now = Date.now();
  const issuedAt = Number(event.cme_issued) * 1000;
  const age = now - issuedAt;
  if (age > (MAX_CALL_SECONDS + CALLBACK_URL_GRACE_SECONDS) * 1000 || age < -CALLBACK_URL_GRACE_SECONDS * 1000) {
    throw apiError('callback-expired', 'This callback URL is older than any call can last.');
  }
  if (event.CallSid !== leg) throw apiError('callback-token-invalid', 'CallSid does not match the callback URL.');
  if (event.AccountSid !== config.accountSid) throw apiError('account-mismatch', 'AccountSid is not this account.');
  const irregular: MessageIrregularity[] = [];
  const sid = fieldText(event.Sid);
  if (!isMessageSid(sid)) irregular.push('sid');
  const sequence = integerParam(event.SequenceNumber, {
    name: 'SequenceNumber',
    code: 'sequence-invalid',
    min: 0,
    max: MAX_SEQUENCE_NUMBER,
  });
  const contentType = fieldText(event.ContentType) || 'application/json';
  const jsonBody = isJsonBody(headers);
  const { content, json: isJson } = callbackContentAsSent(event.Content, jsonBody);
  if (!isJson) irregular.push('content');
  if (contentType !== 'application/json') irregular.push('content-type');
  const verification: CallbackVerification = !jsonBody || ctx.bodyVerified === true ? 'signature' : 'url-and-token';
  if (verification !== 'signature' && config.requireVerifiedJsonCallbacks) {
    throw apiError(
      'callback-unverified',
      'This JSON callback could not be verified in full (REQUIRE_VERIFIED_JSON_CALLBACKS is on).',
    );
  }
  await requireLegNotEnded(ctx, leg, issuedAt, now);
  const twilioTime = typeof event.Timestamp === 'string' ? Date.parse(event.Timestamp) : NaN;

  const message: InboundMessage = {
    sid,
    callSid: leg,
    direction: 'from-sdk',
    sequence,
    contentType,
    content,
    timestamp: new Date(Number.isNaN(twilioTime) ? now : twilioTime).toISOString(),
    ...(irregular.length > 0 ? { irregular } : {}),
  };
  // Message schemas on (MESSAGE_SCHEMAS_ASSET): a violation is stored and forwarded flagged, never refused.
  const violation = messageSchemas(config)?.check(content);
  if (violation) Object.assign(message, { valid: false, validationError: violation.message });
  // Forwarding to the app's backend (APP_WEBHOOK_URL) on: delivered, then stored with the outcome.
  const forwarding = forwardingOf(ctx);
  const { outcome, ...forwarded } = forwarding
    ? await forwardInbound(ctx, forwarding, message, legNamesOf(event))
    : { outcome: await store().saveInbound(message) };
  // A conference participant's message joins its room's history too, once (create-if-absent on a
  // key fixed by the message); a failure answers 503, and Twilio's redelivery stores it there.
  const names = legNamesOf(event);
  if (names?.conference) await store().conferences().indexMessage(names.conference, roomEntry(message, names.identity));
  const checked = violation ? { valid: false, rule: violation.rule } : {};
  ctx.log.info({
    messageSid: sid,
    sequence,
    outcome,
    verification,
    ...forwarded,
    ...checked,
    ...(irregular.length > 0 ? { irregular } : {}),
  });
  return json(200, { sid, outcome, verification, ...forwarded, ...(irregular.length > 0 ? { irregular } : {}) });
}

/** A Sid or ContentType as text: a JSON body's number as its digits, anything else as none (''). */
function fieldText(value: unknown): string {
  const text = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
  return text.slice(0, MAX_FIELD_CHARS);
}

/**
 * When each leg was last seen live (ms since epoch), in this warm container. A leg live at time t
 * cannot have been finished for longer than now − t, so within FINISHED_LEG_GRACE_SECONDS of it no
 * read is needed: the state is read at most once a minute per leg and container, and never in a
 * leg's first minute (its callback URL was issued while it was live).
 */
const liveAt = new LegCache<number>();

/** Refuses a callback for a leg whose final status is older than the grace (one Sync read, only when needed). */
async function requireLegNotEnded(ctx: RouteContext, leg: string, issuedAt: number, now: number): Promise<void> {
  const graceMs = FINISHED_LEG_GRACE_SECONDS * 1000;
  if (now - Math.max(issuedAt, liveAt.get(leg) ?? 0) < graceMs) return;
  const state = await ctx.store().readState(leg);
  // No state yet (its write has not landed, or the Map is missing): the leg is not known to have ended.
  if (!state) return;
  if (!isFinalStatus(state.status)) {
    liveAt.remember(leg, now);
    return;
  }
  const endedAt = Date.parse(state.endedAt ?? state.updatedAt);
  if (Number.isNaN(endedAt) || now - endedAt > graceMs) {
    throw apiError('call-ended', 'This call ended; its message callbacks are no longer accepted.');
  }
}

/** A message from a participant's SDK as its room's history holds it: inline when short. */
function roomEntry(message: InboundMessage, identity: string): StoredConferenceMessage {
  const inline = Buffer.byteLength(message.content, 'utf8') <= CONFERENCE_INLINE_BYTES;
  return {
    direction: 'from-sdk',
    callSid: message.callSid,
    identity,
    sid: message.sid,
    sequence: message.sequence,
    timestamp: message.timestamp,
    ...(inline ? { content: message.content } : { legKey: inboundKey(message.sequence, message.sid) }),
  };
}
