// The sandbox's telephone network as data: calls and their legs, subscriptions, simulated Voice SDK
// phones and phone-network parties, numbers and TwiML Apps. The CallEngine (engine.ts) drives them.
import type { SandboxClock } from './clock';
import type { CallKnobs, ConferenceKnobs, IdempotencyKnobs, MessageKnobs } from './knobs';
import type { WebhookSender } from './webhooks';

export type CallStatus =
  'queued' | 'initiated' | 'ringing' | 'in-progress' | 'completed' | 'busy' | 'failed' | 'no-answer' | 'canceled';
export type CallDirection = 'inbound' | 'outbound-api' | 'outbound-dial';
const FINAL: CallStatus[] = ['completed', 'busy', 'failed', 'no-answer', 'canceled'];
export const isFinal = (s: CallStatus) => FINAL.includes(s);
export const isActive = (s: CallStatus) => s === 'ringing' || s === 'in-progress';

export interface Subscription {
  sid: string;
  callSid: string;
  callback: string;
  method: 'GET' | 'POST';
  dateCreated: number;
  removed: boolean;
}

export interface Call {
  sid: string;
  accountSid: string;
  parentCallSid?: string;
  from: string;
  to: string;
  direction: CallDirection;
  status: CallStatus;
  dateCreated: number;
  dateUpdated: number;
  startTime?: number;
  endTime?: number;
  /** Every status the call has had and since when (oldest first): what a lagging Calls API shows. */
  statusLog: { at: number; status: CallStatus }[];
  phoneNumberSid?: string;
  /** Identity of the simulated SDK phone on this leg, if it is a Voice SDK leg. */
  sdkIdentity?: string;
  statusCallback?: { url: string; method: string; events: Set<string> };
  callbackSequence: number;
  subscriptions: Subscription[];
  subscriptionKeys: Map<string, Subscription>;
  messageSequence: number;
  messageKeys: Map<string, { sid: string; dateCreated: number }>;
  /** The leg a <Dial> on this call is ringing or bridged to. */
  dialedLeg?: string | undefined;
  /** Resolves when the call reaches a final status. */
  ended: Promise<void>;
  markEnded: () => void;
  /** Replaces the TwiML a call is executing (REST Url/Twiml update). */
  redirect?: { twiml?: string | undefined; url?: string | undefined } | undefined;
  timers: NodeJS.Timeout[];
}

export interface PhoneMessage {
  voiceEventSid: string;
  content: unknown;
  contentType: string;
  messageType: 'user-defined-message';
  receivedAt: string;
}

export interface PhoneCall {
  callSid: string;
  direction: 'incoming' | 'outgoing';
  state: 'pending' | 'ringing' | 'open' | 'closed';
  peer: string;
  customParameters: Record<string, string>;
  received: PhoneMessage[];
}

/** What a connected client (the Voice SDK gateway) hears from the engine. */
export interface PhoneListener {
  incoming?(call: PhoneCall): void;
  ringing?(callSid: string): void;
  answered?(callSid: string): void;
  hungUp?(callSid: string): void;
  message?(callSid: string, message: PhoneMessage): void;
}

export interface Phone {
  identity: string;
  autoAnswer: boolean;
  calls: Map<string, PhoneCall>;
  listeners: Set<PhoneListener>;
}

export interface PstnBehaviour {
  answer: 'answer' | 'busy' | 'no-answer' | 'failed';
  answerDelayMs: number;
}

export interface OwnedNumber {
  sid: string;
  phoneNumber: string;
  friendlyName: string;
  voiceUrl: string;
  voiceMethod: string;
  voiceApplicationSid: string | null;
  dateCreated: number;
  dateUpdated: number;
}

export interface Application {
  sid: string;
  friendlyName: string;
  voiceUrl: string;
  voiceMethod: string;
  statusCallback: string | null;
  dateCreated: number;
  dateUpdated: number;
}

export interface EngineKnobs {
  messages: MessageKnobs;
  idempotency: IdempotencyKnobs;
  calls: CallKnobs;
  conferences: ConferenceKnobs;
}

export interface EngineOptions {
  accountSid: string;
  authToken: string;
  clock: SandboxClock;
  webhooks: WebhookSender;
  /** Live knobs the engine reads (defaults when absent): messages, reused IdempotencyKeys, the Calls API's lag, conferences. */
  knobs?: EngineKnobs;
}
