// One Voice SDK Device on the sandbox's signaling gateway (gateway.ts): the frames it sends and
// receives, and the engine phone it becomes once registered. Protocol: the frames the real SDK
// was seen to exchange (no public specification); the handlers below are the record of it.
import { WebSocket } from 'ws';
import { compactJson } from '../lib/shared/json-text';
import { isActive, isFinal, type CallEngine, type PhoneCall, type PhoneListener } from './engine';
import { answerFromOffer, incomingCallOffer } from './gateway-sdp';
import { readAccessToken, TokenError, type KeySecrets, type TokenClaims } from './gateway-token';

const VERSION = '1.6';
const MAX_CONTENT_CHARS = 10_000;

type Payload = Record<string, unknown>;

/** `To=bob&topic=billing` → {To:'bob', topic:'billing'} */
function parseParams(value: unknown): Record<string, string> {
  return typeof value === 'string' ? Object.fromEntries(new URLSearchParams(value)) : {};
}

const text = (v: unknown) => (typeof v === 'string' ? v : undefined);

interface DeviceCall {
  direction: 'incoming' | 'outgoing';
  /** invited: an incoming call shown to this Device, not (yet) answered by it. */
  state: 'invited' | 'ringing' | 'answered';
  offer?: string | undefined;
  tempId?: string;
  /** This Device ended the call itself: no hangup frame back. */
  localEnd?: boolean;
}

export interface GatewayFrame {
  at: string;
  identity?: string;
  direction: 'in' | 'out';
  type: string;
  callsid?: string;
}

/** What every Device of one gateway shares. */
export interface DeviceContext {
  engine: CallEngine;
  accountSid: string;
  /** The account's API keys: tokens are checked against the key they name. */
  keys: KeySecrets;
  heartbeatMs: number;
  /** The gateway's Devices (a Device answering an incoming call cancels it on its other tabs). */
  devices: Set<Device>;
  /** Engine phones the gateway created (a control-API phone with the same identity is never removed). */
  createdPhones: Set<string>;
  record(frame: Omit<GatewayFrame, 'at'>): void;
}

