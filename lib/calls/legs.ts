// The rules of Voice SDK call legs: who gets dialed, and which legs carry call messages.
// Calls INTO the SDK: the SDK's leg is the <Dial> child (CallSid in the <Client> status callback).
// Calls OUT of the SDK: the SDK's leg is the parent (ParentCallSid in the status callback).
// Client → client: both legs are SDK legs.
import type { SdkLegs } from './callback-urls';
import { clientIdentity, isE164, isCallSid, isIdentity } from '../shared/identifiers';
import { parseRoom } from './conference';

export type VoiceRoute =
  | { kind: 'client'; identity: string; sdkLegs: SdkLegs }
  | { kind: 'number'; number: string; callerId: string; sdkLegs: SdkLegs }
  | { kind: 'refuse'; reason: string; say: string };

export interface VoiceRoutingConfig {
  /** CLIENT_IDENTITY: who answers calls to our phone number(s). */
  inboundIdentity?: string | undefined;
  /** CALLER_ID: the verified number SDK calls to the phone network show. */
  callerId?: string | undefined;
}

/** Decides where a call that Twilio sent to `/voice` goes. */
export function routeVoiceCall(event: Record<string, unknown>, config: VoiceRoutingConfig): VoiceRoute {
  const caller = clientIdentity(event.From) ?? clientIdentity(event.Caller);
  if (caller) return routeSdkCall(caller, event.To, config);
  if (!config.inboundIdentity) {
    return {
      kind: 'refuse',
      reason: 'CLIENT_IDENTITY is not set',
      say: 'Sorry, nobody can take calls at this number yet.',
    };
  }
  if (!isIdentity(config.inboundIdentity)) {
    // /call-status could never match this leg back, so it would never be subscribed.
    return {
      kind: 'refuse',
      reason: 'CLIENT_IDENTITY is not a valid client identity',
      say: 'Sorry, nobody can take calls at this number yet.',
    };
  }
  return { kind: 'client', identity: config.inboundIdentity, sdkLegs: { child: config.inboundIdentity } };
}

function routeSdkCall(caller: string, to: unknown, config: VoiceRoutingConfig): VoiceRoute {
  const target = typeof to === 'string' ? to.trim() : '';
  if (isE164(target)) {
    if (!config.callerId) {
      return { kind: 'refuse', reason: 'CALLER_ID is not set', say: 'Calls to phone numbers are not set up yet.' };
    }
    return { kind: 'number', number: target, callerId: config.callerId, sdkLegs: { parent: caller } };
  }
  const callee = clientIdentity(target) ?? (isIdentity(target) && !/^\+?\d+$/.test(target) ? target : undefined);
  if (callee) return { kind: 'client', identity: callee, sdkLegs: { parent: caller, child: callee } };
  return {
    kind: 'refuse',
    reason: target ? 'To is neither an E.164 number nor a client identity' : 'To is missing',
    say: 'Sorry, that number or client could not be reached.',
  };
}

/** One SDK leg named by a status callback. */
export interface SdkLeg {
  callSid: string;
  role: 'parent' | 'child';
  identity: string;
  /** The other party: a number or `client:<identity>` (`conference:<room>` for a participant). */
  peer: string;
  parentCallSid: string;
  /** The conference room the leg is a participant of. */
  conference?: string | undefined;
}

/**
 * The SDK legs a `<Dial>` status callback is about, from the `cme_*` keys `/voice` put in its URL
 * and the callback's CallSid (child) and ParentCallSid (parent).
 */
export function sdkLegsOfStatusCallback(event: Record<string, unknown>): SdkLeg[] {
  if (event.cme_sdk === 'call') return conferenceLegOfStatusCallback(event);
  const childSid = event.CallSid;
  const parentSid = event.ParentCallSid;
  if (!isCallSid(childSid) || !isCallSid(parentSid)) return [];
  const sdk = event.cme_sdk;
  const parentIdentity = typeof event.cme_parent === 'string' ? event.cme_parent : undefined;
  const childIdentity = typeof event.cme_child === 'string' ? event.cme_child : undefined;
  const from = typeof event.From === 'string' ? event.From : '';
  const to = typeof event.To === 'string' ? event.To : '';
  const legs: SdkLeg[] = [];
  if ((sdk === 'parent' || sdk === 'both') && parentIdentity && isIdentity(parentIdentity)) {
    legs.push({ callSid: parentSid, role: 'parent', identity: parentIdentity, peer: to, parentCallSid: parentSid });
  }
  if ((sdk === 'child' || sdk === 'both') && childIdentity && isIdentity(childIdentity)) {
    legs.push({ callSid: childSid, role: 'child', identity: childIdentity, peer: from, parentCallSid: parentSid });
  }
  return legs;
}

