// What the operator console holds across its modules: the session, the calls listed and the call
// (and leg) whose messages are open.

import type { OperatorSession } from '../shared/operator-session';
import type { CallMessagePageItem, CallMessagesPage, LegState, OperatorCall } from '../../../lib/shared/api-types';

export type CallRow = OperatorCall;
export type Message = CallMessagePageItem & { data?: unknown };
export type CallHistory = CallMessagesPage & { messages: Message[] };

/** The open leg's history as read so far: later reads ask only for what came after its last few messages. */
export interface OpenHistory {
  callSid: string;
  state?: LegState | null;
  messages: Message[];
  /** The last read reached the history's end: `messages` is all of it (its length, the leg's count). */
  complete?: boolean;
}

/** The operator's session (kept in the tab, shared with the status page). */
export type Session = OperatorSession;

/** One call as the console lists it: its SDK legs grouped (a client → client call has two). */
export interface CallGroup {
  /** The parent call's Sid (what the legs share), or the leg's own while its state is unknown. */
  key: string;
  legs: CallRow[];
  caller: string;
  callee: string;
  live: boolean;
  /** Every leg past the active-call TTL with no end reported. */
  endUnknown: boolean;
  status: string;
  startedAt: number;
  /** Seconds, when every leg has ended; undefined while live. */
  durationSeconds?: number | undefined;
}

export const state: {
  session?: Session | undefined;
  /** The open call's key (CallGroup.key). */
  selectedCall?: string | undefined;
  /** The open leg (messages shown and sent to). */
  selected?: string | undefined;
  groups: Map<string, CallGroup>;
  /** Messages counted per leg (/operator-calls `count=`); `atLeast`: the count was cut short. */
  counts: Map<string, { count: number; atLeast?: true | undefined }>;
} = { groups: new Map(), counts: new Map() };
