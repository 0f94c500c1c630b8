// The sandbox's telephone network: calls and their legs, the TwiML subset the project uses,
// simulated Voice SDK phones and phone-network parties, and every webhook Twilio would send,
// signed as Twilio signs them. The REST routers and the control API are views onto this engine.
import { XMLParser } from 'fast-xml-parser';
import type { SandboxClock } from './clock';
import { newSid, rfc2822, TwilioApiError } from './http';
import { WebhookSender } from './webhooks';

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
  dialedLeg?: string;
  /** Resolves when the call reaches a final status. */
  ended: Promise<void>;
  markEnded: () => void;
  /** Replaces the TwiML a call is executing (REST Url/Twiml update). */
  redirect?: { twiml?: string; url?: string };
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

export interface EngineOptions {
  accountSid: string;
  authToken: string;
  clock: SandboxClock;
  webhooks: WebhookSender;
}

type Verb = Record<string, unknown>;
const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  preserveOrder: true,
  parseAttributeValue: false,
  parseTagValue: false,
});

export class CallEngine {
  readonly calls = new Map<string, Call>();
  readonly phones = new Map<string, Phone>();
  readonly pstn = new Map<string, PstnBehaviour>();
  readonly numbers = new Map<string, OwnedNumber>();
  readonly applications = new Map<string, Application>();
  /** Subscriptions created (idempotent repeats excluded), per call leg. */
  readonly subscriptionsCreated = new Map<string, number>();
  /** Things that went wrong on the Twilio side (what Twilio's debugger would show). */
  readonly debugger: { at: string; code: number; callSid?: string; message: string }[] = [];

  constructor(private readonly opts: EngineOptions) {}

  private now() {
    return this.opts.clock.now();
  }

  // ---- setup ---------------------------------------------------------------------------------

  addNumber(phoneNumber: string, voiceUrl = '', friendlyName = phoneNumber): OwnedNumber {
    const number: OwnedNumber = {
      sid: newSid('PN'),
      phoneNumber,
      friendlyName,
      voiceUrl,
      voiceMethod: 'POST',
      voiceApplicationSid: null,
      dateCreated: this.now(),
      dateUpdated: this.now(),
    };
    this.numbers.set(number.sid, number);
    return number;
  }

  addApplication(friendlyName: string, voiceUrl: string, voiceMethod = 'POST'): Application {
    const app: Application = {
      sid: newSid('AP'),
      friendlyName,
      voiceUrl,
      voiceMethod,
      statusCallback: null,
      dateCreated: this.now(),
      dateUpdated: this.now(),
    };
    this.applications.set(app.sid, app);
    return app;
  }

  registerPhone(identity: string, autoAnswer = false): Phone {
    let phone = this.phones.get(identity);
    if (!phone) {
      phone = { identity, autoAnswer, calls: new Map(), listeners: new Set() };
      this.phones.set(identity, phone);
    }
    phone.autoAnswer = autoAnswer;
    return phone;
  }

  phone(identity: string): Phone {
    const phone = this.phones.get(identity);
    if (!phone) throw new TwilioApiError(404, 20404, `No phone is registered for ${identity}`);
    return phone;
  }

  // ---- calls ---------------------------------------------------------------------------------

  private newCall(fields: Pick<Call, 'from' | 'to' | 'direction' | 'status'> & Partial<Call>): Call {
    let markEnded!: () => void;
    const ended = new Promise<void>((resolve) => (markEnded = resolve));
    const call: Call = {
      sid: newSid('CA'),
      accountSid: this.opts.accountSid,
      dateCreated: this.now(),
      dateUpdated: this.now(),
      callbackSequence: 0,
      subscriptions: [],
      subscriptionKeys: new Map(),
      messageSequence: 0,
      messageKeys: new Map(),
      timers: [],
      ended,
      markEnded,
      ...fields,
    };
    this.calls.set(call.sid, call);
    return call;
  }

  call(sid: string): Call {
    const call = this.calls.get(sid);
    if (!call)
      throw new TwilioApiError(
        404,
        20404,
        `The requested resource /2010-04-01/Accounts/${this.opts.accountSid}/Calls/${sid}.json was not found`,
      );
    return call;
  }

