// The rules of conference mode (docs/CONFERENCES.md): when /voice puts a call into a Twilio
// Conference instead of a bridged <Dial>, how its room and participants are named, and which
// participant is a Voice SDK leg. Pure: no Twilio client, no Sync.
import { apiError } from '../shared/error-catalogue';
import { isCallSid, isIdentity } from '../shared/identifiers';
import type { VoiceRoute } from './legs';

import { CONFERENCE_MODE_PARAMETER, CONFERENCE_MODES, type ConferenceMode } from '../shared/api-types';

export { CONFERENCE_MODE_PARAMETER, CONFERENCE_MODES, type ConferenceMode };

export function conferenceModeOf(env: Record<string, string | undefined>): ConferenceMode {
  const raw = (env.CONFERENCE_MODE ?? '').trim();
  if (raw === '') return 'off';
  if ((CONFERENCE_MODES as readonly string[]).includes(raw)) return raw as ConferenceMode;
  throw apiError('configuration-invalid', `CONFERENCE_MODE must be one of ${CONFERENCE_MODES.join(', ')}.`);
}

/**
 * Whether a routed call goes into a conference: never a refused one; `always` for every call;
 * `on-request` only when an SDK caller's `cmeMode` asks for `conference` (a phone caller sends no
 * custom parameters).
 */
export function usesConference(mode: ConferenceMode, route: VoiceRoute, event: Record<string, unknown>): boolean {
  if (route.kind === 'refuse' || mode === 'off') return false;
  if (mode === 'always') return true;
  return route.sdkLegs.parent !== undefined && event[CONFERENCE_MODE_PARAMETER] === 'conference';
}

const ROOM_PREFIX = 'cme-';

/**
 * The room of a call: named after the call that started it, so it is known before Twilio assigns a
 * `CF` Sid, unique per call, and free of personal data (Twilio's <Conference> page warns against it).
 */
export const roomOf = (originCallSid: string) => `${ROOM_PREFIX}${originCallSid.toLowerCase()}`;

/** A room name this project made, or undefined. */
export function parseRoom(value: unknown): { room: string; originCallSid: string } | undefined {
  if (typeof value !== 'string' || !value.startsWith(ROOM_PREFIX)) return undefined;
  const origin = `CA${value.slice(ROOM_PREFIX.length + 2)}`;
  if (value.slice(ROOM_PREFIX.length, ROOM_PREFIX.length + 2) !== 'ca' || !isCallSid(origin)) return undefined;
  if (value !== roomOf(origin)) return undefined;
  return { room: value, originCallSid: origin };
}

const SDK_LABEL_PREFIX = 'sdk.';
/** A phone party's label: the callee of an SDK call, or the caller to our number. */
export const PHONE_CALLEE_LABEL = 'ext.callee';
export const PHONE_CALLER_LABEL = 'ext.caller';

/**
 * A Voice SDK participant's label: unique among a room's active participants (Twilio refuses a
 * duplicate), at most 125 characters, never CallSid-like, no `/` (Twilio's label rules).
 */
export const sdkLabel = (identity: string) => `${SDK_LABEL_PREFIX}${identity}`;

/** The SDK identity a participant label names, or undefined for a phone or a label not ours. */
export function identityOfLabel(label: unknown): string | undefined {
  if (typeof label !== 'string' || !label.startsWith(SDK_LABEL_PREFIX)) return undefined;
  const identity = label.slice(SDK_LABEL_PREFIX.length);
  return isIdentity(identity) ? identity : undefined;
}

/** The conference events /conference-status is sent (the first participant to join sets them). */
export const CONFERENCE_EVENTS = ['start', 'end', 'join', 'leave', 'mute', 'hold', 'modify'] as const;

/** The caller's seat: the TwiML `<Dial><Conference>` /voice answers with. */
export interface CallerSeat {
  room: string;
  label: string;
}

/** The other party, added to the room with one Participants create. */
export interface AddedParty {
  /** `client:<identity>` (with the caller's custom parameters as a query) or an E.164 number. */
  to: string;
  from: string;
  label: string;
  /** The Voice SDK identity to subscribe when the added party is one. */
  identity?: string;
}

/**
 * Who sits where in a call's room: the caller joins by TwiML, the dialled party is added. Both end
 * the room when they leave, as either party hangs up a bridged call (a transfer changes that on
 * the participant it keeps in the room).
 */
export function conferencePlan(
  route: Exclude<VoiceRoute, { kind: 'refuse' }>,
  room: string,
  calledNumber: string | undefined,
  callerNumber: string | undefined,
  parameters: readonly { name: string; value: string }[],
): { seat: CallerSeat; party: AddedParty } | undefined {
  const callerIdentity = route.sdkLegs.parent;
  const seat = { room, label: callerIdentity ? sdkLabel(callerIdentity) : PHONE_CALLER_LABEL };
  if (route.kind === 'number') {
    return { seat, party: { to: route.number, from: route.callerId, label: PHONE_CALLEE_LABEL } };
  }
  const query = new URLSearchParams(parameters.map(({ name, value }): [string, string] => [name, value])).toString();
  const to = `client:${route.identity}${query ? `?${query}` : ''}`;
  // A client is called from the SDK caller, or for a phone caller from the number it called (ours).
  const from = callerIdentity ? `client:${callerIdentity}` : (calledNumber ?? callerNumber);
  if (!from) return undefined;
  return { seat, party: { to, from, label: sdkLabel(route.identity), identity: route.identity } };
}
