// Sending a message to a call's Voice SDK (server → SDK), exactly once per idempotencyKey: the one
// operation behind /send-message, /operator-send and the replies forwarding sends back.
import { randomUUID } from 'node:crypto';
import type { SendMessageResult } from '../shared/api-types';
import { apiError, type ErrorCode, type HttpError } from '../shared/error-catalogue';
import type { Config } from '../platform/config';
import { isRetryable, isSyncRateLimited, retryAfterSeconds, twilioCode } from '../platform/errors';
import { isCallSid, requireCallSid, requireIdentity } from '../shared/identifiers';
import type { Log } from '../platform/log';
import { validateContent } from './content';
import { requireSchemaValid } from './schemas';
import { REQUEST_TIMEOUT_MS, withRetry } from '../platform/retry';
import { isActiveStatus, sdkIdentityOfCall } from '../calls/legs';
import { shortHash, type CallStore } from '../store/call-store';
import type { TwilioClient } from '../platform/twilio-client';

/** What a send needs from its invocation (a route's context has all of it). */
export interface SendDeps {
  config: Pick<Config, 'raw'>;
  /** No request starts past this time (ms since epoch): the invocation's deadline. */
  deadline: number;
  client: () => TwilioClient;
  store: () => CallStore;
  log: Log;
}

/** A send that happened (`sent`) or had happened before under the same key (`already-sent`). */
export type SendOutcome = SendMessageResult;

export interface SendMessageInput {
  callSid?: unknown;
  identity?: unknown;
  content?: unknown;
  idempotencyKey?: unknown;
}

/**
 * How long a send keeps retrying its record in Sync before answering 503 with Retry-After (its key
 * then marked sent, so the retry records it, never sends again). Short on purpose: the caller can
 * retry, while a message callback has only Twilio's 15 s of retries, so under Sync's per-leg write
 * limit the callbacks get the room first.
 */
const SEND_SYNC_PATIENCE_MS = 500;
/** A send's record refused for Sync's rate is retried after this long: the leg's callbacks go first. */
const SEND_RATE_RETRY_AFTER_SECONDS = 5;

/** Longest idempotencyKey accepted (Twilio documents none; this keeps a Sync key and logs small). */
const MAX_IDEMPOTENCY_KEY_CHARS = 128;
/** How many of an identity's most recent calls each way are looked at for its active leg. */
const RECENT_CALLS_PER_DIRECTION = 20;

// What Twilio answers when a UserDefinedMessage cannot be delivered, as our errors.
const NOT_ACTIVE: [ErrorCode, string] = [
  'call-not-active',
  'The call is not active (ringing or in progress); messages need a live call.',
];
const TWILIO_REFUSALS: Record<number, [ErrorCode, string]> = {
  20404: ['call-not-found', 'No such call on this account.'],
  21220: NOT_ACTIVE,
  31211: NOT_ACTIVE,
  32702: ['content-invalid', 'Twilio refused the content: it must be JSON.'],
  32703: ['content-too-long', 'Twilio refused the content: it exceeds 10,000 characters.'],
};

/** Twilio's refusal of a call or its content as our 4xx, or undefined for any other error. */
function refusalOf(err: unknown): HttpError | undefined {
  const code = twilioCode(err);
  const refusal = TWILIO_REFUSALS[code ?? 0];
  return refusal && apiError(refusal[0], refusal[1], { details: { twilioCode: code } });
}

/**
 * Sends a UserDefinedMessage to the SDK leg and records it in Sync, exactly once per idempotencyKey:
 * the key is claimed in Sync before the send, so a retry (or a concurrent duplicate) never sends
 * again, whatever Twilio does with a reused IdempotencyKey. A refusal throws its catalogue error.
 */
