// The operator console's routes: a session for the operator secret, then the calls, their messages
// and sending to a call, each behind that session. Reading and sending are the operations
// /call-messages and /send-message run (lib/messages), so the console sees and does exactly what
// your backend would.
import twilio from 'twilio';
import { requireVariable, type Config } from '../platform/config';
import { apiError } from '../shared/error-catalogue';
import { json, type RouteContext, type RouteResult } from '../http/function-handler';
import { issueSession, SESSION_TTL_SECONDS, verifySession } from '../auth/sessions';
import { sendAnswer } from './send-message';
import { jsonBytes, readCallHistory, type CallMessagesInput } from '../messages/history';
import { sendMessage, type SendMessageInput } from '../messages/send';
import { bearerToken, secretsMatch } from '../platform/secrets';
import { isActiveStatus, isFinalStatus, sdkIdentityOfCall } from '../calls/legs';
import { integerParam, isCallSid } from '../shared/identifiers';
import { REQUEST_TIMEOUT_MS, withRetry } from '../platform/retry';
import type { OperatorCall, OperatorCallsPage, OperatorMessageCount, OperatorSyncToken } from '../shared/api-types';
import { ANSWER_BUDGET_BYTES } from '../shared/limits';
import { SignInThrottle } from '../auth/throttle';
import { apiLegState } from '../store/records';

const DEFAULT_CALLS = 20;
const MAX_CALLS = 50;
/** Calls listed per leg wanted: most recent calls are SDK legs, but phone-network legs are in the list too. */
const CALLS_LISTED_PER_LEG = 3;
/** Legs counted in one request at most (a page of calls): each count is one Sync read per 100 items. */
export const MAX_COUNTED = 20;
/** State reads in flight at once: polite to Sync's rate limits, still quick for a page of calls. */
const STATE_READS_AT_ONCE = 5;

const operatorSecret = (config: Config) =>
  requireVariable(config, 'OPERATOR_SECRET', 'the secret operators type into the console');

/**
 * Throws 401 unless the request carries `Authorization: Bearer <session>` from /operator-session;
 * answers the session's expiry (seconds since the epoch).
 */
export function requireOperator({ config, headers }: RouteContext): number {
  const secret = operatorSecret(config);
  const exp = verifySession(bearerToken(headers), config.authToken, secret);
  if (exp === undefined) {
    throw apiError(
      'operator-session-invalid',
      'Log in again: send Authorization: Bearer <session from /operator-session>.',
    );
  }
  return exp;
}

/** The identity of the console's Sync access tokens (one for every operator: they share the secret). */
export const OPERATOR_SYNC_IDENTITY = 'operator';
/** Never less than this, so a session about to end still gets a usable token (the page logs out at its end). */
const MIN_SYNC_TOKEN_TTL = 60;

/**
 * `/operator-sync-token`: a Sync access token for the console's live channel (the `twilio-sync`
 * SDK subscribes to the Maps the functions write: the console's index and the open call's legs),
 * lasting as long as the session. Against Twilio the SDK's own endpoints are used; in the sandbox
 * (SANDBOX_TWILSOCK_URL set, read only on localhost, never on Twilio) the answer also names the sandbox's Twilsock endpoint,
 * so nothing leaves the machine. The default Sync service (SYNC_SERVICE_SID unset) is the grant's
 * own default: no service named.
 */
