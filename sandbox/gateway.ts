// The sandbox's Voice SDK signaling gateway: what `wss://chunderw.twilio.com/signal` is to the real
// `@twilio/voice-sdk`, for the sandbox. The SDK reaches it through the Device option
// `chunderw: 'localhost:<port>'`. Protocol: as measured against the real SDK (gateway-device.ts).
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
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { WebSocketServer } from 'ws';
import type { CallEngine } from './engine';
import { Device, type DeviceContext, type GatewayFrame } from './gateway-device';

export type { GatewayFrame } from './gateway-device';
export { readAccessToken } from './gateway-token';
import type { KeySecrets } from './gateway-token';

export interface GatewayOptions {
  engine: CallEngine;
  accountSid: string;
  /** The account's API keys: a token is checked against the key it names (the one /token signs with). */
  keys: KeySecrets;
  /** On 127.0.0.1 only; 0 = any free port. */
  port?: number;
  heartbeatMs?: number;
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
  const ctx: DeviceContext = {
    engine,
    accountSid: opts.accountSid,
    keys: opts.keys,
    heartbeatMs: opts.heartbeatMs ?? 10_000,
    devices,
    createdPhones: new Set<string>(),
    record: (frame) => {
      frames.push({ at: new Date().toISOString(), ...frame });
      if (frames.length > 1000) frames.splice(0, frames.length - 1000);
    },
  };

  const server: Server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(
      'Twilio sandbox: Voice SDK signaling gateway. The certificate is accepted for this browser; you can close this tab.\n',
    );
  });
  const wss = new WebSocketServer({ server, path: '/signal' });
  wss.on('connection', (ws) => devices.add(new Device(ctx, ws)));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    chunderw: `localhost:${port}`,
    url: `wss://localhost:${port}/signal`,
    httpsUrl: `https://localhost:${port}/`,
    frames,
    devices: () =>
      [...devices].map((d) => ({
        ...(d.identity === undefined ? {} : { identity: d.identity }),
        registered: d.registered,
        calls: [...d.calls.keys()],
      })),
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
