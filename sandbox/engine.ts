// The sandbox's telephone network: calls and their legs, simulated Voice SDK phones and
// phone-network parties, and every webhook Twilio would send, signed as Twilio signs them. The REST
// routers and the control API are views onto this engine. The data types are in engine-types.ts, the
// TwiML runner in twiml.ts, Call Message Events (subscriptions, messages both ways) in call-messages.ts.
import { CallMessages } from './call-messages';
import { Conferences } from './conferences';
import { newSid, rfc2822, TwilioApiError } from './http';
import {
  isFinal,
  type Application,
  type Call,
  type CallStatus,
  type EngineKnobs,
  type EngineOptions,
  type OwnedNumber,
  type Phone,
  type PhoneCall,
  type PhoneListener,
  type PstnBehaviour,
  type Subscription,
} from './engine-types';
import { defaultCallKnobs, defaultConferenceKnobs, defaultIdempotencyKnobs, defaultMessageKnobs } from './knobs';
import { TwimlRunner, voiceParams } from './twiml';

export * from './engine-types';

export class CallEngine {
  readonly calls = new Map<string, Call>();
  readonly phones = new Map<string, Phone>();
  readonly pstn = new Map<string, PstnBehaviour>();
  readonly numbers = new Map<string, OwnedNumber>();
  readonly applications = new Map<string, Application>();
  /** Subscriptions created (idempotent repeats excluded), per call leg. */
  readonly subscriptionsCreated = new Map<string, number>();
  /** SDK messages sent on a leg with no subscription (delivered to nobody), per call leg. */
  readonly messagesDropped = new Map<string, number>();
  readonly knobs: EngineKnobs;
  /** Things that went wrong on the Twilio side (what Twilio's debugger would show). */
  readonly debugger: { at: string; code: number; callSid?: string; message: string }[] = [];

  /** Conference rooms and their participants (conferences.ts). */
  readonly conferences: Conferences;
  private readonly twiml: TwimlRunner;
  private readonly messages: CallMessages;

  constructor(private readonly opts: EngineOptions) {
    this.knobs = opts.knobs ?? {
      messages: defaultMessageKnobs(),
      idempotency: defaultIdempotencyKnobs(),
      calls: defaultCallKnobs(),
      conferences: defaultConferenceKnobs(),
    };
    this.twiml = new TwimlRunner(this, opts.webhooks);
    this.conferences = new Conferences(this, opts.webhooks, opts.accountSid);
    this.messages = new CallMessages(this, opts.webhooks);
  }

  now(): number {
    return this.opts.clock.now();
  }