  private setStatus(call: Call, status: CallStatus) {
    call.status = status;
    call.dateUpdated = this.now();
  }

  /** A phone-network caller dials one of our numbers. */
  placeInboundCall(from: string, to: string): Call {
    const number = [...this.numbers.values()].find((n) => n.phoneNumber === to);
    if (!number) throw new TwilioApiError(400, 21211, `${to} is not a number of this sandbox account`);
    const call = this.newCall({ from, to, direction: 'inbound', status: 'ringing', phoneNumberSid: number.sid });
    const app = number.voiceApplicationSid ? this.applications.get(number.voiceApplicationSid) : undefined;
    const url = app?.voiceUrl ?? number.voiceUrl;
    void this.runCall(call, { url, method: app?.voiceMethod ?? number.voiceMethod }, {});
    return call;
  }

  /** A Voice SDK phone places a call through a TwiML App (what `device.connect({params})` does). */
  placeSdkCall(identity: string, params: Record<string, string>, applicationSid?: string): Call {
    const phone = this.phone(identity);
    const app = applicationSid ? this.applications.get(applicationSid) : [...this.applications.values()][0];
    if (!app) throw new TwilioApiError(400, 21218, 'No TwiML App to place the call through');
    const call = this.newCall({
      from: `client:${identity}`,
      to: '',
      direction: 'inbound',
      status: 'ringing',
      sdkIdentity: identity,
    });
    const phoneCall: PhoneCall = {
      callSid: call.sid,
      direction: 'outgoing',
      state: 'pending',
      peer: params.To ?? '',
      customParameters: params,
      received: [],
    };
    phone.calls.set(call.sid, phoneCall);
    void this.runCall(call, { url: app.voiceUrl, method: app.voiceMethod }, { ...params, ApplicationSid: app.sid });
    return call;
  }

  /** `client.calls.create`: an outbound-api call to a number or client; its TwiML runs when answered. */
  createApiCall(input: {
    to: string;
    from: string;
    url?: string;
    method?: string;
    twiml?: string;
    statusCallback?: string;
    statusCallbackMethod?: string;
    statusCallbackEvent?: string[];
  }): Call {
    const call = this.newCall({ from: input.from, to: input.to, direction: 'outbound-api', status: 'queued' });
    if (input.statusCallback) {
      const events = new Set(input.statusCallbackEvent?.length ? input.statusCallbackEvent : ['completed']);
      call.statusCallback = { url: input.statusCallback, method: input.statusCallbackMethod ?? 'POST', events };
    }
    void (async () => {
      this.reportStatus(call, 'initiated', 'initiated');
      const answered = await this.ring(call);
      if (!answered) return;
      await this.runCall(call, { url: input.url, method: input.method, twiml: input.twiml }, {});
    })();
    return call;
  }

  /** Rings the destination of an outbound leg; resolves true once answered. */
  private async ring(leg: Call, timeoutSeconds = 30): Promise<boolean> {
    this.setStatus(leg, 'ringing');
    this.reportStatus(leg, 'ringing', 'ringing');
    const identity = leg.to.startsWith('client:') ? leg.to.slice(7) : undefined;
    if (identity) {
      const phone = this.phones.get(identity);
      if (!phone) {
        this.end(leg, 'no-answer');
        return false;
      }
      leg.sdkIdentity = identity;
      const parent = leg.parentCallSid ? this.calls.get(leg.parentCallSid) : undefined;
      const phoneCall: PhoneCall = {
        callSid: leg.sid,
        direction: 'incoming',
        state: 'ringing',
        peer: parent?.from ?? leg.from,
        customParameters: {},
        received: [],
      };
      phone.calls.set(leg.sid, phoneCall);
      for (const l of phone.listeners) l.incoming?.(phoneCall);
      if (phone.autoAnswer) leg.timers.push(setTimeout(() => this.answerLeg(leg), 5));
    } else {
      const behaviour = this.pstn.get(leg.to) ?? { answer: 'answer', answerDelayMs: 10 };
      leg.timers.push(
        setTimeout(() => {
          if (leg.status !== 'ringing') return;
          if (behaviour.answer === 'answer') this.answerLeg(leg);
          else this.end(leg, behaviour.answer);
        }, behaviour.answerDelayMs),
      );
    }
    leg.timers.push(setTimeout(() => leg.status === 'ringing' && this.end(leg, 'no-answer'), timeoutSeconds * 1000));
    await Promise.race([leg.ended, this.answeredPromise(leg)]);
    return leg.status === 'in-progress';
  }