const CONFERENCE_PEER = 'conference:';
/** What a conference leg's state names as its peer: the room it is in. */
export const conferencePeer = (room: string) => `${CONFERENCE_PEER}${room}`;
/** The room a leg's recorded peer names, if it is a conference participant. */
export const roomOfPeer = (peer: string | undefined) =>
  peer?.startsWith(CONFERENCE_PEER) ? parseRoom(peer.slice(CONFERENCE_PEER.length))?.room : undefined;

/**
 * The SDK leg of a participant's own status callback (`cme_sdk=call`): the call a Voice SDK answered
 * when added to the room. Its parent is the call that opened the room, as a <Dial> child's is the
 * call that dialled it.
 */
function conferenceLegOfStatusCallback(event: Record<string, unknown>): SdkLeg[] {
  const room = parseRoom(event.cme_conf);
  const identity = event.cme_child;
  if (!isCallSid(event.CallSid) || !room || !isIdentity(identity)) return [];
  return [
    {
      callSid: event.CallSid,
      role: 'child',
      identity,
      peer: conferencePeer(room.room),
      parentCallSid: room.originCallSid,
      conference: room.room,
    },
  ];
}

/**
 * The SDK leg a conference participant is, from its label: the call that opened the room is the
 * SDK caller's own (a parent, as when it dials); any other is a call into the SDK (a child).
 */
export function conferenceLeg(
  room: { room: string; originCallSid: string },
  callSid: string,
  identity: string,
): SdkLeg {
  const parent = callSid === room.originCallSid;
  return {
    callSid,
    role: parent ? 'parent' : 'child',
    identity,
    peer: conferencePeer(room.room),
    parentCallSid: room.originCallSid,
    conference: room.room,
  };
}

// A leg's statuses are part of the API's shapes (lib/shared/api-types.ts); the rules live here.
export { FINAL_STATUSES, isFinalStatus, type FinalStatus } from '../shared/api-types';
/** A call Twilio accepts call messages and subscriptions on: ringing or in progress. */
export const isActiveStatus = (s: unknown) => s === 'ringing' || s === 'in-progress';
/**
 * A leg the status callbacks last reported live: ringing or in progress, or a parent at initiated
 * (the SDK's own call out is answered before its <Dial> starts the child the callbacks are about).
 */
export const isLiveLeg = (leg: { role: 'parent' | 'child'; status: string }) =>
  isActiveStatus(leg.status) || (leg.role === 'parent' && leg.status === 'initiated');
const STATUS_RANK: Partial<Record<string, number>> = { initiated: 0, ringing: 1, 'in-progress': 2 };
/** How far along a leg is (a final status is furthest): a callback never moves a recorded status back. */
export const statusRank = (status: string) => STATUS_RANK[status] ?? 3;

/** What a leg's state records of the leg itself. */
export function sdkLegFields(leg: SdkLeg) {
  return {
    callSid: leg.callSid,
    parentCallSid: leg.parentCallSid,
    role: leg.role,
    identity: leg.identity,
    peer: leg.peer,
  };
}

/**
 * The SDK identity whose own leg a Calls API record is: the call an SDK placed (From client:…,
 * Direction inbound) or a call dialled to one (To client:…). A <Dial> child leg also shows the
 * caller's From=client:…, so From counts only on the leg the SDK placed.
 */
export function sdkIdentityOfCall(call: { from?: string | null; to?: string | null; direction?: string }) {
  return (call.direction === 'inbound' ? clientIdentity(call.from) : undefined) ?? clientIdentity(call.to);
}