export function operatorSyncToken(ctx: RouteContext): RouteResult {
  const exp = requireOperator(ctx);
  const { config } = ctx;
  const apiKeySid = requireVariable(config, 'API_KEY_SID', 'an API key SID, SK…, to sign access tokens');
  const apiKeySecret = requireVariable(config, 'API_KEY_SECRET', "that API key's secret");
  const ttl = Math.max(MIN_SYNC_TOKEN_TTL, Math.min(SESSION_TTL_SECONDS, exp - Math.floor(Date.now() / 1000)));
  const token = new twilio.jwt.AccessToken(config.accountSid, apiKeySid, apiKeySecret, {
    identity: OPERATOR_SYNC_IDENTITY,
    ttl,
  });
  const service = config.syncServiceSid === 'default' ? {} : { serviceSid: config.syncServiceSid };
  token.addGrant(new twilio.jwt.AccessToken.SyncGrant(service));
  const answer: OperatorSyncToken = { identity: OPERATOR_SYNC_IDENTITY, token: token.toJwt(), ttl };
  const twilsock = config.sandbox?.twilsockUrl;
  if (twilsock && /^wss?:\/\/[^/\s]+\/v3\/wsconnect$/.test(twilsock)) {
    answer.sandbox = { twilsock, cds: `https://cds.sandbox.invalid` };
  }
  return json(200, answer);
}

/**
 * `/operator-session`: OPERATOR_SECRET → a session token for one hour. Attempts are counted as the
 * account `operator` (lib/auth/throttle.ts): a stranger's wrong guesses can refuse the right secret
 * too, but never for longer than SIGN_IN_SLOWING.maxLockSeconds after the last of them.
 */
export async function createOperatorSession(ctx: RouteContext, input: { secret?: unknown }): Promise<RouteResult> {
  const secret = operatorSecret(ctx.config);
  const throttle = new SignInThrottle(ctx.client(), ctx.config, ctx.deadline);
  const attempt = await throttle.begin('operator');
  if (!secretsMatch(input.secret, secret)) {
    ctx.log.info({ refused: true });
    throw apiError('operator-secret-invalid', 'That is not the operator secret.');
  }
  await attempt.succeeded();
  return json(200, issueSession(ctx.config.authToken, secret));
}

/**
 * `/operator-calls`: recent Voice SDK legs with their state. Found through the Calls API (newest
 * first; `client:` on the SDK's side) and the console's index of live legs (one Sync read: what the
 * Calls API does not list yet), then each leg's state read from its own Sync map: a few
 * bounded reads, whatever else the Sync service holds. `partial` when time ran short, or when the
 * next call would take the list past ANSWER_BUDGET_BYTES (50 states within Sync's 16 KB item
 * limit never do: the cut is for states written by anything else holding the credentials).
 * `count=` (CallSids, at most MAX_COUNTED) also answers those legs' message counts (`limit=0`:
 * only them, no list), counted after the list within the time left.
 */
export async function listOperatorCalls(
  ctx: RouteContext,
  input: { limit?: unknown; final?: unknown; count?: unknown },
): Promise<RouteResult> {
  requireOperator(ctx);
  const counted = commaSids(input.count).slice(0, MAX_COUNTED);
  // Legs the caller already holds in a final state: a final state never changes, so it is not read again.
  const known = new Set(
    (typeof input.final === 'string' ? input.final.split(',') : []).filter(isCallSid).slice(0, MAX_CALLS),
  );
  const limit = integerParam(input.limit, {
    name: 'limit',
    code: 'limit-invalid',
    min: 0,
    max: MAX_CALLS,
    fallback: DEFAULT_CALLS,
  });
  const page: OperatorCallsPage = limit
    ? await listCalls(ctx, limit, known)
    : { calls: [], activeTtlSeconds: ctx.config.activeCallTtl };
  if (counted.length) page.counts = await countMessages(ctx, counted);
  return json(200, page);
}

const commaSids = (value: unknown) => [...new Set(typeof value === 'string' ? value.split(',') : [])].filter(isCallSid);

/** The legs' message counts, a few at a time, while a read still fits before the deadline. */
async function countMessages(ctx: RouteContext, callSids: string[]): Promise<OperatorMessageCount[]> {
  const store = ctx.store();
  const counts: OperatorMessageCount[] = [];
  for (let i = 0; i < callSids.length; i += STATE_READS_AT_ONCE) {
    if (Date.now() + REQUEST_TIMEOUT_MS > ctx.deadline) break;
    const batch = callSids.slice(i, i + STATE_READS_AT_ONCE);
    const results = await Promise.all(batch.map((sid) => store.countMessages(sid)));
    for (const [j, { count, complete }] of results.entries())
      counts.push({ callSid: batch[j]!, count, ...(complete ? {} : { atLeast: true as const }) });
  }
  return counts;
}

