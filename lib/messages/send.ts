// Sending a message to a call's Voice SDK (server → SDK), exactly once per idempotencyKey: the one
// operation behind /send-message, /operator-send and the replies forwarding sends back.
import { randomUUID } from 'node:crypto';
import type { SendMessageResult } from '../shared/api-types';
import { apiError, HttpError, type ErrorCode } from '../shared/error-catalogue';
import type { Config } from '../platform/config';
import {
  isNotTaken,
  isRetryable,
  isSyncRateLimited,
  isTwilioRestError,
  retryAfterSeconds,
  twilioCode,
} from '../platform/errors';
import { isCallSid, requireCallSid, requireIdentity } from '../shared/identifiers';
import type { Log } from '../platform/log';
import { validateContent } from './content';
import { requireSchemaValid } from './schemas';
import { CALL_LAG_WAIT_MS, REQUEST_TIMEOUT_MS, withRetry } from '../platform/retry';
import { isActiveStatus, isFinalStatus, isLiveLeg, roomOfPeer, sdkIdentityOfCall } from '../calls/legs';
import { CONFERENCE_INLINE_BYTES } from '../shared/limits';
import { outboundKey } from '../store/keys';
import { shortHash, type CallStore, type StoredLegState } from '../store/call-store';
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

/** Retry-After, in whole seconds (at least 1), for a retry that can succeed `ms` from now. */
const retryAfter = (ms: number) => ({ 'Retry-After': String(Math.max(1, Math.ceil(ms / 1000))) });
/**
 * How long a send keeps retrying its claim and its record in Sync before answering 503 with
 * Retry-After (a refused claim: nothing sent yet; a refused record: its key marked sent, so the
 * retry records it, never sends again). Short on purpose: the caller can retry, while a message
 * callback has only Twilio's 15 s of retries, so under Sync's per-leg write limit the callbacks
 * get the room first.
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
export async function sendMessage(
  ctx: SendDeps,
  input: SendMessageInput,
  /** roomHistory false: a broadcast writes one history entry for all its legs itself. */
  options: { roomHistory?: boolean } = {},
): Promise<SendOutcome> {
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
  const target: Target =
    input.callSid !== undefined
      ? { callSid: requireCallSid(input.callSid), live: false }
      : await activeLegOf(ctx, requireIdentity(input.identity));
  const { callSid } = target;

  const store = ctx.store();
  const contentHash = shortHash(content);
  // By callSid, the leg's recorded state is read beside the claim (1 read, no added wait): once its
  // callbacks reported the end, a new send is refused even while Twilio still takes one (its
  // Calls API and perhaps its message creates lag behind the call, TWILIO-FACTS §9).
  const recorded = target.live ? undefined : store.readState(callSid).catch(() => undefined);
  // A call we hold no record of is first asked of Twilio, so a refused send writes nothing to Sync.
  // The claim gives way to the leg's message callbacks when Sync is at its rate (nothing sent yet).
  const claim = await store
    .yieldingOnRateLimit(SEND_SYNC_PATIENCE_MS)
    .claimSend(callSid, idempotencyKey, new Date(), {
      contentHash,
      beforeNewLeg: async () => {
        await requireLiveCall(ctx, callSid);
        target.live = true;
      },
    })
    .catch((err: unknown) => {
      if (!isSyncRateLimited(err)) throw err;
      throw apiError(
        'twilio-unavailable',
        "Sync is at its rate for this call's messages: nothing was sent. Retry with the same idempotencyKey after Retry-After seconds.",
        { details: { idempotencyKey }, headers: retryAfter(1000 * SEND_RATE_RETRY_AFTER_SECONDS) },
      );
    });
  const state = await recorded;
  if (state && isFinalStatus(state.status) && claim.outcome === 'claimed') {
    await store.releaseSend(callSid, idempotencyKey);
    throw apiError(...NOT_ACTIVE);
  }
  if (state && isLiveLeg(state)) target.live = true;
  // A conference participant's leg: each message to it joins its room's history too.
  const room = options.roomHistory === false ? undefined : roomOfPeer((state ?? target.state)?.peer);
  const inRoom = async (sid: string | null, sentAtMs: number) => {
    if (room) await indexInRoom(ctx, room, { sid, callSid, content, idempotencyKey, sentAtMs }, state ?? target.state);
  };
  if (claim.outcome === 'already-sent') {
    // Its history entry is written again (a no-op if there): the first request may have failed after sending.
    await inRoom(claim.message.sid, Date.parse(claim.message.timestamp));
    return result(claim.message.sid, callSid, idempotencyKey, 'already-sent');
  }
  if (claim.outcome === 'in-flight') {
    throw apiError(
      'send-in-progress',
      'A send with this idempotencyKey is under way; retry after Retry-After seconds.',
      {
        details: { idempotencyKey },
        headers: retryAfter(claim.retryAfterMs),
      },
    );
  }
  if (claim.outcome === 'key-reused') {
    throw apiError('idempotency-key-reused', 'This idempotencyKey was used for other content on this call.', {
      details: { idempotencyKey },
    });
  }
  const outgoing = { callSid, content, contentHash, idempotencyKey, sentAtMs: claim.sentAtMs };
  if (claim.outcome === 'sent-unrecorded') {
    await record(ctx, { ...outgoing, sid: claim.sid });
    await inRoom(claim.sid, claim.sentAtMs);
    return result(claim.sid, callSid, idempotencyKey, 'already-sent');
  }
  const sid = await sendOnce(ctx, outgoing, target.live);
  await record(ctx, { ...outgoing, sid });
  await inRoom(sid, claim.sentAtMs);
  ctx.log.forCall(callSid).info({ messageSid: sid });
  return result(sid, callSid, idempotencyKey, 'sent');
}

