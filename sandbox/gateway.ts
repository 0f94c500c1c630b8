// The sandbox's Voice SDK signaling gateway: what `wss://chunderw.twilio.com/signal` is to the real
// `@twilio/voice-sdk`, for the sandbox. The SDK reaches it through the Device option
// `chunderw: 'localhost:<port>'`. Protocol: /work/shared/VOICE-SDK-SIGNALING.md (measured).
//
// Each WebSocket is one Device. Its identity comes from the access token `/token` issued (HS256
// with the sandbox API key secret: checked). Registering makes it a phone of the CallEngine, so a
// browser is just another simulated SDK phone:
//   SDK → gateway                          engine                       gateway → SDK
//   listen {token}                         -                            connected {token:{identity,ttl}}
//   register {media:{audio:true|false}}    registerPhone + listener     ready | offline
//   invite {callsid:TJS…, sdp, params}     placeSdkCall(identity, …)    ringing {callsid:CA…}
//                                          listener.answered            answer {callsid, sdp}
//                                          listener.incoming            invite {callsid, sdp, parameters}
//   answer {callsid, sdp}                  answerLeg                    (cancel to the Device's other tabs)
//   reject / hangup {callsid}              reject / hangup              -
//                                          listener.hungUp              hangup | cancel (never answered)
//   message {callsid, content, …, voiceeventsid}  sendFromSdk           ack (error when the call is not active)
//                                          listener.message (sendToSdk) message {…, voiceeventsid}
// and a "\n" heartbeat every 10 s (the SDK reconnects after 15 s of silence).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { WebSocket, WebSocketServer } from 'ws';
import { isActive, isFinal, type CallEngine, type PhoneCall, type PhoneListener } from './engine';
import { answerFromOffer, incomingCallOffer } from './gateway-sdp';

export interface GatewayOptions {
  engine: CallEngine;
  accountSid: string;
  /** The API key /token signs access tokens with: tokens are checked against it. */
  apiKeySid: string;
  apiKeySecret: string;
  port?: number;
  host?: string;
  heartbeatMs?: number;
}

export interface GatewayFrame {
  at: string;
  identity?: string;
  direction: 'in' | 'out';
  type: string;
  callsid?: string;
}

export interface SignalingGateway {
  port: number;
  /** What the Device option `chunderw` takes: `localhost:<port>`. */
  chunderw: string;
  /** `wss://localhost:<port>/signal` */
  url: string;
  /** Open once in a browser to accept the self-signed certificate (people, not tests). */
  httpsUrl: string;
  /** The last frames both ways (types and call SIDs only), for debugging and tests. */
  frames: GatewayFrame[];
  devices(): { identity?: string; registered: boolean; calls: string[] }[];
  close(): Promise<void>;
}

const VERSION = '1.6';
const MAX_CONTENT_CHARS = 10_000;

type Payload = Record<string, unknown>;

interface TokenClaims {
  identity: string;
  ttl: number;
  applicationSid?: string;
}

class TokenError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Reads (and checks) a Voice access token as `/token` issues it: HS256 JWT, grants.identity. */
export function readAccessToken(
  token: unknown,
  opts: Pick<GatewayOptions, 'accountSid' | 'apiKeySid' | 'apiKeySecret'>,
  nowMs = Date.now(),
): TokenClaims {
  if (typeof token !== 'string') throw new TokenError(31204, 'Invalid access token: not a JWT');
  const parts = token.split('.');
  if (parts.length !== 3) throw new TokenError(31204, 'Invalid access token: not a JWT');
  let header: Payload;
  let claims: Payload;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as Payload;
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as Payload;
  } catch {
    throw new TokenError(31204, 'Invalid access token: not a JWT');
  }
  const expected = createHmac('sha256', opts.apiKeySecret).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2], 'base64url');
  if (header.alg !== 'HS256' || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new TokenError(31202, 'Access token signature validation failed');
  }
  if (claims.iss !== opts.apiKeySid || claims.sub !== opts.accountSid)
    throw new TokenError(31204, 'Access token is not for this account');
  const exp = Number(claims.exp);
  if (!Number.isFinite(exp) || exp * 1000 <= nowMs) throw new TokenError(31205, 'Access token expired');
  const grants = (claims.grants ?? {}) as { identity?: unknown; voice?: { outgoing?: { application_sid?: unknown } } };
  if (typeof grants.identity !== 'string' || grants.identity === '')
    throw new TokenError(31204, 'Access token has no identity');
  const app = grants.voice?.outgoing?.application_sid;
  return {
    identity: grants.identity,
    ttl: Math.floor(exp - nowMs / 1000),
    applicationSid: typeof app === 'string' ? app : undefined,
  };
}

/** `To=bob&topic=billing` → {To:'bob', topic:'billing'} */
function parseParams(value: unknown): Record<string, string> {
  return typeof value === 'string' ? Object.fromEntries(new URLSearchParams(value)) : {};
}

const text = (v: unknown) => (typeof v === 'string' ? v : undefined);

interface DeviceCall {
  direction: 'incoming' | 'outgoing';
  /** invited: an incoming call shown to this Device, not (yet) answered by it. */
  state: 'invited' | 'ringing' | 'answered';
  offer?: string;
  tempId?: string;
  /** This Device ended the call itself: no hangup frame back. */
  localEnd?: boolean;
}

