// Hold, mute, add and remove in a conference room (docs/CONFERENCES.md §3.6), for the operator
// console and your backend: a warm transfer is hold the customer, add an agent, talk, unhold, and
// the first agent leaves. Twilio's Participants API takes the room by its CF Sid (recorded by
// /conference-status) and a participant by CallSid or label.
import { apiError } from '../shared/error-catalogue';
import { isCallSid, requireIdentity } from '../shared/identifiers';
import { isTwilioRestError, twilioCode } from '../platform/errors';
import { withRetry } from '../platform/retry';
import type { TwilioClient } from '../platform/twilio-client';
import type { CallStore } from '../store/call-store';
import { conferenceStatusUrl, participantStatusUrl } from './callback-urls';
import { CONFERENCE_EVENTS, parseRoom, sdkLabel } from './conference';

import { PARTICIPANT_ACTIONS, type ParticipantAction } from '../shared/api-types';

const isParticipantAction = (v: unknown): v is ParticipantAction =>
  typeof v === 'string' && (PARTICIPANT_ACTIONS as readonly string[]).includes(v);

export interface ControlDeps {
  client: () => TwilioClient;
  store: () => CallStore;
  base: string;
  deadline: number;
}

export interface ParticipantRequest {
  conference?: unknown;
  action?: unknown;
  /** The participant: its leg, or an SDK identity (its label). */
  callSid?: unknown;
  identity?: unknown;
  /** add: the identity to call into the room (`client:<identity>`). */
  to?: unknown;
}

export interface ParticipantAnswer {
  conference: string;
  action: ParticipantAction;
  /** The participant's leg (for an add: the call Twilio placed). */
  callSid: string;
}

/** A party to add to a room: who, from where, its label, and the SDK identity to subscribe if it is one. */
export interface RoomParty {
  to: string;
  from: string;
  label: string;
  identity?: string | undefined;
}

/**
 * The Participants create that adds a party to a room, by its name (/voice: the room may not exist
 * yet) or its CF Sid (later adds: a late add never reopens an ended room). Every add carries the
 * room's conference callbacks (only the first participant's count), an SDK party its own call's
 * status callback (its leg is subscribed by it, or by its join), and ends the room on leaving (a
 * two-party room ends as a bridged call does; `remove` turns that off first).
 */
export function addToRoom(
  deps: Pick<ControlDeps, 'client' | 'base'>,
  room: string,
  roomSidOrName: string,
  party: RoomParty,
) {
  return deps
    .client()
    .conferences(roomSidOrName)
    .participants.create({
      from: party.from,
      to: party.to,
      label: party.label,
      beep: 'false',
      startConferenceOnEnter: true,
      endConferenceOnExit: true,
      ...(party.identity
        ? {
            statusCallback: participantStatusUrl(deps.base, party.identity, room),
            statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
            statusCallbackMethod: 'POST',
          }
        : {}),
      conferenceStatusCallback: conferenceStatusUrl(deps.base, room),
      conferenceStatusCallbackEvent: [...CONFERENCE_EVENTS],
      conferenceStatusCallbackMethod: 'POST',
    });
}

// Twilio's codes: 16022 a conference not in progress; 20404 a participant not there.
const ROOM_GONE = 16022;
const NOT_FOUND = 20404;
/** A label in use: the party is in the room already (an earlier attempt of the same add landed). */
export const LABEL_IN_USE = 16026;

/**
 * One action on a room's participant. `add` calls an SDK identity into the room (its leg then
 * subscribed by its own status callbacks, as any added participant); `remove` first lets the room
 * go on without it (EndConferenceOnExit=false), so an agent leaving a warm transfer never ends the
 * customer's call; the others are Participant updates.
 */
export async function controlParticipant(deps: ControlDeps, input: ParticipantRequest): Promise<ParticipantAnswer> {
  const room = parseRoom(input.conference)?.room;
  if (!room) throw apiError('conference-unknown', 'conference must name a room /voice opened (cme-<CallSid>).');
  if (!isParticipantAction(input.action))
    throw apiError('action-invalid', `action must be one of ${PARTICIPANT_ACTIONS.join(', ')}.`);
  const action = input.action;
  const state = await deps.store().conferences().readRoom(room);
  if (!state?.conferenceSid) throw apiError('conference-not-found', `No events of ${room} were recorded yet.`);
  if (state.status === 'ended') throw apiError('conference-ended', `${room} has ended.`);
  const participants = deps.client().conferences(state.conferenceSid).participants;
  const call = <T>(op: () => Promise<T>) =>
    withRetry(op, { deadline: deps.deadline }).catch((err: unknown) => {
      if (twilioCode(err) === ROOM_GONE) throw apiError('conference-ended', `${room} has ended.`);
      if (twilioCode(err) === NOT_FOUND) throw apiError('participant-not-found', `No such participant in ${room}.`);
      throw err;
    });

  if (action === 'add') {
    const identity = requireIdentity(input.to);
    const label = sdkLabel(identity);
    const added = await call(() =>
      addToRoom(deps, room, state.conferenceSid!, {
        from: `client:${room}`,
        to: `client:${identity}`,
        label,
        identity,
      }),
    ).catch(async (err: unknown) => {
      // The label is in use: this identity is in the room already (or an earlier add of it landed).
      if (twilioCode(err) !== LABEL_IN_USE) throw err;
      return call(() => participants(label).fetch());
    });
    return { conference: room, action, callSid: added.callSid };
  }
  const who = participantOf(input);
  const update = (fields: { hold?: boolean; muted?: boolean; endConferenceOnExit?: boolean }) =>
    call(() => participants(who).update(fields));
  let callSid: string;
  if (action === 'remove') {
    callSid = (await update({ endConferenceOnExit: false })).callSid;
    await call(() => participants(who).remove()).catch((err: unknown) => {
      // Gone between the two requests: what remove asked for.
      if (!(isTwilioRestError(err) && err.status === 404)) throw err;
    });
  } else {
    const fields =
      action === 'hold' || action === 'unhold' ? { hold: action === 'hold' } : { muted: action === 'mute' };
    callSid = (await update(fields)).callSid;
  }
  return { conference: room, action, callSid };
}

/** The participant by CallSid, or by an SDK identity's label (exactly one of them). */
function participantOf(input: ParticipantRequest): string {
  if ((input.callSid === undefined) === (input.identity === undefined))
    throw apiError('target-invalid', 'Give exactly one of callSid or identity.');
  if (input.callSid !== undefined) {
    if (!isCallSid(input.callSid)) throw apiError('call-sid-invalid', 'callSid is not CA followed by 32 hex digits.');
    return input.callSid;
  }
  return sdkLabel(requireIdentity(input.identity));
}