  private answerWaiters = new Map<string, () => void>();
  private answeredPromise(leg: Call) {
    return new Promise<void>((resolve) => this.answerWaiters.set(leg.sid, resolve));
  }

  /** The far end of a ringing outbound leg picks up. */
  answerLeg(leg: Call): void {
    if (leg.status !== 'ringing') throw new TwilioApiError(400, 31211, `Call ${leg.sid} is ${leg.status}, not ringing`);
    this.setStatus(leg, 'in-progress');
    leg.startTime = this.now();
    const phoneCall = leg.sdkIdentity ? this.phones.get(leg.sdkIdentity)?.calls.get(leg.sid) : undefined;
    if (phoneCall) phoneCall.state = 'open';
    this.reportStatus(leg, 'answered', 'in-progress');
    this.answerWaiters.get(leg.sid)?.();
    this.answerWaiters.delete(leg.sid);
  }

  /** Answers a call that is executing TwiML (the first verb that needs media, or a bridged <Dial>). */
  private answerCall(call: Call) {
    if (call.status !== 'ringing' && call.status !== 'queued') return;
    this.setStatus(call, 'in-progress');
    call.startTime = this.now();
    this.updatePhoneCall(call, 'open', (l) => l.answered?.(call.sid));
  }

  /** Moves the SDK phone's view of a leg to `state` and tells its listeners; a closed call stays closed. */
  private updatePhoneCall(call: Call, state: 'open' | 'closed', notify: (listener: PhoneListener) => void) {
    const phone = call.sdkIdentity ? this.phones.get(call.sdkIdentity) : undefined;
    const phoneCall = phone?.calls.get(call.sid);
    if (!phone || !phoneCall || phoneCall.state === 'closed') return;
    phoneCall.state = state;
    for (const l of phone.listeners) notify(l);
  }

  /** Ends a leg with a final status; the other side of a bridge follows. */
  end(call: Call, status: CallStatus): void {
    if (isFinal(call.status)) return;
    const wasAnswered = call.status === 'in-progress';
    this.setStatus(call, status);
    call.endTime = this.now();
    for (const t of call.timers) clearTimeout(t);
    call.timers = [];
    this.updatePhoneCall(call, 'closed', (l) => l.hungUp?.(call.sid));
    const duration = wasAnswered && call.startTime ? Math.round((call.endTime - call.startTime) / 1000) : 0;
    this.reportStatus(call, 'completed', status, { CallDuration: String(duration) });
    if (call.dialedLeg) {
      const leg = this.calls.get(call.dialedLeg);
      if (leg) this.end(leg, leg.status === 'in-progress' ? 'completed' : 'canceled');
    }
    call.markEnded();
  }

  /** A party hangs up: the SDK phone, the phone-network party, or a REST update. */
  hangup(callSid: string): void {
    const call = this.call(callSid);
    this.end(call, call.status === 'in-progress' ? 'completed' : 'canceled');
  }

  /** A ringing SDK phone rejects an incoming call (Twilio reports the leg busy). */
  reject(callSid: string): void {
    const call = this.call(callSid);
    if (call.status !== 'ringing')
      throw new TwilioApiError(400, 31211, `Call ${callSid} is ${call.status}, not ringing`);
    this.end(call, 'busy');
  }

  // ---- TwiML ---------------------------------------------------------------------------------

  private async runCall(
    call: Call,
    source: { url?: string; method?: string; twiml?: string },
    extra: Record<string, string>,
  ) {
    let next: typeof source | undefined = source;
    while (next && !isFinal(call.status)) {
      const verbs = await this.fetchTwiml(call, next, extra);
      next = undefined;
      if (!verbs) {
        this.end(call, call.status === 'in-progress' ? 'completed' : 'failed');
        return;
      }
      for (const verb of verbs) {
        if (isFinal(call.status)) return;
        if (call.redirect) break;
        await this.execute(call, verb);
      }
      if (call.redirect) {
        next = call.redirect;
        call.redirect = undefined;
        extra = {};
      }
    }
    if (!isFinal(call.status)) this.end(call, call.status === 'in-progress' ? 'completed' : 'canceled');
  }

