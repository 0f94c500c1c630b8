// Call Message Events on the sandbox's calls: UserDefinedMessageSubscriptions (SDK → server
// callbacks), UserDefinedMessages (server → SDK) and what the SDK sends (call.sendMessage).
import type { CallEngine } from './engine';
import { isActive, type PhoneMessage, type Subscription } from './engine-types';
import { newSid, rfc2822, TwilioApiError } from './http';
import type { WebhookSender } from './webhooks';

export class CallMessages {
  constructor(
    private readonly engine: CallEngine,
    private readonly webhooks: WebhookSender,
  ) {}

  /** POST …/Calls/{CallSid}/UserDefinedMessageSubscriptions.json */
  subscribe(callSid: string, input: { callback?: string; method?: string; idempotencyKey?: string }): Subscription {
    const call = this.engine.call(callSid);
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
      dateCreated: this.engine.now(),
      removed: false,
    };
    call.subscriptions.push(sub);
    if (input.idempotencyKey) call.subscriptionKeys.set(input.idempotencyKey, sub);
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
    input: { content?: string; idempotencyKey?: string },
  ): { sid: string; dateCreated: number } {
    const call = this.engine.call(callSid);
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
    const message = { sid: newSid('KX'), dateCreated: this.engine.now() };
    if (input.idempotencyKey) call.messageKeys.set(input.idempotencyKey, message);
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
   * of that leg, signed, with SequenceNumber counting from 0. Nothing is sent without a subscription.
   */
  async sendFromSdk(
    identity: string,
    callSid: string,
    content: unknown,
    sdkVoiceEventSid?: string,
  ): Promise<{ voiceEventSid: string; deliveries: { status: number | null }[] }> {
    const phoneCall = this.engine.phone(identity).calls.get(callSid);
    const call = this.engine.call(callSid);
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