/** The leg a send goes to, and whether it is known live (its callbacks, or the Calls API, said so). */
interface Target {
  callSid: string;
  live: boolean;
  /** Its recorded state, when finding the leg read it (a send by identity). */
  state?: StoredLegState | undefined;
}

/**
 * Adds a message sent to a participant's leg to its room's history (create-if-absent on a key fixed
 * by the send's key): inline when short, else pointing at the leg's own copy.
 */
async function indexInRoom(
  ctx: SendDeps,
  room: string,
  message: { sid: string | null; callSid: string; content: string; idempotencyKey: string; sentAtMs: number },
  state: StoredLegState | undefined,
): Promise<void> {
  const inline = Buffer.byteLength(message.content, 'utf8') <= CONFERENCE_INLINE_BYTES;
  await ctx
    .store()
    .conferences()
    .indexMessage(room, {
      direction: 'to-sdk',
      callSid: message.callSid,
      ...(state ? { identity: state.identity } : {}),
      ...(message.sid ? { sid: message.sid } : {}),
      idempotencyKey: message.idempotencyKey,
      timestamp: new Date(message.sentAtMs).toISOString(),
      ...(inline ? { content: message.content } : { legKey: outboundKey(message.sentAtMs, message.idempotencyKey) }),
    });
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

/**
 * One UserDefinedMessage create; its Sid, or null when Twilio had it already. Tried again in the
 * invocation only after failures that mean Twilio did not take it (isNotTaken): after any other
 * the message may have been delivered. Twilio refusing a leg that is known live (`live`, or its
 * recorded state says so) as not found or not active is Twilio not showing it yet (TWILIO-FACTS
 * §9): asked again for up to CALL_LAG_WAIT_MS (a refusal sends nothing). How the attempt ended is
 * written on the key's claim, so a retry with the same key knows what to do: sent again at once
 * (not taken), after the first attempt can no longer be under way (no answer), or never (refused:
 * the claim is freed for a new request).
 */
async function sendOnce(ctx: SendDeps, message: OutgoingMessage, live: boolean): Promise<string | null> {
  const { callSid, content, idempotencyKey } = message;
  const store = ctx.store();
  const create = (lagging: boolean) =>
    withRetry(
      () => ctx.client().calls(callSid).userDefinedMessages.create({ content, idempotencyKey }),
      // Retries stop one request early: the Sync write that records the outcome must still fit.
      {
        deadline: ctx.deadline - REQUEST_TIMEOUT_MS,
        retryIf: isNotTaken,
        ...(lagging ? { alsoRetry: { when: isNotLiveRefusal, forMs: CALL_LAG_WAIT_MS } } : {}),
      },
    );
  try {
    const sent = await create(live).catch(async (err: unknown) => {
      // Not known live: the leg's recorded state decides whether this refusal is Twilio lagging.
      if (live || !isNotLiveRefusal(err) || !(await liveByCallbacks(store, callSid))) throw err;
      return create(true);
    });
    return sent.sid;
  } catch (err) {
    // A 409 for a reused IdempotencyKey: Twilio already has this send (its Sid is not given back).
    if (twilioCode(err) !== undefined && isTwilioRestError(err) && err.status === 409) return null;
    const refusal = refusalOf(err);
    if (refusal || (isTwilioRestError(err) && err.status >= 400 && err.status < 500 && err.status !== 429)) {
      // Twilio refused it (nothing was sent): the key is free for the same request once the call allows it.
      await store.releaseSend(callSid, idempotencyKey);
      throw refusal ?? err;
    }
    if (isNotTaken(err)) {
      await store.endSendAttempt(callSid, idempotencyKey, message).catch(() => undefined);
      throw apiError('twilio-unavailable', 'Twilio did not take the message; retry with the same idempotencyKey.', {
        details: { idempotencyKey },
        headers: retryAfter(0),
      });
    }
    if (isRetryable(err)) {
      // It may have been delivered before the answer was lost: the retry waits, then reuses the key.
      const settled = await store
        .markOutcomeUnknown(callSid, idempotencyKey, message, new Date())
        .catch(() => Date.now() + REQUEST_TIMEOUT_MS);
      throw apiError(
        'twilio-unavailable',
        'Twilio did not answer: the message may have been delivered. Retry with the same idempotencyKey after Retry-After seconds.',
        { details: { idempotencyKey }, headers: retryAfter(settled - Date.now()) },
      );
    }
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
      headers: retryAfter(
        1000 * (isSyncRateLimited(failure) ? SEND_RATE_RETRY_AFTER_SECONDS : retryAfterSeconds(failure)),
      ),
    });
  }
}