/** One WebSocket: one Voice SDK Device, and (once registered) one listener on an engine phone. */
export class Device {
  identity?: string;
  applicationSid?: string | undefined;
  registered = false;
  calls = new Map<string, DeviceCall>();
  tempIds = new Map<string, string>();
  private attached = false;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly ctx: DeviceContext,
    private readonly ws: WebSocket,
  ) {
    this.heartbeat = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('\n'), this.ctx.heartbeatMs);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const raw = data.toString();
      if (raw.trim() === '') return; // the SDK's heartbeat answer
      let frame: { type?: unknown; payload?: unknown };
      try {
        frame = JSON.parse(raw) as typeof frame;
      } catch {
        return;
      }
      const type = String(frame.type ?? '');
      const payload = (frame.payload ?? {}) as Payload;
      this.recordFrame('in', type, text(payload.callsid));
      try {
        this.handle(type, payload);
      } catch (err) {
        this.send('error', { callsid: payload.callsid, error: { code: 31000, message: (err as Error).message } });
      }
    });
    ws.on('close', () => this.closed());
    ws.on('error', () => undefined);
  }

  /** Frames are served as JSON (`GET /sandbox/gateway`): an unknown identity or call SID is left out. */
  private recordFrame(direction: GatewayFrame['direction'], type: string, callsid: string | undefined) {
    this.ctx.record({
      ...(this.identity === undefined ? {} : { identity: this.identity }),
      direction,
      type,
      ...(callsid === undefined ? {} : { callsid }),
    });
  }

  send(type: string, payload: Payload) {
    this.recordFrame('out', type, text(payload.callsid));
    // A message's content may nest thousands deep: serialised without recursion.
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(compactJson({ type, version: VERSION, payload }));
  }

  /** What the engine tells this Device's phone. */
  private readonly listener: PhoneListener = {
    incoming: (call: PhoneCall) => {
      if (!this.registered) return;
      this.calls.set(call.callSid, { direction: 'incoming', state: 'invited' });
      const params = new URLSearchParams(call.customParameters).toString();
      this.send('invite', {
        callsid: call.callSid,
        sdp: incomingCallOffer(),
        parameters: {
          CallSid: call.callSid,
          AccountSid: this.ctx.accountSid,
          From: call.peer,
          To: `client:${this.identity}`,
          ApiVersion: '2010-04-01',
          ...(params ? { Params: params } : {}),
        },
      });
    },
    answered: (callSid: string) => {
      const call = this.calls.get(callSid);
      if (!call || call.direction !== 'outgoing' || call.state === 'answered') return;
      call.state = 'answered';
      this.send('answer', { callsid: callSid, sdp: answerFromOffer(call.offer ?? '') });
    },
    hungUp: (callSid: string) => {
      const call = this.calls.get(callSid);
      if (!call) return;
      this.calls.delete(callSid);
      if (call.tempId) this.tempIds.delete(call.tempId);
      if (call.localEnd) return;
      this.send(call.state === 'invited' ? 'cancel' : 'hangup', { callsid: callSid });
    },
    message: (callSid, message) => {
      const call = this.calls.get(callSid);
      if (!call || call.state === 'invited') return;
      this.send('message', {
        callsid: callSid,
        content: message.content,
        contenttype: message.contentType,
        messagetype: message.messageType,
        voiceeventsid: message.voiceEventSid,
      });
    },
  };

  /** Makes this Device a phone of the engine (once identity is known). */
  attach() {
    if (this.attached || !this.identity) return;
    const existing = this.ctx.engine.phones.get(this.identity);
    if (!existing) this.ctx.createdPhones.add(this.identity);
    const phone = this.ctx.engine.registerPhone(this.identity, existing?.autoAnswer ?? false);
    phone.listeners.add(this.listener);
    this.attached = true;
  }

  /** Leaves the engine; a phone the gateway created goes when its last Device does. */
  detach() {
    if (!this.attached || !this.identity) return;
    const phone = this.ctx.engine.phones.get(this.identity);
    phone?.listeners.delete(this.listener);
    this.attached = false;
    if (phone && phone.listeners.size === 0 && this.ctx.createdPhones.has(this.identity)) {
      this.ctx.engine.phones.delete(this.identity);
      this.ctx.createdPhones.delete(this.identity);
    }
  }

  private callSidOf(payload: Payload): string | undefined {
    const id = text(payload.callsid);
    if (!id) return undefined;
    return this.calls.has(id) ? id : this.tempIds.get(id);
  }

  private handle(type: string, payload: Payload) {
    switch (type) {
      case 'listen':
        return this.listen(payload);
      case 'register':
        return this.register(payload);
      case 'invite':
        return this.invite(payload);
      case 'answer':
        return this.answer(payload);
      case 'reject':
        return this.end(payload, 'reject');
      case 'hangup':
        return this.end(payload, 'hangup');
      case 'message':
        return this.message(payload);
      case 'reinvite': {
        // ICE restart: the sandbox has no media to restart; answer so the SDK stays consistent.
        const callSid = this.callSidOf(payload);
        if (callSid && typeof payload.sdp === 'string')
          this.send('answer', { callsid: callSid, sdp: answerFromOffer(payload.sdp) });
        return;
      }
      default:
        return; // dtmf and anything newer: accepted, nothing to do
    }
  }

  private listen(payload: Payload) {
    let claims: TokenClaims;
    try {
      claims = readAccessToken(payload.token, this.ctx);
    } catch (err) {
      const code = err instanceof TokenError ? err.code : 31204;
      this.send('error', { error: { code, message: (err as Error).message } });
      return;
    }
    if (this.identity && this.identity !== claims.identity) {
      // A new identity on the same socket: the old registration ends.
      this.detach();
      this.registered = false;
    }
    this.identity = claims.identity;
    this.applicationSid = claims.applicationSid;
    this.send('connected', { token: { identity: claims.identity, ttl: claims.ttl } });
  }

  private register(payload: Payload) {
    if (!this.identity) {
      this.send('error', { error: { code: 31204, message: 'Register before a valid listen' } });
      return;
    }
    const audio = (payload.media as { audio?: unknown } | undefined)?.audio;
    if (audio === false) {
      this.registered = false;
      this.send('offline', {});
      return;
    }
    this.attach();
    this.registered = true;
    this.send('ready', {});
  }

  private invite(payload: Payload) {
    const tempId = text(payload.callsid) ?? '';
    if (!this.identity) {
      this.send('hangup', { callsid: tempId, error: { code: 31204, message: 'No valid access token' } });
      return;
    }
    this.attach();
    const params = parseParams((payload.twilio as Payload | undefined)?.params);
    const appSid =
      this.applicationSid && this.ctx.engine.applications.has(this.applicationSid) ? this.applicationSid : undefined;
    let callSid: string;
    try {
      callSid = this.ctx.engine.placeSdkCall(this.identity, params, appSid).sid;
    } catch (err) {
      this.send('hangup', { callsid: tempId, error: { code: 31005, message: (err as Error).message } });
      return;
    }
    this.calls.set(callSid, { direction: 'outgoing', state: 'ringing', offer: text(payload.sdp), tempId });
    if (tempId) this.tempIds.set(tempId, callSid);
    this.send('ringing', { callsid: callSid });
  }

  private answer(payload: Payload) {
    const callSid = this.callSidOf(payload);
    const call = callSid ? this.calls.get(callSid) : undefined;
    if (!callSid || !call || call.direction !== 'incoming' || call.state !== 'invited') return;
    const leg = this.ctx.engine.calls.get(callSid);
    if (!leg || leg.status !== 'ringing') {
      this.calls.delete(callSid);
      this.send('cancel', { callsid: callSid });
      return;
    }
    call.state = 'answered';
    this.ctx.engine.answerLeg(leg);
    // The same identity's other Devices stop ringing, as Twilio does.
    for (const other of this.ctx.devices)
      if (other !== this && other.identity === this.identity) other.cancelInvite(callSid);
  }

  cancelInvite(callSid: string) {
    if (this.calls.get(callSid)?.state !== 'invited') return;
    this.calls.delete(callSid);
    this.send('cancel', { callsid: callSid });
  }

  private end(payload: Payload, how: 'reject' | 'hangup') {
    const callSid = this.callSidOf(payload);
    const call = callSid ? this.calls.get(callSid) : undefined;
    if (!callSid || !call) return;
    call.localEnd = true;
    const leg = this.ctx.engine.calls.get(callSid);
    if (!leg || isFinal(leg.status)) return void this.calls.delete(callSid);
    if (how === 'reject' && leg.status === 'ringing') this.ctx.engine.reject(callSid);
    else this.ctx.engine.hangup(callSid);
  }

  private message(payload: Payload) {
    const callsid = text(payload.callsid);
    const voiceeventsid = text(payload.voiceeventsid);
    const refuse = (code: number, message: string) =>
      this.send('error', { callsid, voiceeventsid, error: { code, message } });
    const callSid = this.callSidOf(payload);
    const leg = callSid ? this.ctx.engine.calls.get(callSid) : undefined;
    if (!this.identity || !callSid || !leg || leg.sdkIdentity !== this.identity || !isActive(leg.status)) {
      return refuse(
        31211,
        'Call is not in the expected state. The call must be at least in the Ringing state to send Call Message',
      );
    }
    if (payload.messagetype !== 'user-defined-message') return refuse(31210, 'Call Message Event Type is invalid');
    const content = payload.content;
    const size = typeof content === 'string' ? content.length : compactJson(content).length;
    if (size > MAX_CONTENT_CHARS) return refuse(31212, 'Call Message Event Payload size exceeded authorized limit');
    this.send('ack', { acktype: 'message', callsid: callSid, voiceeventsid });
    this.ctx.engine.sendFromSdk(this.identity, callSid, content, voiceeventsid).catch(() => undefined);
  }

  private closed() {
    clearInterval(this.heartbeat);
    this.ctx.devices.delete(this);
    // The Device is gone: its calls end (the sandbox gives no reconnect token).
    for (const [callSid, call] of [...this.calls]) {
      call.localEnd = true;
      const leg = this.ctx.engine.calls.get(callSid);
      if (!leg || isFinal(leg.status)) continue;
      if (call.state === 'invited') continue; // another Device (or the timeout) may still answer
      this.ctx.engine.hangup(callSid);
    }
    this.calls.clear();
    this.detach();
  }
}