export async function sendMessage(ctx: SendDeps, input: SendMessageInput): Promise<SendOutcome> {
  const content = validateContent(input.content);
  // Message schemas on (MESSAGE_SCHEMAS_ASSET): content that violates them is refused (400).
  requireSchemaValid(ctx.config, content);
  const idempotencyKey =
    input.idempotencyKey === undefined || input.idempotencyKey === '' ? `cme-${randomUUID()}` : input.idempotencyKey;
  if (typeof idempotencyKey !== 'string' || idempotencyKey.length > MAX_IDEMPOTENCY_KEY_CHARS) {
    throw apiError(
      'idempotency-key-invalid',
      `idempotencyKey must be a string of at most ${MAX_IDEMPOTENCY_KEY_CHARS} characters.`,
    );
  }
  if ((input.callSid === undefined) === (input.identity === undefined)) {
    throw apiError('target-invalid', 'Give exactly one of callSid or identity.');
  }
  const callSid =
    input.callSid !== undefined
      ? requireCallSid(input.callSid)
      : await activeLegOf(ctx.client(), requireIdentity(input.identity), ctx.deadline);

  const store = ctx.store();
  const contentHash = shortHash(content);
  // A call we hold no record of is first asked of Twilio, so a refused send writes nothing to Sync.
  const claim = await store.claimSend(callSid, idempotencyKey, new Date(), {
    contentHash,
    beforeNewLeg: () => requireLiveCall(ctx.client(), callSid, ctx.deadline),
  });
  if (claim.outcome === 'already-sent') {
    return result(claim.message.sid, callSid, idempotencyKey, 'already-sent');
  }
  if (claim.outcome === 'in-flight') {
    throw apiError('send-in-progress', 'A send with this idempotencyKey is under way; retry in a few seconds.', {
      details: { idempotencyKey },
    });
  }
  if (claim.outcome === 'key-reused') {
    throw apiError('idempotency-key-reused', 'This idempotencyKey was used for other content on this call.', {
      details: { idempotencyKey },
    });
  }
  const outgoing = { callSid, content, contentHash, idempotencyKey, sentAtMs: claim.sentAtMs };
  if (claim.outcome === 'sent-unrecorded') {
    await record(ctx, { ...outgoing, sid: claim.sid });
    return result(claim.sid, callSid, idempotencyKey, 'already-sent');
  }
  const sid = await sendOnce(ctx, outgoing);
  await record(ctx, { ...outgoing, sid });
  ctx.log.forCall(callSid).info({ messageSid: sid });
  return result(sid, callSid, idempotencyKey, 'sent');
}

interface OutgoingMessage {
  callSid: string;
  content: string;
  idempotencyKey: string;
  /** Its content's hash, kept with the key's claim (one key, one content). */
  contentHash: string;
  /** When its key was claimed: its place in the history. */
  sentAtMs: number;
}

/** One UserDefinedMessage create (retried with the same key); its Sid, or null when Twilio had it already. */
async function sendOnce(ctx: SendDeps, message: OutgoingMessage): Promise<string | null> {
  const { callSid, content, idempotencyKey } = message;
  const store = ctx.store();
  try {
    const sent = await withRetry(
      () => ctx.client().calls(callSid).userDefinedMessages.create({ content, idempotencyKey }),
      // Retries stop one request early: the Sync write that records the outcome must still fit.
      { deadline: ctx.deadline - REQUEST_TIMEOUT_MS },
    );
    return sent.sid;
  } catch (err) {
    const refusal = refusalOf(err);
    if (refusal) {
      await store.releaseSend(callSid, idempotencyKey);
      throw refusal;
    }
    if (isRetryable(err)) {
      // It may have been delivered before the answer was lost: a retry must reuse the key.
      await store.endSendAttempt(callSid, idempotencyKey, message).catch(() => undefined);
      throw apiError('twilio-unavailable', 'Twilio did not answer in time; retry with the same idempotencyKey.', {
        details: { idempotencyKey },
      });
    }
    // A 4xx for a reused IdempotencyKey: Twilio already has this send (its Sid is not given back).
    if (twilioCode(err) !== undefined && (err as { status?: number }).status === 409) return null;
    throw err;
  }
}

