import { randomUUID } from 'node:crypto';
import { badRequest, HttpError, isRetryable, twilioCode } from '../errors';
import { json, type RouteContext, type RouteResult } from '../function-handler';
import { isCallSid, requireCallSid, requireIdentity } from '../identifiers';
import { logEvent } from '../log';
import { validateContent } from '../message-content';
import { withRetry } from '../retry';
import type { TwilioClient } from '../twilio-client';

export interface SendMessageInput {
  callSid?: unknown;
  identity?: unknown;
  content?: unknown;
  idempotencyKey?: unknown;
}

// What Twilio answers when a UserDefinedMessage cannot be delivered, as our errors.
const TWILIO_REFUSALS: Record<number, [number, string, string]> = {
  20404: [404, 'call-not-found', 'No such call on this account.'],
  21220: [409, 'call-not-active', 'The call is not active (ringing or in progress); messages need a live call.'],
  31211: [409, 'call-not-active', 'The call is not active (ringing or in progress); messages need a live call.'],
  32702: [400, 'content-invalid', 'Twilio refused the content: it must be JSON.'],
  32703: [400, 'content-too-long', 'Twilio refused the content: it exceeds 10,000 characters.'],
};

/** `/send-message`: server → SDK. Sends a UserDefinedMessage to the SDK leg and records it in Sync. */
export async function sendCallMessage(ctx: RouteContext, input: SendMessageInput): Promise<RouteResult> {
  const content = validateContent(input.content);
  const idempotencyKey =
    input.idempotencyKey === undefined || input.idempotencyKey === '' ? `cme-${randomUUID()}` : input.idempotencyKey;
  if (typeof idempotencyKey !== 'string' || idempotencyKey.length > 128) {
    throw badRequest('idempotency-key-invalid', 'idempotencyKey must be a string of at most 128 characters.');
  }
  if ((input.callSid === undefined) === (input.identity === undefined)) {
    throw badRequest('target-invalid', 'Give exactly one of callSid or identity.');
  }
  const callSid =
    input.callSid !== undefined
      ? requireCallSid(input.callSid)
      : await activeLegOf(ctx.client(), requireIdentity(input.identity), ctx.deadline);

  let message;
  try {
    message = await withRetry(
      () => ctx.client().calls(callSid).userDefinedMessages.create({ content, idempotencyKey }),
      { deadline: ctx.deadline },
    );
  } catch (err) {
    const refusal = TWILIO_REFUSALS[twilioCode(err) ?? 0];
    if (refusal) throw new HttpError(refusal[0], refusal[1], refusal[2], { twilioCode: twilioCode(err) });
    if (isRetryable(err)) {
      // It may have been delivered before the answer was lost: a retry must reuse the key.
      throw new HttpError(
        503,
        'twilio-unavailable',
        'Twilio did not answer in time; retry with the same idempotencyKey.',
        { idempotencyKey },
      );
    }
    throw err;
  }
  try {
    await ctx.store().saveMessage({
      sid: message.sid,
      callSid,
      direction: 'to-sdk',
      contentType: 'application/json',
      content,
      timestamp: new Date().toISOString(),
    });
  } catch (err) {
    // Delivered but not recorded: a retry with the same key sends nothing new and records it.
    logEvent('/send-message', { callSid }, { messageSid: message.sid, recorded: false });
    throw new HttpError(
      503,
      'record-failed',
      'The message was sent but not recorded; retry with the same idempotencyKey.',
      {
        sid: message.sid,
        idempotencyKey,
      },
    );
  }
  logEvent('/send-message', { callSid }, { messageSid: message.sid });
  return json(201, { sid: message.sid, callSid, idempotencyKey });
}

/**
 * The one active SDK leg of an identity: its calls out (parent, From) or in (child, To), ringing or
 * in progress: four filtered list requests, so the answer does not depend on list order.
 */
async function activeLegOf(client: TwilioClient, identity: string, deadline: number): Promise<string> {
  const address = `client:${identity}`;
  const lists = await Promise.all(
    (['ringing', 'in-progress'] as const).flatMap((status) => [
      // Only the leg the SDK placed (Direction inbound): a <Dial> child leg also shows From=client:<identity>.
      withRetry(() => client.calls.list({ from: address, status, limit: 20 }), { deadline }).then((calls) =>
        calls.filter((call) => call.direction === 'inbound'),
      ),
      withRetry(() => client.calls.list({ to: address, status, limit: 20 }), { deadline }),
    ]),
  );
  const legs = lists.flat();
  const sids = [...new Set(legs.map((call) => call.sid))].filter(isCallSid);
  if (sids.length === 0) throw new HttpError(409, 'call-not-active', `${identity} has no active call.`);
  if (sids.length > 1) {
    throw new HttpError(409, 'call-ambiguous', `${identity} has ${sids.length} active calls; pass callSid instead.`, {
      callSids: sids,
    });
  }
  return sids[0];
}
