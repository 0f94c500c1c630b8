// Call Message Events on the sandbox's calls: UserDefinedMessageSubscriptions (SDK → server
// callbacks), UserDefinedMessages (server → SDK) and what the SDK sends (call.sendMessage).
import { randomUUID } from 'node:crypto';
import type { CallEngine } from './engine';
import { isActive, type Call, type PhoneMessage, type Subscription } from './engine-types';
import { compactJson } from '../lib/shared/json-text';
import { newSid, rfc2822, TwilioApiError } from './http';
import type { WebhookSender } from './webhooks';

const NOT_ACTIVE =
  'Call is not in the expected state. The call must be at least in the Ringing state to Subscribe and send Call Message';

export class CallMessages {
  constructor(
    private readonly engine: CallEngine,
    private readonly webhooks: WebhookSender,
  ) {}

  /**
   * A create with an IdempotencyKey this leg has seen, by the `idempotency.variant` knob: `same` gives
   * the first resource back, `refused` answers 409 / 20409 (a guess), `ignored` lets a second one be made.
   */
  private reused<T>(call: Call, keys: Map<string, T>, key: string | undefined, what: string): T | undefined {
    if (!key) return undefined;
    const existing = keys.get(key);
    if (!existing) return undefined;
    const { variant } = this.engine.knobs.idempotency;
    if (variant === 'same') return existing;
    if (variant === 'refused')
      throw new TwilioApiError(
        409,
        20409,
        `Conflict: IdempotencyKey ${key} was already used for a ${what} on ${call.sid}`,
      );
    return undefined;
  }

  /**
   * The status a subresource create sees: the call's own, or under `calls.subresources: lagged`
   * what the Calls API shows (20404 while the call is too young to be shown).
   */
  private statusSeen(call: Call): Call['status'] {
    if (this.engine.knobs.calls.subresources === 'current') return call.status;
    return this.engine.shownCallOr404(call.sid).status;
  }

  /** POST …/Calls/{CallSid}/UserDefinedMessageSubscriptions.json */
  subscribe(
    callSid: string,
    input: { callback?: string | undefined; method?: string | undefined; idempotencyKey?: string | undefined },
  ): Subscription {
    const call = this.engine.call(callSid);
    const existing = this.reused(call, call.subscriptionKeys, input.idempotencyKey, 'UserDefinedMessageSubscription');
    if (existing) return existing;
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
    // Ringing or in-progress: Twilio accepts subscriptions on ringing calls since May 2023 (the
    // `messages.ringingSubscriptions` knob plays the refusal before it).
    const status = this.statusSeen(call);
    if (!isActive(status)) throw new TwilioApiError(400, 31211, NOT_ACTIVE);
    if (status === 'ringing' && this.engine.knobs.messages.ringingSubscriptions === 'refused')
      throw new TwilioApiError(400, 31211, NOT_ACTIVE);
    // Undocumented whether a leg in a conference takes subscriptions (CONFERENCES.md section 2).
    if (
      this.engine.knobs.conferences.subscriptionsInConference === 'refused' &&
      this.engine.conferences.isInConference(callSid)
    )
      throw new TwilioApiError(400, 31211, NOT_ACTIVE);
    const sub: Subscription = {
      sid: newSid('ZY'),
      callSid,
      callback: input.callback,
      method,
      dateCreated: this.engine.now(),
      removed: false,
    };
    call.subscriptions.push(sub);
    if (input.idempotencyKey && !call.subscriptionKeys.has(input.idempotencyKey))
      call.subscriptionKeys.set(input.idempotencyKey, sub);
    this.engine.subscriptionsCreated.set(callSid, (this.engine.subscriptionsCreated.get(callSid) ?? 0) + 1);
    return sub;
  }

