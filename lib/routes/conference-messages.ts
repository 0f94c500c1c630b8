import { apiError } from '../shared/error-catalogue';
import { json, type RouteContext, type RouteResult } from '../http/function-handler';
import { broadcastMessage } from '../messages/broadcast';
import { readConferenceHistory } from '../messages/conference-history';

/**
 * `/conference-send` (its contract: lib/shared/route-contracts.ts): one message to every SDK
 * participant of a room. 201 with each leg's outcome; 503 with Retry-After when a leg failed, and
 * the retry with the same idempotencyKey sends only what was not sent.
 */
export async function sendToConference(
  ctx: RouteContext,
  input: { conference?: unknown; content?: unknown; idempotencyKey?: unknown },
): Promise<RouteResult> {
  const { answer, retryAfterSeconds } = await broadcastMessage(ctx, input);
  if (retryAfterSeconds === undefined) return json(201, answer);
  throw apiError('twilio-unavailable', 'Some legs did not get the broadcast; retry with the same idempotencyKey.', {
    details: { ...answer },
    headers: { 'Retry-After': String(Math.max(1, retryAfterSeconds)) },
  });
}

/** `/conference-messages`: one page of a room's history, oldest first. */
export async function listConferenceMessages(
  ctx: RouteContext,
  input: { conference?: unknown; pageSize?: unknown; after?: unknown },
): Promise<RouteResult> {
  return json(200, await readConferenceHistory(ctx, input));
}
