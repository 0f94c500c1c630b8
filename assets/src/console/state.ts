// What the operator console holds across its modules: the session and the call whose messages are open.

import type { CallMessagePageItem, CallMessagesPage, LegState, OperatorCall } from '../../../lib/shared/api-types';

export type CallRow = OperatorCall;
export type Message = CallMessagePageItem & { data?: unknown };
export type CallHistory = CallMessagesPage & { messages: Message[] };

/** The open call's history as read so far: later polls ask only for what came after its last few messages. */
export interface OpenHistory {
  callSid: string;
  state?: LegState | null;
  messages: Message[];
}

export interface Session {
  session: string;
  expiresAt: string;
}

export const state: { session?: Session | undefined; selected?: string | undefined } = {};