async function listCalls(ctx: RouteContext, limit: number, known: Set<string>): Promise<OperatorCallsPage> {
  const client = ctx.client();
  const store = ctx.store();
  const ttlMs = ctx.config.activeCallTtl * 1000;
  const [recent, indexed] = await Promise.all([
    withRetry(() => client.calls.list({ limit: limit * CALLS_LISTED_PER_LEG }), { deadline: ctx.deadline }),
    store.indexedLegs(MAX_CALLS),
  ]);
  // The Calls API runs behind the status callbacks (TWILIO-FACTS §9): a live leg the console's index
  // holds and the list does not show yet is listed too, from the index.
  const listed: { sid: string; status: string; dateCreated: Date }[] = recent.filter(
    (call) => sdkIdentityOfCall(call) !== undefined,
  );
  const seen = new Set(listed.map((leg) => leg.sid));
  for (const leg of indexed) {
    if (!seen.has(leg.callSid)) listed.push({ sid: leg.callSid, status: 'ringing', dateCreated: new Date(leg.at) });
  }
  const legs = listed.sort((a, b) => b.dateCreated.getTime() - a.dateCreated.getTime()).slice(0, limit);
  const page: OperatorCallsPage = { calls: [], activeTtlSeconds: ctx.config.activeCallTtl };
  let bytes = 0;
  for (let i = 0; i < legs.length && !page.partial; i += STATE_READS_AT_ONCE) {
    // Answer what was read rather than run out of time: another batch must fit a request's timeout.
    if (Date.now() + REQUEST_TIMEOUT_MS > ctx.deadline) {
      page.partial = true;
      break;
    }
    const batch = legs.slice(i, i + STATE_READS_AT_ONCE);
    const states = await Promise.all(
      batch.map((leg) => (known.has(leg.sid) ? Promise.resolve(undefined) : store.readState(leg.sid))),
    );
    for (const [j, leg] of batch.entries()) {
      const createdAt = new Date(leg.dateCreated);
      if (known.has(leg.sid)) {
        page.calls.push({
          callSid: leg.sid,
          createdAt: createdAt.toISOString(),
          status: leg.status,
          active: false,
          state: null,
          unchanged: true,
        });
        continue;
      }
      const stored = states[j];
      const state = stored ? apiLegState(stored) : null;
      if (!state && isFinalStatus(leg.status)) continue; // ended before it was ever ours to track
      // Past the active-call TTL with no final status: its end was never reported (its Map expires).
      const endUnknown = !isFinalStatus(state?.status) && Date.now() - createdAt.getTime() > ttlMs;
      const call: OperatorCall = {
        callSid: leg.sid,
        createdAt: createdAt.toISOString(),
        status: state?.status ?? leg.status,
        active: isActiveStatus(leg.status) && !isFinalStatus(state?.status) && !endUnknown,
        state,
        ...(endUnknown ? { endUnknown: true as const } : {}),
      };
      const size = jsonBytes(call) + 1;
      if (page.calls.length > 0 && bytes + size > ANSWER_BUDGET_BYTES) {
        page.partial = true;
        break;
      }
      page.calls.push(call);
      bytes += size;
    }
  }
  return page;
}

/** `/operator-messages`: what `/call-messages` answers, for the operator. */
export async function operatorMessages(ctx: RouteContext, input: CallMessagesInput): Promise<RouteResult> {
  requireOperator(ctx);
  return json(200, await readCallHistory(ctx, input));
}

/** `/operator-send`: what `/send-message` does (the same operation and answers), for the operator. */
export async function operatorSend(ctx: RouteContext, input: SendMessageInput): Promise<RouteResult> {
  requireOperator(ctx);
  return sendAnswer(await sendMessage(ctx, input));
}