  private voiceParams(call: Call): Record<string, string> {
    return {
      AccountSid: call.accountSid,
      ApiVersion: '2010-04-01',
      CallSid: call.sid,
      CallStatus: call.status,
      Direction: call.direction,
      From: call.from,
      Caller: call.from,
      To: call.to,
      Called: call.to,
      ...(call.parentCallSid ? { ParentCallSid: call.parentCallSid } : {}),
    };
  }

  private async fetchTwiml(
    call: Call,
    source: { url?: string; method?: string; twiml?: string },
    extra: Record<string, string>,
  ): Promise<Verb[] | undefined> {
    let text = source.twiml;
    if (text === undefined) {
      if (!source.url) {
        this.debugger.push({
          at: new Date(this.now()).toISOString(),
          code: 21205,
          callSid: call.sid,
          message: 'No voice URL configured',
        });
        return undefined;
      }
      const response = await this.opts.webhooks.send({
        kind: 'voice',
        url: source.url,
        method: source.method ?? 'POST',
        params: { ...this.voiceParams(call), ...extra },
      });
      if (!response || response.status >= 400) {
        this.debugger.push({
          at: new Date(this.now()).toISOString(),
          code: 11200,
          callSid: call.sid,
          message: `HTTP ${response?.status ?? 'error'} from ${source.url}`,
        });
        return undefined;
      }
      text = response.body;
    }
    try {
      const doc = xml.parse(text) as Verb[];
      const root = doc.find((node) => 'Response' in node);
      if (!root) throw new Error('no <Response>');
      return (root.Response as Verb[]).filter((node) => !('#text' in node));
    } catch {
      this.debugger.push({
        at: new Date(this.now()).toISOString(),
        code: 12100,
        callSid: call.sid,
        message: 'Document parse failure',
      });
      return undefined;
    }
  }

  private async execute(call: Call, verb: Verb) {
    const name = Object.keys(verb).find((k) => k !== ':@')!;
    const attrs = (verb[':@'] ?? {}) as Record<string, string>;
    const children = (verb[name] ?? []) as Verb[];
    switch (name) {
      case 'Say':
      case 'Play':
      case 'Pause':
        this.answerCall(call);
        return;
      case 'Hangup':
        this.end(call, call.status === 'in-progress' ? 'completed' : 'canceled');
        return;
      case 'Reject':
        this.end(call, attrs.reason === 'rejected' ? 'canceled' : 'busy');
        return;
      case 'Dial':
        await this.dial(call, attrs, children);
        return;
      default:
        this.debugger.push({
          at: new Date(this.now()).toISOString(),
          code: 12200,
          callSid: call.sid,
          message: `The sandbox does not play <${name}>`,
        });
    }
  }

  private async dial(parent: Call, attrs: Record<string, string>, children: Verb[]) {
    if (attrs.answerOnBridge !== 'true') this.answerCall(parent);
    const noun = children.find((c) => 'Client' in c || 'Number' in c);
    const nounText = (children: Verb[]) => {
      const identityNode = children.find((c) => 'Identity' in c);
      const holder = identityNode ? (identityNode.Identity as Verb[]) : children;
      return String((holder.find((c) => '#text' in c)?.['#text'] as string | undefined) ?? '').trim();
    };
    if (!noun) {
      const text = nounText(children);
      if (!text) return;
      return this.dialLeg(parent, attrs, text, {});
    }
    const kind = 'Client' in noun ? 'Client' : 'Number';
    const target = nounText(noun[kind] as Verb[]);
    const nounAttrs = (noun[':@'] ?? {}) as Record<string, string>;
    await this.dialLeg(parent, attrs, kind === 'Client' ? `client:${target}` : target, nounAttrs);
  }