const result = (
  sid: string | null,
  callSid: string,
  idempotencyKey: string,
  outcome: SendMessageResult['outcome'],
): SendMessageResult => ({ sid, callSid, idempotencyKey, outcome });

/** Twilio's answer for a call it does not show, or not as ringing or in progress. */
const isNotLiveRefusal = (err: unknown) => {
  const code = twilioCode(err);
  return code === 20404 || code === 21220 || code === 31211;
};

/** Whether the leg's recorded state (what its status callbacks said last) is live; false when unreadable. */
async function liveByCallbacks(store: CallStore, callSid: string): Promise<boolean> {
  const state = await store.readState(callSid).catch(() => undefined);
  return state !== undefined && isLiveLeg(state);
}

/** Longest pause between two looks at a call that is not live yet. */
const MAX_LIVE_POLL_MS = 500;
/** Time left between the last look at a call and its send, for the claim written in between. */
const CLAIM_ALLOWANCE_MS = 1000;

/**
 * Refuses (404/409) a call Twilio does not know or that is not ringing or in progress. The Calls API
 * may lag behind the call (TWILIO-FACTS §9): a call it does not show, or shows as not started yet,
 * is looked at again — the Calls API and the leg's recorded state, whichever says live first — for
 * up to CALL_LAG_WAIT_MS, while the send still fits the invocation. A call shown ended is refused at once.
 */
