// Sending one message to every Voice SDK participant of a conference room (server → SDKs): one
// UserDefinedMessage per leg, idempotent as a whole. The room's participants when the broadcast is
// first claimed are its targets for good, and each leg's send goes through sendMessage with a key
// derived from the broadcast's, so a retried broadcast sends nothing twice and reaches no leg that
// joined since (docs/CONFERENCES.md §3.5).
import { parseRoom } from '../calls/conference';
import { apiError, HttpError } from '../shared/error-catalogue';
import { CONFERENCE_INLINE_BYTES } from '../shared/limits';
import type { BroadcastAnswer, BroadcastLegOutcome } from '../shared/api-types';
import { isPresent } from '../store/conference-records';
import { BROADCAST } from '../store/conference-store';
import { shortHash } from '../store/keys';
import { validateContent } from './content';
import { requireSchemaValid } from './schemas';
import { sendMessage, type SendDeps } from './send';

/** Longest broadcast key: each leg's key (`bcast:<key>:<CallSid>`) must fit a send's 128 characters. */
export const MAX_BROADCAST_KEY_CHARS = 80;

/** The send key of one leg's share of a broadcast. */
export const broadcastLegKey = (idempotencyKey: string, callSid: string) => `bcast:${idempotencyKey}:${callSid}`;

export async function broadcastMessage(
  ctx: SendDeps,
  input: { conference?: unknown; content?: unknown; idempotencyKey?: unknown },
): Promise<{ answer: BroadcastAnswer; retryAfterSeconds?: number }> {
  const room = parseRoom(input.conference)?.room;
  if (!room) throw apiError('conference-unknown', 'conference must name a room /voice opened (cme-<CallSid>).');
  const content = validateContent(input.content);
  requireSchemaValid(ctx.config, content);
  const key = input.idempotencyKey;
  if (typeof key !== 'string' || key === '' || key.length > MAX_BROADCAST_KEY_CHARS)
    throw apiError(
      'idempotency-key-invalid',
      `A broadcast needs an idempotencyKey of 1 to ${MAX_BROADCAST_KEY_CHARS} characters (a retry reuses it).`,
    );
  const rooms = ctx.store().conferences();
  const state = await rooms.readRoom(room);
  if (!state) throw apiError('conference-not-found', `No events of ${room} were recorded.`);
  const contentHash = shortHash(content);
  const at = new Date().toISOString();
  // Targets are read only for the first claim; a retry gets the first claim's back.
  const present =
    state.status === 'ended'
      ? []
      : (await rooms.participants(room)).filter((p) => p.identity && isPresent(p)).map((p) => p.callSid);
  const { claim, existing } = await rooms.claimBroadcast(room, key, { contentHash, targets: present, at });
  if (existing && claim.contentHash !== contentHash)
    throw apiError('idempotency-key-reused', 'This idempotencyKey was used for another broadcast content.');
  if (!existing && state.status === 'ended') throw apiError('conference-ended', `${room} has ended.`);

  let retryAfterMs = 0;
  const outcomes = await Promise.all(
    claim.targets.map(async (callSid): Promise<BroadcastLegOutcome> => {
      try {
        const sent = await sendMessage(
          ctx,
          { callSid, content, idempotencyKey: broadcastLegKey(key, callSid) },
          { roomHistory: false },
        );
        return sent.outcome;
      } catch (err) {
        // A leg gone since the claim is that leg's outcome, never the broadcast's failure.
        if (err instanceof HttpError && (err.code === 'call-not-active' || err.code === 'call-not-found'))
          return 'not-active';
        const after = err instanceof HttpError ? Number(err.headers?.['Retry-After'] ?? 1) : 1;
        retryAfterMs = Math.max(retryAfterMs, (Number.isFinite(after) ? after : 1) * 1000);
        ctx.log.info({ conference: room, broadcastLeg: callSid, error: String(err).slice(0, 200) });
        return 'failed';
      }
    }),
  );
  const legs = Object.fromEntries(claim.targets.map((callSid, i) => [callSid, outcomes[i]!]));
  const first = claim.targets[0];
  const inline = Buffer.byteLength(content, 'utf8') <= CONFERENCE_INLINE_BYTES;
  // One history entry for the whole broadcast (a copy of it is a no-op).
  await rooms.indexMessage(room, {
    direction: 'to-sdk',
    callSid: BROADCAST,
    idempotencyKey: key,
    legs: claim.targets,
    timestamp: claim.at,
    ...(inline || !first ? { content } : { legKey: broadcastLegKey(key, first) }),
  });
  const answer: BroadcastAnswer = { conference: room, idempotencyKey: key, legs };
  return outcomes.includes('failed') ? { answer, retryAfterSeconds: Math.ceil(retryAfterMs / 1000) } : { answer };
}