  /** Notes what went wrong on the Twilio side, as Twilio's debugger would show it. */
  note(code: number, callSid: string | undefined, message: string): void {
    this.debugger.push({
      at: new Date(this.now()).toISOString(),
      code,
      ...(callSid === undefined ? {} : { callSid }),
      message,
    });
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

  /** @internal (twiml.ts) */
  newCall(fields: Pick<Call, 'from' | 'to' | 'direction' | 'status'> & Partial<Call>): Call {
    let markEnded!: () => void;
    const ended = new Promise<void>((resolve) => (markEnded = resolve));
    const call: Call = {
      sid: newSid('CA'),
      accountSid: this.opts.accountSid,
      dateCreated: this.now(),
      dateUpdated: this.now(),
      statusLog: [{ at: this.now(), status: fields.status }],
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
    if (!call) throw this.callNotFound(sid);
    return call;
  }

  /**
   * The call as the Calls API's fetch and list show it: as it was `calls.lagMs` ago (the knob), or
   * undefined when it is younger than that. Subresource creates see this too under `subresources: lagged`.
   */
  shownCall(sid: string): Call | undefined {
    const call = this.calls.get(sid);
    return call && this.asShown(call);
  }

  /** See shownCall. */
  asShown(call: Call): Call | undefined {
    const { lagMs } = this.knobs.calls;
    if (lagMs === 0) return call;
    const asOf = this.now() - lagMs;
    if (call.dateCreated > asOf) return undefined;
    const then = call.statusLog.filter((entry) => entry.at <= asOf).at(-1) ?? call.statusLog[0];
    if (!then) return call;
    const { startTime, endTime, ...rest } = call;
    return {
      ...rest,
      status: then.status,
      dateUpdated: then.at,
      ...(startTime !== undefined && startTime <= asOf ? { startTime } : {}),
      ...(endTime !== undefined && endTime <= asOf ? { endTime } : {}),
    };
  }

  /** The call as shown, or Twilio's 404 for a call it does not know (yet). */
  shownCallOr404(sid: string): Call {
    const call = this.shownCall(sid);
    if (!call) throw this.callNotFound(sid);
    return call;
  }

  private callNotFound(sid: string): TwilioApiError {
    return new TwilioApiError(
      404,
      20404,
      `The requested resource /2010-04-01/Accounts/${this.opts.accountSid}/Calls/${sid}.json was not found`,
    );
  }

  /** @internal (twiml.ts) */
  setStatus(call: Call, status: CallStatus) {
    call.status = status;
    call.dateUpdated = this.now();
    call.statusLog.push({ at: call.dateUpdated, status });
  }

  /** A phone-network caller dials one of our numbers. */
  placeInboundCall(from: string, to: string): Call {
    const number = [...this.numbers.values()].find((n) => n.phoneNumber === to);
    if (!number) throw new TwilioApiError(400, 21211, `${to} is not a number of this sandbox account`);
    const call = this.newCall({ from, to, direction: 'inbound', status: 'ringing', phoneNumberSid: number.sid });
    const app = number.voiceApplicationSid ? this.applications.get(number.voiceApplicationSid) : undefined;
    const url = app?.voiceUrl ?? number.voiceUrl;
    void this.twiml.run(call, { url, method: app?.voiceMethod ?? number.voiceMethod }, {});
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
    void this.twiml.run(call, { url: app.voiceUrl, method: app.voiceMethod }, { ...params, ApplicationSid: app.sid });
    return call;
  }

  /** `client.calls.create`: an outbound-api call to a number or client; its TwiML runs when answered. */
  createApiCall(input: {
    to: string;
    from: string;
    url?: string | undefined;
    method?: string | undefined;
    twiml?: string | undefined;
    statusCallback?: string | undefined;
    statusCallbackMethod?: string | undefined;
    statusCallbackEvent?: string[] | undefined;
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
      await this.twiml.run(call, { url: input.url, method: input.method, twiml: input.twiml }, {});
    })();
    return call;
  }

  /** Runs TwiML on a call that has none running (a conference participant's call, redirected). */
  /** @internal (conferences.ts) */
  runTwiml(call: Call, source: { url?: string | undefined; method?: string | undefined; twiml?: string | undefined }) {
    return this.twiml.run(call, source, {});
  }

  /** Rings the destination of an outbound leg; resolves true once answered. */
  /** @internal (twiml.ts) */
  async ring(leg: Call, timeoutSeconds = 30, customParameters: Record<string, string> = {}): Promise<boolean> {
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
        customParameters,
        received: [],
      };
      phone.calls.set(leg.sid, phoneCall);
      for (const l of phone.listeners) l.incoming?.(phoneCall);
      // A simulated phone answers only while no Voice SDK (a browser, through the gateway) is
      // registered as the same identity: a person's Device is never answered for them.
      if (phone.autoAnswer && phone.listeners.size === 0) leg.timers.push(setTimeout(() => this.answerLeg(leg), 5));
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
  /** @internal (twiml.ts) */
  answerCall(call: Call) {
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
    // A participant whose call ended leaves its conference (hung up, or its add failed).
    this.conferences.callEnded(call);
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

  // ---- status callbacks ------------------------------------------------------------------------

  /** @internal (twiml.ts) */
  reportStatus(call: Call, event: string, callStatus: CallStatus, extra: Record<string, string> = {}) {
    const cb = call.statusCallback;
    if (!cb || !cb.events.has(event)) return;
    const params = {
      ...voiceParams(call),
      CallStatus: callStatus,
      CallbackSource: 'call-progress-events',
      SequenceNumber: String(call.callbackSequence++),
      Timestamp: rfc2822(this.now()),
      ...(event === 'completed' ? extra : {}),
    };
    void this.opts.webhooks.send({ kind: 'status', url: cb.url, method: cb.method, params, unordered: true });
  }

  // ---- call messages (call-messages.ts) ----------------------------------------------------------

  /** POST …/Calls/{CallSid}/UserDefinedMessageSubscriptions.json */
  subscribe(
    callSid: string,
    input: { callback?: string | undefined; method?: string | undefined; idempotencyKey?: string | undefined },
  ): Subscription {
    return this.messages.subscribe(callSid, input);
  }

  unsubscribe(callSid: string, sid: string): void {
    this.messages.unsubscribe(callSid, sid);
  }

  /** POST …/Calls/{CallSid}/UserDefinedMessages.json: server → SDK. */
  sendToSdk(
    callSid: string,
    input: { content?: string | undefined; idempotencyKey?: string | undefined },
  ): { sid: string; dateCreated: number } {
    return this.messages.sendToSdk(callSid, input);
  }

  /** The SDK on `callSid` sends a message (`call.sendMessage`): see CallMessages.sendFromSdk. */
  sendFromSdk(
    identity: string,
    callSid: string,
    content: unknown,
    sdkVoiceEventSid?: string,
  ): Promise<{ voiceEventSid: string; deliveries: { status: number | null }[]; dropped?: true }> {
    return this.messages.sendFromSdk(identity, callSid, content, sdkVoiceEventSid);
  }

  /** Resets all calls, phones and counters (numbers and applications stay). */
  reset(): void {
    for (const call of this.calls.values()) for (const t of call.timers) clearTimeout(t);
    this.conferences.reset();
    this.calls.clear();
    for (const phone of this.phones.values()) phone.calls.clear();
    this.subscriptionsCreated.clear();
    this.messagesDropped.clear();
    this.debugger.length = 0;
  }
}
