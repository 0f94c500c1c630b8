import { apiError } from '../shared/error-catalogue';
import { json, type RouteContext, type RouteResult } from '../http/function-handler';
import { broadcastMessage } from '../messages/broadcast';
import {
  readConferenceHistory,
  readConferenceRoom,
  type ConferenceMessagesInput,
} from '../messages/conference-history';
import { controlParticipant, type ParticipantRequest } from '../calls/conference-control';
import { requireBackendKey } from '../auth/backend-keys';
import { requireOperator } from './operator';

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

/** `/conference-messages`: one page of a room's history, oldest first (with `as`, one agent's view). */
export async function listConferenceMessages(ctx: RouteContext, input: ConferenceMessagesInput): Promise<RouteResult> {
  return json(200, await readConferenceHistory(ctx, input));
}

/** `/conference-participant`: hold, mute, add or remove a room's participant (a warm transfer's steps). */
export async function conferenceParticipant(ctx: RouteContext, input: ParticipantRequest): Promise<RouteResult> {
  const done = await controlParticipant(ctx, input);
  ctx.log.info({ ...done });
  return json(done.action === 'add' ? 201 : 200, done);
}

/** Everything a room offers, by `action`: `send`, `messages`, `room`, or a participant action. */
export type ConferenceRequest = ParticipantRequest &
  ConferenceMessagesInput & { content?: unknown; idempotencyKey?: unknown };

/** The request fields of a conference route, picked from a Function's event (never the whole event). */
export function conferenceRequestOf(event: Record<string, unknown>): ConferenceRequest {
  const { conference, action, callSid, identity, to, content, idempotencyKey, pageSize, after, as } = event;
  return { conference, action, callSid, identity, to, content, idempotencyKey, pageSize, after, as };
}

async function conferenceAction(ctx: RouteContext, input: ConferenceRequest): Promise<RouteResult> {
  if (input.action === 'send') return sendToConference(ctx, input);
  if (input.action === 'messages') return listConferenceMessages(ctx, input);
  if (input.action === 'room') return json(200, await readConferenceRoom(ctx, input));
  return conferenceParticipant(ctx, input);
}

/** `/backend-conference`: the conference routes for a key of BACKEND_API_KEYS (`messages` and `room` need read, the rest send). */
export async function backendConference(ctx: RouteContext, input: ConferenceRequest): Promise<RouteResult> {
  const reads = input.action === 'messages' || input.action === 'room';
  const key = await requireBackendKey(ctx, reads ? 'read' : 'send');
  ctx.log.info({ backendKey: key.id });
  return conferenceAction(ctx, input);
}

/** `/operator-conference`: the conference routes for the operator's console. */
export async function operatorConference(ctx: RouteContext, input: ConferenceRequest): Promise<RouteResult> {
  requireOperator(ctx);
  return conferenceAction(ctx, input);
}