export async function startGateway(opts: GatewayOptions): Promise<SignalingGateway> {
  const { engine } = opts;
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 30 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  const frames: GatewayFrame[] = [];
  const devices = new Set<Device>();
  /** Engine phones the gateway created (a control-API phone with the same identity is never removed). */
  const createdPhones = new Set<string>();
  const heartbeatMs = opts.heartbeatMs ?? 10_000;

  const record = (frame: Omit<GatewayFrame, 'at'>) => {
    frames.push({ at: new Date().toISOString(), ...frame });
    if (frames.length > 1000) frames.splice(0, frames.length - 1000);
  };

  class Device {
    identity?: string;
    applicationSid?: string;
    registered = false;
    calls = new Map<string, DeviceCall>();
    tempIds = new Map<string, string>();
    private attached = false;
    private readonly heartbeat: NodeJS.Timeout;

    constructor(private readonly ws: WebSocket) {
      this.heartbeat = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('\n'), heartbeatMs);
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
        record({ identity: this.identity, direction: 'in', type, callsid: text(payload.callsid) });
        try {
          this.handle(type, payload);
        } catch (err) {
          this.send('error', { callsid: payload.callsid, error: { code: 31000, message: (err as Error).message } });
        }
      });
      ws.on('close', () => this.closed());
      ws.on('error', () => undefined);
    }

    send(type: string, payload: Payload) {
      record({ identity: this.identity, direction: 'out', type, callsid: text(payload.callsid) });
      if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type, version: VERSION, payload }));
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
            AccountSid: opts.accountSid,
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
      const existing = engine.phones.get(this.identity);
      if (!existing) createdPhones.add(this.identity);
      const phone = engine.registerPhone(this.identity, existing?.autoAnswer ?? false);
      phone.listeners.add(this.listener);
      this.attached = true;
    }

    /** Leaves the engine; a phone the gateway created goes when its last Device does. */
    detach() {
      if (!this.attached || !this.identity) return;
      const phone = engine.phones.get(this.identity);
      phone?.listeners.delete(this.listener);
      this.attached = false;
      if (phone && phone.listeners.size === 0 && createdPhones.has(this.identity)) {
        engine.phones.delete(this.identity);
        createdPhones.delete(this.identity);
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
        claims = readAccessToken(payload.token, opts);
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
        this.applicationSid && engine.applications.has(this.applicationSid) ? this.applicationSid : undefined;
      let callSid: string;
      try {
        callSid = engine.placeSdkCall(this.identity, params, appSid).sid;
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
      const leg = engine.calls.get(callSid);
      if (!leg || leg.status !== 'ringing') {
        this.calls.delete(callSid);
        this.send('cancel', { callsid: callSid });
        return;
      }
      call.state = 'answered';
      engine.answerLeg(leg);
      // The same identity's other Devices stop ringing, as Twilio does.
      for (const other of devices) if (other !== this && other.identity === this.identity) other.cancelInvite(callSid);
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
      const leg = engine.calls.get(callSid);
      if (!leg || isFinal(leg.status)) return void this.calls.delete(callSid);
      if (how === 'reject' && leg.status === 'ringing') engine.reject(callSid);
      else engine.hangup(callSid);
    }

    private message(payload: Payload) {
      const callsid = text(payload.callsid);
      const voiceeventsid = text(payload.voiceeventsid);
      const refuse = (code: number, message: string) =>
        this.send('error', { callsid, voiceeventsid, error: { code, message } });
      const callSid = this.callSidOf(payload);
      const leg = callSid ? engine.calls.get(callSid) : undefined;
      if (!this.identity || !callSid || !leg || leg.sdkIdentity !== this.identity || !isActive(leg.status)) {
        return refuse(
          31211,
          'Call is not in the expected state. The call must be at least in the Ringing state to send Call Message',
        );
      }
      if (payload.messagetype !== 'user-defined-message') return refuse(31210, 'Call Message Event Type is invalid');
      const content = payload.content;
      const size = typeof content === 'string' ? content.length : (JSON.stringify(content) ?? '').length;
      if (size > MAX_CONTENT_CHARS) return refuse(31212, 'Call Message Event Payload size exceeded authorized limit');
      this.send('ack', { acktype: 'message', callsid: callSid, voiceeventsid });
      engine.sendFromSdk(this.identity, callSid, content, voiceeventsid).catch(() => undefined);
    }

    private closed() {
      clearInterval(this.heartbeat);
      devices.delete(this);
      // The Device is gone: its calls end (the sandbox gives no reconnect token).
      for (const [callSid, call] of [...this.calls]) {
        call.localEnd = true;
        const leg = engine.calls.get(callSid);
        if (!leg || isFinal(leg.status)) continue;
        if (call.state === 'invited') continue; // another Device (or the timeout) may still answer
        engine.hangup(callSid);
      }
      this.calls.clear();
      this.detach();
    }
  }

  const server: Server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(
      'Twilio sandbox: Voice SDK signaling gateway. The certificate is accepted for this browser; you can close this tab.\n',
    );
  });
  const wss = new WebSocketServer({ server, path: '/signal' });
  wss.on('connection', (ws) => devices.add(new Device(ws)));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    chunderw: `localhost:${port}`,
    url: `wss://localhost:${port}/signal`,
    httpsUrl: `https://localhost:${port}/`,
    frames,
    devices: () =>
      [...devices].map((d) => ({ identity: d.identity, registered: d.registered, calls: [...d.calls.keys()] })),
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
