// The operator console's routes: a session for the operator secret, then the calls, their messages
// and sending to a call, each behind that session. Sending and reading reuse /send-message's and
// /call-messages' cores, so the console sees and does exactly what your backend would.
import { requireVariable, type Config } from '../config';
import { HttpError } from '../errors';
import { json, type RouteContext, type RouteResult } from '../function-handler';
import { logEvent } from '../log';
import { issueSession, verifySession } from '../operator-session';
import { listCallMessages, type CallMessagesInput } from './call-messages';
import { sendCallMessage, type SendMessageInput } from './send-message';
import { secretsMatch } from './token';

const operatorSecret = (config: Config) => requireVariable(config, 'OPERATOR_SECRET', 'the secret operators type into the console');

/** Throws 401 unless the request carries `Authorization: Bearer <session>` from /operator-session. */
export function requireOperator({ config, headers }: RouteContext): void {
  const secret = operatorSecret(config);
  const authorization = headers.authorization;
  const bearer = typeof authorization === 'string' && authorization.startsWith('Bearer ') ? authorization.slice(7) : undefined;
  if (verifySession(bearer, config.authToken, secret) === undefined) {
    throw new HttpError(401, 'operator-session-invalid', 'Log in again: send Authorization: Bearer <session from /operator-session>.');
  }
}

/** `/operator-session`: OPERATOR_SECRET → a session token for one hour. */
export function createOperatorSession(ctx: RouteContext, input: { secret?: unknown }): RouteResult {
  const secret = operatorSecret(ctx.config);
  if (!secretsMatch(input.secret, secret)) {
    logEvent('/operator-session', {}, { refused: true });
    throw new HttpError(403, 'operator-secret-invalid', 'That is not the operator secret.');
  }
  return json(200, issueSession(ctx.config.authToken, secret));
}

/** `/operator-calls`: the most recent SDK legs in Sync with their state (null while still ringing). */
export async function listOperatorCalls(ctx: RouteContext, input: { limit?: unknown }): Promise<RouteResult> {
  requireOperator(ctx);
  const limit = input.limit === undefined || input.limit === '' ? 20 : Number(input.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 50) throw new HttpError(400, 'limit-invalid', 'limit must be 1-50.');
  const store = ctx.store();
  const legs = await store.listLegs(limit);
  const calls = [];
  // A few reads at a time: polite to Sync's rate limits, still quick for a page of calls.
  for (let i = 0; i < legs.length; i += 5) {
    const batch = legs.slice(i, i + 5);
    const states = await Promise.all(batch.map((leg) => store.readState(leg.callSid)));
    for (const [j, leg] of batch.entries()) {
      const state = states[j] ?? null;
      calls.push({ ...leg, status: state?.status ?? 'starting', active: !state || state.status === 'in-progress', state });
    }
  }
  return json(200, { calls });
}

/** `/operator-messages`: what `/call-messages` answers, for the operator. */
export async function operatorMessages(ctx: RouteContext, input: CallMessagesInput): Promise<RouteResult> {
  requireOperator(ctx);
  return listCallMessages(ctx, input);
}

/** `/operator-send`: what `/send-message` does (same core, same checks), for the operator. */
export async function operatorSend(ctx: RouteContext, input: SendMessageInput): Promise<RouteResult> {
  requireOperator(ctx);
  return sendCallMessage(ctx, input);
}