  unsubscribe(callSid: string, sid: string): void {
    const sub = this.engine.call(callSid).subscriptions.find((s) => s.sid === sid && !s.removed);
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
    input: { content?: string | undefined; idempotencyKey?: string | undefined },
  ): { sid: string; dateCreated: number } {
    const call = this.engine.call(callSid);
    const existing = this.reused(call, call.messageKeys, input.idempotencyKey, 'UserDefinedMessage');
    if (existing) return existing;
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
    if (!isActive(this.statusSeen(call))) throw new TwilioApiError(400, 31211, NOT_ACTIVE);
    // Undocumented whether hold lets messages through (CONFERENCES.md section 2: the `hold` knob).
    if (this.engine.knobs.conferences.hold === 'udm-refused' && this.engine.conferences.isHeld(callSid))
      throw new TwilioApiError(400, 31211, NOT_ACTIVE);
    const message = { sid: newSid('KX'), dateCreated: this.engine.now() };
    if (input.idempotencyKey && !call.messageKeys.has(input.idempotencyKey))
      call.messageKeys.set(input.idempotencyKey, message);
    const phone = call.sdkIdentity ? this.engine.phones.get(call.sdkIdentity) : undefined;
    const phoneCall = phone?.calls.get(callSid);
    if (!phone || !phoneCall) {
      // Accepted, but no Voice SDK is on this leg to receive it: Twilio reports 32700 in the debugger.
      this.engine.note(32700, callSid, 'No Voice SDK on this call leg');
      return message;
    }
    const received: PhoneMessage = {
      voiceEventSid: message.sid,
      content,
      contentType: 'application/json',
      messageType: 'user-defined-message',
      receivedAt: new Date(this.engine.now()).toISOString(),
    };
    phoneCall.received.push(received);
    for (const l of phone.listeners) l.message?.(callSid, received);
    return message;
  }

  /**
   * The SDK on `callSid` sends a message (`call.sendMessage`): delivered to each active subscription
   * of that leg, signed, with one SequenceNumber per message on the leg, counting from the
   * `messages.firstSequenceNumber` knob (1 by default). With no subscription it is dropped (nothing
   * is sent, as on Twilio) and counted in `messagesDropped`.
   */
  async sendFromSdk(
    identity: string,
    callSid: string,
    content: unknown,
    sdkVoiceEventSid?: string,
  ): Promise<{ voiceEventSid: string; deliveries: { status: number | null }[]; dropped?: true }> {
    const phoneCall = this.engine.phone(identity).calls.get(callSid);
    const call = this.engine.call(callSid);
    if (!phoneCall || call.sdkIdentity !== identity)
      throw new TwilioApiError(400, 31211, `${identity} is not on call ${callSid}`);
    if (!isActive(call.status)) throw new TwilioApiError(400, 31211, 'Call is not in the expected state');
    // The SDK names each message (voiceeventsid, KX…); Twilio passes it on as the callback's Sid.
    const voiceEventSid =
      sdkVoiceEventSid && /^KX[0-9a-f]{32}$/.test(sdkVoiceEventSid)
        ? sdkVoiceEventSid
        : this.engine.knobs.messages.sdkSidFormat === 'uuid'
          ? randomUUID().toUpperCase()
          : newSid('KX');
    const subs = call.subscriptions.filter((s) => !s.removed);
    if (subs.length === 0) {
      this.engine.messagesDropped.set(callSid, (this.engine.messagesDropped.get(callSid) ?? 0) + 1);
      return { voiceEventSid, deliveries: [], dropped: true };
    }
    const sequenceNumber = String(this.engine.knobs.messages.firstSequenceNumber + call.messageSequence++);
    const deliveries = await Promise.all(
      subs.map(async (sub) => {
        const params = {
          ContentType: 'application/json',
          Content: typeof content === 'string' ? content : compactJson(content),
          SequenceNumber: sequenceNumber,
          CallSid: callSid,
          Timestamp: rfc2822(this.engine.now()),
          AccountSid: call.accountSid,
          Sid: voiceEventSid,
        };
        const response = await this.webhooks.send({
          kind: 'message',
          url: sub.callback,
          method: sub.method,
          params,
          retry: true,
        });
        if (!response || response.status >= 300) {
          this.engine.note(32711, callSid, `Subscription callback answered ${response?.status ?? 'nothing'}`);
        }
        return { status: response?.status ?? null };
      }),
    );
    return { voiceEventSid, deliveries };
  }
}
