import { conferenceLeg, isFinalStatus } from '../calls/legs';
import { identityOfLabel, parseRoom } from '../calls/conference';
import { apiError } from '../shared/error-catalogue';
import { isCallSid } from '../shared/identifiers';
import { json, type RouteContext, type RouteResult } from '../http/function-handler';
import type { ParticipantEvent } from '../store/conference-records';
import { conferenceStore, finishLeg, startLeg } from './leg-lifecycle';

const PARTICIPANT_EVENTS: Record<string, ParticipantEvent['kind']> = {
  'participant-join': 'join',
  'participant-leave': 'leave',
  'participant-hold': 'hold',
  'participant-unhold': 'unhold',
  'participant-mute': 'mute',
  'participant-unmute': 'unmute',
  'participant-modify': 'modify',
};

/** Twilio's RFC 2822 Timestamp as ISO 8601; a missing or odd one is the time it arrived. */
function isoTime(value: unknown): string {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  return new Date(Number.isFinite(ms) ? ms : Date.now()).toISOString();
}

const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v.slice(0, 200) : undefined);

/**
 * `/conference-status`: a room's conference events (docs/CONFERENCES.md §3.3). Each SDK participant
 * is subscribed at its join through the same claim as its own status callbacks (so exactly one of
 * them subscribes, whatever the order), never once the room has ended; a leave with a final
 * ParticipantCallStatus (or the caller's own leave) closes its leg out. Participants' stints, hold and mute go to the room's
 * Sync Map, each applied once by SequenceNumber, whatever order and copies Twilio sends.
 */
export async function handleConferenceStatus(ctx: RouteContext): Promise<RouteResult> {
  const { event } = ctx;
  const room = parseRoom(event.cme_conf);
  if (!room) throw apiError('conference-unknown', 'cme_conf does not name a room /voice opened.');
  if (event.FriendlyName !== room.room)
    throw apiError('conference-mismatch', "FriendlyName is not the room this callback's URL was issued for.");
  const name = event.StatusCallbackEvent;
  if (typeof name !== 'string' || name === '')
    throw apiError('conference-event-missing', 'StatusCallbackEvent is required.');
  const rawSeq = event.SequenceNumber;
  if (typeof rawSeq !== 'string' || !/^\d{1,9}$/.test(rawSeq))
    throw apiError('sequence-invalid', 'SequenceNumber must be a whole number.');
  const seq = Number(rawSeq);
  const at = isoTime(event.Timestamp);
  const conferenceSid = text(event.ConferenceSid);
  const store = conferenceStore(ctx);
  const answer = (outcome: string, legs?: Record<string, string>) => {
    ctx.log.info({ conference: room.room, event: name, seq, outcome, ...(legs ? { legs } : {}) });
    return json(200, { event: name, conference: room.room, outcome, ...(legs ? { legs } : {}) });
  };

  if (name === 'conference-start' || name === 'conference-end') {
    const ended = name === 'conference-end';
    await store.recordRoom(room.room, room.originCallSid, {
      status: ended ? 'ended' : 'in-progress',
      ...(conferenceSid ? { conferenceSid } : {}),
      ...(ended
        ? { endedAt: at, ...(text(event.ReasonConferenceEnded) ? { reason: text(event.ReasonConferenceEnded)! } : {}) }
        : {}),
    });
    return answer('applied');
  }
  const kind = PARTICIPANT_EVENTS[name];
  // Speech and announcement events are not used: answered 200 so Twilio does not retry them.
  if (!kind) return answer('ignored');
  const callSid = event.CallSid;
  if (!isCallSid(callSid))
    throw apiError('call-sid-invalid', 'A participant event needs the CallSid of the participant.');
  const identity = identityOfLabel(event.ParticipantLabel);
  const applied = await store.applyParticipant(room.room, {
    kind,
    seq,
    at,
    callSid,
    label: text(event.ParticipantLabel),
    identity,
    callStatus: text(event.ParticipantCallStatus),
    reason: text(event.ReasonParticipantLeft),
  });
  if (!identity) return answer(applied.outcome);
  const leg = conferenceLeg(room, callSid, identity);
  // A copy of a join or leave still does its leg's part: the one before it may have failed after
  // recording the event (both parts are idempotent on their own).
  if (kind === 'join') {
    const state = await store.recordRoom(room.room, room.originCallSid, conferenceSid ? { conferenceSid } : {});
    if (state.status === 'ended') return answer(applied.outcome, { [callSid]: 'conference-ended' });
    return answer(applied.outcome, { [callSid]: await startLeg(ctx, leg, 'in-progress') });
  }
  if (kind !== 'leave') return answer(applied.outcome);
  // The caller's TwiML has nothing after its <Dial><Conference>, and a <Conference> noun has no call
  // status callback: its leave is its call's end (even when ParticipantCallStatus, sent before the
  // hang-up, still says in-progress). An added participant's own status callback reports its end.
  const callStatus = event.ParticipantCallStatus;
  const end = isFinalStatus(callStatus) ? callStatus : leg.role === 'parent' ? 'completed' : undefined;
  if (!end) return answer(applied.outcome, { [callSid]: 'left' });
  await finishLeg(ctx, leg, end);
  return answer(applied.outcome, { [callSid]: end });
}
