// A typed client for the sandbox's control API (documented in sandbox/README.md).
import type { SyncWriteLimits } from './rest/sync/state';
import { compactJson } from '../lib/shared/json-text';
import type { ConferenceKnobs, KnobSettings } from './knobs';
import type { FunctionsKnobs, GatewayRecord } from './functions-gateway';

export type {
  KnobSettings,
  SandboxProfile,
  IdempotencyVariant,
  CallSubresourceView,
  RingingSubscriptions,
  ConferenceKnobs,
} from './knobs';
export interface PhoneCallView {
  callSid: string;
  direction: 'incoming' | 'outgoing';
  state: 'pending' | 'ringing' | 'open' | 'closed';
  peer: string;
  status?: string;
  customParameters: Record<string, string>;
  received: { voiceEventSid: string; content: unknown; contentType: string; receivedAt: string }[];
}

export interface CallView {
  sid: string;
  parentCallSid: string | null;
  from: string;
  to: string;
  direction: string;
  status: string;
  sdkIdentity: string | null;
  /** The leg its <Dial> called, if it ran one. */
  dialedLeg: string | null;
  subscriptions: { sid: string; callback: string; method: string; removed: boolean }[];
  subscriptionsCreated: number;
  /** SDK messages delivered to the leg's subscriptions, and those dropped for want of one. */
  messagesSentBySdk: number;
  messagesDropped: number;
  /** Present while the leg is a conference participant: the room's name and its state there. */
  conference?: string;
  hold?: boolean;
  muted?: boolean;
}

/** A conference room as `GET /conferences` shows it. */
export interface ConferenceView {
  name: string;
  sid: string;
  status: 'init' | 'in-progress' | 'completed';
  reasonEnded: string | null;
  participants: {
    callSid: string;
    label: string | null;
    status: string;
    hold: boolean;
    muted: boolean;
    coaching: boolean;
    endConferenceOnExit: boolean;
  }[];
  eventsSent: number;
  sequence: number;
}

/** Every knob as `GET /knobs` shows it. */
export interface KnobsView {
  profile: KnobSettings['profile'];
  faults: Record<string, unknown>;
  webhooks: Record<string, unknown>;
  sync: {
    missingMapCode: number;
    writeLimits: SyncWriteLimits | null;
  };
  messages: { firstSequenceNumber: number; sdkSidFormat: 'js' | 'uuid'; ringingSubscriptions: string };
  idempotency: { variant: string };
  calls: { lagMs: number; subresources: string };
  functions: FunctionsKnobs;
  conferences: ConferenceKnobs;
}

export class SandboxControlError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`sandbox control API answered ${status}: ${JSON.stringify(body)}`);
  }
}

export class SandboxControl {
  constructor(readonly url: string) {}

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}/sandbox${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: compactJson(body) }),
    });
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as unknown) : null;
    if (res.status >= 400) throw new SandboxControlError(res.status, parsed);
    return parsed as T;
  }

  info() {
    return this.request<{ accountSid: string; phoneNumber: string; applicationSid: string; functionsUrl: string }>(
      'GET',
      '/',
    );
  }
  registerPhone(identity: string, opts: { autoAnswer?: boolean } = {}) {
    return this.request<{ identity: string }>('POST', '/phones', { identity, autoAnswer: opts.autoAnswer ?? false });
  }
  phone(identity: string) {
    return this.request<{ identity: string; calls: PhoneCallView[] }>('GET', `/phones/${encodeURIComponent(identity)}`);
  }
  /** The SDK phone places a call through the TwiML App, like `device.connect({ params: { To: to, ... } })`. */
  placeCall(identity: string, to: string, params: Record<string, string> = {}) {
    return this.request<{ callSid: string }>('POST', `/phones/${encodeURIComponent(identity)}/calls`, { to, params });
  }
  answer(identity: string, callSid: string) {
    return this.request<{ status: string }>(
      'POST',
      `/phones/${encodeURIComponent(identity)}/calls/${callSid}/answer`,
      {},
    );
  }
  reject(identity: string, callSid: string) {
    return this.request<{ status: string }>(
      'POST',
      `/phones/${encodeURIComponent(identity)}/calls/${callSid}/reject`,
      {},
    );
  }
  hangup(identity: string, callSid: string) {
    return this.request<{ status: string }>(
      'POST',
      `/phones/${encodeURIComponent(identity)}/calls/${callSid}/hangup`,
      {},
    );
  }
  /**
   * `call.sendMessage(...)` from the SDK phone; resolves after the subscription callback(s) answered.
   * With no subscription on the leg the message reaches nobody: `{deliveries: [], dropped: true}`.
   */
  sendFromPhone(identity: string, callSid: string, content: unknown) {
    return this.request<{ voiceEventSid: string; deliveries: { status: number | null }[]; dropped?: true }>(
      'POST',
      `/phones/${encodeURIComponent(identity)}/calls/${callSid}/messages`,
      { content },
    );
  }
  /** A phone-network caller dials our number (default: the sandbox number). */
  callIn(from: string, to?: string) {
    return this.request<{ callSid: string }>('POST', '/pstn/calls', { from, to });
  }
  setPstnBehaviour(number: string, answer: 'answer' | 'busy' | 'no-answer' | 'failed', answerDelayMs = 10) {
    return this.request('POST', `/pstn/numbers/${encodeURIComponent(number)}`, { answer, answerDelayMs });
  }
  calls() {
    return this.request<{ calls: CallView[] }>('GET', '/calls');
  }
  conferences() {
    return this.request<{ conferences: ConferenceView[] }>('GET', '/conferences');
  }
  /** The active conference of that name, else the newest one. */
  conference(name: string) {
    return this.request<ConferenceView>('GET', `/conferences/${encodeURIComponent(name)}`);
  }
  /** What an operator does in Twilio's console to a participant (by CallSid or label). */
  participantAction(name: string, callSid: string, action: 'hold' | 'unhold' | 'mute' | 'unmute' | 'remove') {
    return this.request<ConferenceView>(
      'POST',
      `/conferences/${encodeURIComponent(name)}/participants/${encodeURIComponent(callSid)}/${action}`,
      {},
    );
  }
  call(callSid: string) {
    return this.request<CallView>('GET', `/calls/${callSid}`);
  }
  hangupCall(callSid: string) {
    return this.request<CallView>('POST', `/calls/${callSid}/hangup`, {});
  }
  stats() {
    return this.request<{
      requests: number;
      counters: Record<string, number>;
      webhooks: Record<string, number>;
      subscriptionsPerLeg: Record<string, number>;
      messagesDropped: { total: number; perLeg: Record<string, number> };
      statusCallbacksHeld: { held: number; timedOut: number };
      debugger: unknown[];
    }>('GET', '/stats');
  }
  /** Sets knobs: `profile` first, then each section over it (null switches an optional fault off). */
  knobs(knobs: KnobSettings) {
    return this.request<KnobsView>('POST', '/knobs', knobs);
  }
  getKnobs() {
    return this.request<KnobsView>('GET', '/knobs');
  }
  /** The Functions gateway: its URLs and the last requests through it (newest last). */
  functionsGateway() {
    return this.request<{ url: string; upstream: string; requests: GatewayRecord[] }>('GET', '/functions-gateway');
  }
  advanceClock(seconds: number) {
    return this.request('POST', '/clock', { advanceSeconds: seconds });
  }
  /** Waits until no webhook is in flight. */
  idle() {
    return this.request('POST', '/idle', {});
  }
  reset() {
    return this.request('POST', '/reset', {});
  }
}