  private async dialLeg(
    parent: Call,
    dialAttrs: Record<string, string>,
    to: string,
    nounAttrs: Record<string, string>,
  ) {
    const from = dialAttrs.callerId || parent.from;
    const leg = this.newCall({ from, to, direction: 'outbound-dial', status: 'queued', parentCallSid: parent.sid });
    if (nounAttrs.statusCallback) {
      const events = (nounAttrs.statusCallbackEvent ?? '').split(/\s+/).filter(Boolean);
      leg.statusCallback = {
        url: nounAttrs.statusCallback,
        method: nounAttrs.statusCallbackMethod || 'POST',
        events: new Set(events.length ? events : ['completed']),
      };
    }
    parent.dialedLeg = leg.sid;
    this.setStatus(leg, 'initiated');
    this.reportStatus(leg, 'initiated', 'initiated');
    const timeout = Number(dialAttrs.timeout) > 0 ? Number(dialAttrs.timeout) : 30;
    const answered = await this.ring(leg, timeout);
    if (answered) {
      this.answerCall(parent);
      await Promise.race([leg.ended, parent.ended]);
    }
    parent.dialedLeg = undefined;
    if (!isFinal(leg.status)) this.end(leg, leg.status === 'in-progress' ? 'completed' : 'canceled');
  }

  // ---- status callbacks ------------------------------------------------------------------------

  private reportStatus(call: Call, event: string, callStatus: CallStatus, extra: Record<string, string> = {}) {
    const cb = call.statusCallback;
    if (!cb || !cb.events.has(event)) return;
    const params = {
      ...this.voiceParams(call),
      CallStatus: callStatus,
      CallbackSource: 'call-progress-events',
      SequenceNumber: String(call.callbackSequence++),
      Timestamp: rfc2822(this.now()),
      ...(event === 'completed' ? extra : {}),
    };
    void this.opts.webhooks.send({ kind: 'status', url: cb.url, method: cb.method, params, unordered: true });
  }

  // ---- call messages ---------------------------------------------------------------------------

  /** POST …/Calls/{CallSid}/UserDefinedMessageSubscriptions.json */
  subscribe(callSid: string, input: { callback?: string; method?: string; idempotencyKey?: string }): Subscription {
    const call = this.call(callSid);
    if (input.idempotencyKey) {
      const existing = call.subscriptionKeys.get(input.idempotencyKey);
      if (existing) return existing;
    }
    if (!input.callback) throw new TwilioApiError(400, 20001, 'Missing required parameter Callback in the post body');
    let url: URL;
    try {
      url = new URL(input.callback);
    } catch {
      throw new TwilioApiError(400, 21205, 'Callback is not a valid URL');
    }
    if (!/^https?:$/.test(url.protocol) || url.hostname.includes('_'))
      throw new TwilioApiError(400, 21205, 'Callback is not a valid URL');
    const method = (input.method ?? 'POST').toUpperCase();
    if (method !== 'GET' && method !== 'POST') throw new TwilioApiError(400, 20001, 'Method must be GET or POST');
    if (!isActive(call.status)) {
      throw new TwilioApiError(
        400,
        31211,
        'Call is not in the expected state. The call must be at least in the Ringing state to Subscribe and send Call Message',
      );
    }
    const sub: Subscription = {
      sid: newSid('ZY'),
      callSid,
      callback: input.callback,
      method,
      dateCreated: this.now(),
      removed: false,
    };
    call.subscriptions.push(sub);
    if (input.idempotencyKey) call.subscriptionKeys.set(input.idempotencyKey, sub);
    this.subscriptionsCreated.set(callSid, (this.subscriptionsCreated.get(callSid) ?? 0) + 1);
    return sub;
  }

  unsubscribe(callSid: string, sid: string): void {
    const sub = this.call(callSid).subscriptions.find((s) => s.sid === sid && !s.removed);
    if (!sub)
      throw new TwilioApiError(
        404,
        20404,
        `The requested resource UserDefinedMessageSubscriptions/${sid} was not found`,
      );
    sub.removed = true;
  }