/**
 * Records a sent message in the leg's history. If that fails, its key is marked sent, so a retry
 * records it rather than sending it again: the record's tries stop a request early to leave the
 * mark its time, or, when there is not time for one after the other, the two are written at once.
 */
async function record(ctx: SendDeps, message: OutgoingMessage & { sid: string | null }): Promise<void> {
  const { sid, callSid, content, idempotencyKey, sentAtMs, contentHash } = message;
  const store = ctx.store();
  const save = (into: CallStore) =>
    into.saveOutbound(
      {
        sid,
        callSid,
        direction: 'to-sdk',
        contentType: 'application/json',
        content,
        timestamp: new Date(sentAtMs).toISOString(),
        idempotencyKey,
      },
      sentAtMs,
    );
  const mark = () => store.markSent(callSid, idempotencyKey, { sentAtMs, contentHash }, sid);
  let saved: boolean;
  let failure: unknown;
  const failed = (err: unknown) => {
    failure = err;
    return false;
  };
  if (Date.now() + 2 * REQUEST_TIMEOUT_MS <= ctx.deadline) {
    const patience = Date.now() + SEND_SYNC_PATIENCE_MS + REQUEST_TIMEOUT_MS;
    saved = await save(store.withDeadline(Math.min(ctx.deadline - REQUEST_TIMEOUT_MS, patience))).then(
      () => true,
      failed,
    );
    if (!saved) await mark().catch(() => undefined);
  } else {
    const [saving] = await Promise.allSettled([save(store), mark()]);
    saved = saving.status === 'fulfilled' || failed(saving.reason);
  }
  if (!saved) {
    ctx.log.forCall(callSid).info({ messageSid: sid, recorded: false });
    // Sync's rate limit (a long message's parts are its most limited writes) frees room within seconds.
    throw apiError('record-failed', 'The message was sent but not recorded; retry with the same idempotencyKey.', {
      details: { sid, idempotencyKey },
      headers: {
        'Retry-After': String(isSyncRateLimited(failure) ? SEND_RATE_RETRY_AFTER_SECONDS : retryAfterSeconds(failure)),
      },
    });
  }
}

const result = (
  sid: string | null,
  callSid: string,
  idempotencyKey: string,
  outcome: SendMessageResult['outcome'],
): SendMessageResult => ({ sid, callSid, idempotencyKey, outcome });

/** Refuses (404/409) a call Twilio does not know or that is not ringing or in progress. */
async function requireLiveCall(client: TwilioClient, callSid: string, deadline: number): Promise<void> {
  let status: string;
  try {
    status = (await withRetry(() => client.calls(callSid).fetch(), { deadline })).status;
  } catch (err) {
    throw refusalOf(err) ?? err;
  }
  if (!isActiveStatus(status)) throw apiError(...NOT_ACTIVE);
}

/**
 * The one active SDK leg of an identity: its call out (the parent it placed, From) or in (a child
 * dialled to it, To). Two list reads — the Calls API filters by From or To, not both, and by one
 * status — of the newest calls each way, active ones picked here: a live call is among the newest.
 */
async function activeLegOf(client: TwilioClient, identity: string, deadline: number): Promise<string> {
  const address = `client:${identity}`;
  const [out, into] = await Promise.all([
    withRetry(() => client.calls.list({ from: address, limit: RECENT_CALLS_PER_DIRECTION }), { deadline }),
    withRetry(() => client.calls.list({ to: address, limit: RECENT_CALLS_PER_DIRECTION }), { deadline }),
  ]);
  const legs = [...out, ...into].filter((call) => sdkIdentityOfCall(call) === identity && isActiveStatus(call.status));
  const sids = [...new Set(legs.map((call) => call.sid))].filter(isCallSid);
  const [only] = sids;
  if (only === undefined) throw apiError('call-not-active', `${identity} has no active call.`);
  if (sids.length > 1) {
    throw apiError('call-ambiguous', `${identity} has ${sids.length} active calls; pass callSid instead.`, {
      details: { callSids: sids },
    });
  }
  return only;
}