async function requireLiveCall(ctx: SendDeps, callSid: string): Promise<void> {
  const client = ctx.client();
  /** What the Calls API shows of the call now: live, ended, or the refusal to answer if it stays so. */
  const look = async (): Promise<'live' | 'ended' | HttpError> => {
    let status: string;
    try {
      status = (await withRetry(() => client.calls(callSid).fetch(), { deadline: ctx.deadline })).status;
    } catch (err) {
      const refusal = refusalOf(err);
      if (refusal) return refusal;
      throw err;
    }
    if (isActiveStatus(status)) return 'live';
    return isFinalStatus(status) ? 'ended' : apiError(...NOT_ACTIVE);
  };
  let seen = await look();
  // The send's first attempt must start a request early (sendOnce): the last look leaves it that,
  // and CLAIM_ALLOWANCE_MS for the claim's two Sync requests before it (the leg's Map, the claim).
  const until = Math.min(Date.now() + CALL_LAG_WAIT_MS, ctx.deadline - 2 * REQUEST_TIMEOUT_MS - CLAIM_ALLOWANCE_MS);
  let delay = MAX_LIVE_POLL_MS / 2;
  while (seen instanceof HttpError && Date.now() + delay < until) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    const [again, recorded] = await Promise.all([look(), liveByCallbacks(ctx.store(), callSid)]);
    seen = recorded ? 'live' : again;
    delay = MAX_LIVE_POLL_MS;
  }
  if (seen === 'ended') throw apiError(...NOT_ACTIVE);
  if (seen !== 'live') throw seen;
}

/**
 * The one live SDK leg of an identity. First from what its status callbacks recorded (its own
 * Map, lib/store): one read of it and one of each leg's state, never behind the callbacks. With
 * none recorded, from the Calls API (which may lag, TWILIO-FACTS §9): its call out (the parent it
 * placed, From) or in (a child dialled to it, To). Two list reads — the Calls API filters by From
 * or To, not both, and by one status — of the newest calls each way, active ones picked here.
 */
async function activeLegOf(ctx: SendDeps, identity: string): Promise<Target> {
  const states = await ctx.store().liveLegsOf(identity);
  let recorded = states.map((state) => state.callSid);
  if (recorded.length > 1) recorded = await notShownEnded(ctx, recorded);
  const [only, ...others] = recorded;
  if (only !== undefined && others.length === 0)
    return { callSid: only, live: true, state: states.find((s) => s.callSid === only) };
  if (only !== undefined) throw ambiguous(identity, recorded);
  return { callSid: await activeLegByCallsApi(ctx.client(), identity, ctx.deadline), live: false };
}

/**
 * Of several legs recorded live, those the Calls API does not show ended: a leg whose end was never
 * reported is found out here (its end is old news, which the API's lag does not hide), while a leg
 * too new for the API to show counts as live. Only when an identity seems to be on two calls.
 */
async function notShownEnded(ctx: SendDeps, callSids: string[]): Promise<string[]> {
  const client = ctx.client();
  const shown = await Promise.all(
    callSids.map((callSid) =>
      withRetry(() => client.calls(callSid).fetch(), { deadline: ctx.deadline }).then(
        (call) => call.status,
        () => undefined,
      ),
    ),
  );
  return callSids.filter((_, i) => !isFinalStatus(shown[i]));
}

const ambiguous = (identity: string, callSids: string[]) =>
  apiError('call-ambiguous', `${identity} has ${callSids.length} active calls; pass callSid instead.`, {
    details: { callSids },
  });

async function activeLegByCallsApi(client: TwilioClient, identity: string, deadline: number): Promise<string> {
  const address = `client:${identity}`;
  const [out, into] = await Promise.all([
    withRetry(() => client.calls.list({ from: address, limit: RECENT_CALLS_PER_DIRECTION }), { deadline }),
    withRetry(() => client.calls.list({ to: address, limit: RECENT_CALLS_PER_DIRECTION }), { deadline }),
  ]);
  const legs = [...out, ...into].filter((call) => sdkIdentityOfCall(call) === identity && isActiveStatus(call.status));
  const sids = [...new Set(legs.map((call) => call.sid))].filter(isCallSid);
  const [only] = sids;
  if (only === undefined) throw apiError('call-not-active', `${identity} has no active call.`);
  if (sids.length > 1) throw ambiguous(identity, sids);
  return only;
}