  /** POST …/Calls/{CallSid}/UserDefinedMessages.json: server → SDK. */
  sendToSdk(
    callSid: string,
    input: { content?: string; idempotencyKey?: string },
  ): { sid: string; dateCreated: number } {
    const call = this.call(callSid);
    if (input.idempotencyKey) {
      const existing = call.messageKeys.get(input.idempotencyKey);
      if (existing) return existing;
    }
    if (input.content === undefined || input.content === '')
      throw new TwilioApiError(400, 20001, 'Missing required parameter Content in the post body');
    if (input.content.length > 10_000)
      throw new TwilioApiError(400, 32703, 'Content body exceeded max length of 10000 characters');
    let content: unknown;
    try {
      content = JSON.parse(input.content);
    } catch {
      throw new TwilioApiError(400, 32702, 'Invalid Content: only data in JSON format is supported');
    }
    if (!isActive(call.status)) {
      throw new TwilioApiError(
        400,
        31211,
        'Call is not in the expected state. The call must be at least in the Ringing state to Subscribe and send Call Message',
      );
    }
    const message = { sid: newSid('KX'), dateCreated: this.now() };
    if (input.idempotencyKey) call.messageKeys.set(input.idempotencyKey, message);
    const phone = call.sdkIdentity ? this.phones.get(call.sdkIdentity) : undefined;
    const phoneCall = phone?.calls.get(callSid);
    if (!phone || !phoneCall) {
      // Accepted, but no Voice SDK is on this leg to receive it: Twilio reports 32700 in the debugger.
      this.debugger.push({
        at: new Date(this.now()).toISOString(),
        code: 32700,
        callSid,
        message: 'No Voice SDK on this call leg',
      });
      return message;
    }
    const received: PhoneMessage = {
      voiceEventSid: message.sid,
      content,
      contentType: 'application/json',
      messageType: 'user-defined-message',
      receivedAt: new Date(this.now()).toISOString(),
    };
    phoneCall.received.push(received);
    for (const l of phone.listeners) l.message?.(callSid, received);
    return message;
  }

  /**
   * The SDK on `callSid` sends a message (`call.sendMessage`): delivered to each active subscription
   * of that leg, signed, with SequenceNumber counting from 0. Nothing is sent without a subscription.
   */
  async sendFromSdk(
    identity: string,
    callSid: string,
    content: unknown,
    sdkVoiceEventSid?: string,
  ): Promise<{ voiceEventSid: string; deliveries: { status: number | null }[] }> {
    const phoneCall = this.phone(identity).calls.get(callSid);
    const call = this.call(callSid);
    if (!phoneCall || call.sdkIdentity !== identity)
      throw new TwilioApiError(400, 31211, `${identity} is not on call ${callSid}`);
    if (!isActive(call.status)) throw new TwilioApiError(400, 31211, 'Call is not in the expected state');
    // The SDK names each message (voiceeventsid, KX…); Twilio passes it on as the callback's Sid.
    const voiceEventSid =
      sdkVoiceEventSid && /^KX[0-9a-f]{32}$/.test(sdkVoiceEventSid) ? sdkVoiceEventSid : newSid('KX');
    const subs = call.subscriptions.filter((s) => !s.removed);
    const deliveries = await Promise.all(
      subs.map(async (sub) => {
        const params = {
          ContentType: 'application/json',
          Content: typeof content === 'string' ? content : JSON.stringify(content),
          SequenceNumber: String(call.messageSequence++),
          CallSid: callSid,
          Timestamp: rfc2822(this.now()),
          AccountSid: call.accountSid,
          Sid: voiceEventSid,
        };
        const response = await this.opts.webhooks.send({
          kind: 'message',
          url: sub.callback,
          method: sub.method,
          params,
          retry: true,
        });
        if (!response || response.status >= 300) {
          this.debugger.push({
            at: new Date(this.now()).toISOString(),
            code: 32711,
            callSid,
            message: `Subscription callback answered ${response?.status ?? 'nothing'}`,
          });
        }
        return { status: response?.status ?? null };
      }),
    );
    return { voiceEventSid, deliveries };
  }

  /** Resets all calls, phones and counters (numbers and applications stay). */
  reset(): void {
    for (const call of this.calls.values()) for (const t of call.timers) clearTimeout(t);
    this.calls.clear();
    for (const phone of this.phones.values()) phone.calls.clear();
    this.subscriptionsCreated.clear();
    this.debugger.length = 0;
  }
}
