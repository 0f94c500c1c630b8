// The signaling gateway frame by frame, with a plain WebSocket client speaking the Voice SDK's
// protocol (no browser needed), plus the operator and client-config functions over HTTP.
import { createHmac } from 'node:crypto';
import { WebSocket } from 'ws';
import { callMessages, sendMessage } from '../../client/src';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { issueSession, verifySession } from '../../lib/auth/sessions';
import { clientConfig } from '../../lib/routes/client-config';
import { readConfig } from '../../lib/platform/config';
import type { RouteContext } from '../../lib/http/function-handler';
import { startGateway } from '../../sandbox/gateway';
import { answerFromOffer } from '../../sandbox/gateway-sdp';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';
import { defined } from '../support/narrow';
import { randomMessageSid } from '../../testing/sids';

type Frame = { type: string; version?: string; payload: Record<string, unknown> };

/** A minimal Voice SDK stand-in: sends frames, waits for the ones it expects. */
class SdkSocket {
  readonly frames: Frame[] = [];
  heartbeats = 0;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = data.toString();
      if (text === '\n') {
        this.heartbeats++;
        return;
      }
      this.frames.push(JSON.parse(text) as Frame);
    });
  }

  static async open(url: string) {
    const ws = new WebSocket(url, { rejectUnauthorized: false });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return new SdkSocket(ws);
  }

  send(type: string, payload: Record<string, unknown>) {
    this.ws.send(JSON.stringify({ type, version: '1.6', payload }));
  }

  /** The first frame of `type` (matching `where`) not consumed yet. */
  async next(
    type: string,
    where: (p: Record<string, unknown>) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<Record<string, unknown>> {
    const frame = await waitFor(
      () => this.frames.find((f) => f.type === type && where(f.payload)),
      `a ${type} frame`,
      timeoutMs,
    );
    this.frames.splice(this.frames.indexOf(frame), 1);
    // Every frame speaks the SDK's protocol version; another one fails the test waiting for it.
    if (frame.version !== '1.6') throw new Error(`a ${type} frame of protocol version ${frame.version}, not 1.6`);
    return frame.payload;
  }

  close() {
    this.ws.close();
  }
}

// What Chromium offers (trimmed): one audio section, BUNDLE, rtcp-mux, Opus first.
const OFFER = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=extmap-allow-mixed',
  'a=msid-semantic: WMS',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:abcdefghijklmnopqrstuvwx',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00',
  'a=setup:actpass',
  'a=mid:0',
  'a=sendrecv',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:63 red/48000/2',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:13 CN/8000',
  'a=rtpmap:110 telephone-event/48000',
  'a=rtpmap:126 telephone-event/8000',
  'a=ssrc:1001 cname:x',
  '',
].join('\r\n');

const stack = useTestStack({ gatewayPort: 0 });
let gatewayUrl: string;

async function tokenFor(identity: string): Promise<string> {
  const res = await fetch(`${stack.functionsUrl}/token`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${SANDBOX_DEFAULTS.tokenSecret}`,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ identity }).toString(),
  });
  return ((await res.json()) as { token: string }).token;
}

function jwt(claims: Record<string, unknown>, secret: string) {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

async function device(identity: string, register = true) {
  const sdk = await SdkSocket.open(gatewayUrl);
  sdk.send('listen', { token: await tokenFor(identity), browserinfo: {}, reconnectTimeout: 0 });
  const connected = await sdk.next('connected');
  expect(connected.token).toMatchObject({ identity });
  if (register) {
    sdk.send('register', { media: { audio: true } });
    await sdk.next('ready');
  }
  return sdk;
}

beforeAll(() => {
  gatewayUrl = stack.sandbox.gateway!.url;
});

describe('access tokens', () => {
  it('answers listen with the identity of a token /token issued', async () => {
    const sdk = await device('carol', false);
    expect(((await stack.control.info()) as unknown as { chunderw: string }).chunderw).toBe(
      stack.sandbox.gateway!.chunderw,
    );
    sdk.close();
  });

  it('refuses a non-JWT, a forged signature and an expired token, and register without a token', async () => {
    const sdk = await SdkSocket.open(gatewayUrl);
    sdk.send('register', { media: { audio: true } });
    expect(await sdk.next('error')).toMatchObject({ error: { code: 31204 } });
    sdk.send('listen', { token: 'not-a-jwt' });
    expect(await sdk.next('error')).toMatchObject({ error: { code: 31204 } });
    const claims = {
      iss: stack.sandbox.apiKeySid,
      sub: stack.sandbox.accountSid,
      exp: Math.floor(Date.now() / 1000) + 60,
      grants: { identity: 'mallory' },
    };
    sdk.send('listen', { token: jwt(claims, 'not-the-api-key-secret') });
    expect(await sdk.next('error')).toMatchObject({ error: { code: 31202 } });
    sdk.send('listen', {
      token: jwt({ ...claims, exp: Math.floor(Date.now() / 1000) - 1 }, stack.sandbox.apiKeySecret),
    });
    expect(await sdk.next('error')).toMatchObject({ error: { code: 31205 } });
    sdk.close();
  });

  it('sends a heartbeat frequently enough for the SDK (≤ 15 s; here configured to 50 ms)', async () => {
    const { sandbox } = stack;
    const gw = await startGateway({
      engine: sandbox.engine,
      accountSid: sandbox.accountSid,
      keys: sandbox.keys,
      heartbeatMs: 50,
    });
    const sdk = await SdkSocket.open(gw.url);
    await waitFor(() => sdk.heartbeats >= 2, 'two heartbeats');
    sdk.close();
    await gw.close();
  });
});

describe('a call the SDK places', () => {
  let sdk: SdkSocket;
  let callSid: string;

  beforeAll(async () => {
    sdk = await device('dave');
  });
  afterAll(() => sdk.close());

  it('invite → ringing with the real CallSid → answer with an SDP answering the offer', async () => {
    sdk.send('invite', { callsid: 'TJSa1b2c3', sdp: OFFER, twilio: { params: 'To=%2B15557654321&topic=billing' } });
    const ringing = await sdk.next('ringing');
    callSid = String(ringing.callsid);
    expect(callSid).toMatch(/^CA[0-9a-f]{32}$/);
    const answer = await sdk.next('answer');
    expect(answer.callsid).toBe(callSid);
    const sdp = String(answer.sdp);
    expect(sdp).toMatch(/^m=audio 9 UDP\/TLS\/RTP\/SAVPF 111 110\r$/m);
    expect(sdp).toContain('a=setup:active');
    expect(sdp).toContain('a=mid:0');
    expect(sdp).toContain('a=group:BUNDLE 0');
    expect(sdp).toContain('a=rtcp-mux');
    expect(sdp).toContain('a=rtpmap:110 telephone-event/48000');
    const call = await stack.control.call(callSid);
    expect(call).toMatchObject({ from: 'client:dave', sdkIdentity: 'dave', status: 'in-progress' });
    const phone = await stack.control.phone('dave');
    expect(defined(phone.calls[0]).customParameters).toEqual({ To: '+15557654321', topic: 'billing' });
    await waitFor(async () => (await stack.control.call(callSid)).subscriptions.length > 0, 'the subscription');
  });

  it('acks a message and delivers it to /message-callback; refuses a bad type and oversize content', async () => {
    const id = randomMessageSid();
    sdk.send('message', {
      callsid: callSid,
      content: { hi: 'server' },
      contenttype: 'application/json',
      messagetype: 'user-defined-message',
      voiceeventsid: id,
    });
    expect(await sdk.next('ack')).toEqual({ acktype: 'message', callsid: callSid, voiceeventsid: id });
    const history = await waitFor(async () => {
      const h = await callMessages(stack.fn, callSid);
      return h.body.messages?.length ? h.body : undefined;
    }, 'the stored message');
    expect(history.messages[0]).toMatchObject({ direction: 'from-sdk', data: { hi: 'server' } });

    const badType = randomMessageSid();
    sdk.send('message', {
      callsid: callSid,
      content: {},
      contenttype: 'application/json',
      messagetype: 'other',
      voiceeventsid: badType,
    });
    expect(await sdk.next('error')).toMatchObject({ callsid: callSid, voiceeventsid: badType, error: { code: 31210 } });
    const big = randomMessageSid();
    sdk.send('message', {
      callsid: callSid,
      content: { x: 'y'.repeat(10_000) },
      contenttype: 'application/json',
      messagetype: 'user-defined-message',
      voiceeventsid: big,
    });
    expect(await sdk.next('error')).toMatchObject({ voiceeventsid: big, error: { code: 31212 } });
  });

  it('delivers /send-message as a message frame', async () => {
    const res = await sendMessage(stack.fn, { callSid, content: { to: 'dave' } });
    expect(res.status).toBe(201);
    const sid = (res.body as { sid: string }).sid;
    expect(await sdk.next('message')).toEqual({
      callsid: callSid,
      content: { to: 'dave' },
      contenttype: 'application/json',
      messagetype: 'user-defined-message',
      voiceeventsid: sid,
    });
  });

  it('sends hangup when the far end hangs up, then refuses messages for that call', async () => {
    const child = (await stack.control.calls()).calls.find((c) => c.parentCallSid === callSid)!;
    await stack.control.hangupCall(child.sid);
    expect(await sdk.next('hangup')).toEqual({ callsid: callSid });
    const late = randomMessageSid();
    sdk.send('message', {
      callsid: callSid,
      content: { late: true },
      contenttype: 'application/json',
      messagetype: 'user-defined-message',
      voiceeventsid: late,
    });
    expect(await sdk.next('error')).toMatchObject({ callsid: callSid, voiceeventsid: late, error: { code: 31211 } });
    expect(sdk.frames.filter((f) => f.type === 'ack')).toEqual([]);
  });

  it('hangs up from the SDK by the temporary id too, before ringing arrived', async () => {
    sdk.send('invite', { callsid: 'TJSearly', sdp: OFFER, twilio: { params: 'To=%2B15557654322' } });
    sdk.send('hangup', { callsid: 'TJSearly' });
    const { callsid } = await sdk.next('ringing');
    await waitFor(
      async () => ['canceled', 'completed'].includes((await stack.control.call(String(callsid))).status),
      'the call to end',
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(sdk.frames.filter((f) => f.type === 'hangup')).toEqual([]);
  });
});

describe('calls to the SDK', () => {
  it('invites every registered Device of the identity; the first to answer wins, the others get cancel', async () => {
    const [tab1, tab2, unregistered] = await Promise.all([device('alice'), device('alice'), device('alice')]);
    unregistered.send('register', { media: { audio: false } });
    await unregistered.next('offline');
    const { callSid: parent } = await stack.control.callIn('+15551239999');
    const invite1 = await tab1.next('invite');
    const invite2 = await tab2.next('invite');
    expect(invite1.callsid).toBe(invite2.callsid);
    const leg = String(invite1.callsid);
    expect(invite1.parameters).toMatchObject({
      CallSid: leg,
      AccountSid: stack.sandbox.accountSid,
      From: '+15551239999',
      To: 'client:alice',
    });
    expect(String(invite1.sdp)).toContain('a=setup:actpass');
    tab2.send('answer', { callsid: leg, sdp: answerFromOffer(String(invite2.sdp)) });
    expect(await tab1.next('cancel')).toEqual({ callsid: leg });
    await waitFor(async () => (await stack.control.call(leg)).status === 'in-progress', 'the leg answered');
    expect((await stack.control.call(parent)).status).toBe('in-progress');
    tab2.send('hangup', { callsid: leg });
    await waitFor(async () => (await stack.control.call(parent)).status === 'completed', 'the call to end');
    await new Promise((r) => setTimeout(r, 100));
    expect(tab2.frames.filter((f) => f.type === 'hangup')).toEqual([]);
    expect(unregistered.frames.filter((f) => f.type === 'invite')).toEqual([]);

    // A Device that rejects: the leg is busy, the other tab is canceled.
    const second = await stack.control.callIn('+15551238888');
    const ring = await tab1.next('invite');
    await tab2.next('invite');
    tab1.send('reject', { callsid: ring.callsid });
    expect(await tab2.next('cancel')).toEqual({ callsid: ring.callsid });
    await waitFor(async () => (await stack.control.call(String(ring.callsid))).status === 'busy', 'the leg busy');
    expect(second.callSid).toMatch(/^CA/);

    // Closing a socket ends its calls; the last Device leaving removes the phone it created.
    await stack.control.callIn('+15551237777');
    const third = await tab1.next('invite');
    await tab2.next('invite');
    tab1.send('answer', { callsid: third.callsid, sdp: answerFromOffer(String(third.sdp)) });
    await waitFor(async () => (await stack.control.call(String(third.callsid))).status === 'in-progress', 'answered');
    tab1.close();
    await waitFor(
      async () => (await stack.control.call(String(third.callsid))).status === 'completed',
      'the call ended with the socket',
    );
    tab2.close();
    unregistered.close();
    await waitFor(
      async () => !((await stack.control.info()) as unknown as { phones: string[] }).phones.includes('alice'),
      'alice removed',
    );
  });
});

describe('operator and client-config functions', () => {
  const post = (path: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${stack.functionsUrl}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(body).toString(),
    });

  it('exchanges the operator secret for a session; every operator route needs it', async () => {
    expect((await post('/operator-session', { secret: 'nope' })).status).toBe(403);
    const ok = await post('/operator-session', { secret: SANDBOX_DEFAULTS.operatorSecret });
    expect(ok.status).toBe(200);
    const { session, expiresAt } = (await ok.json()) as { session: string; expiresAt: string };
    const minutes = (Date.parse(expiresAt) - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(59);
    expect(minutes).toBeLessThanOrEqual(60);
    expect(session).not.toContain(stack.sandbox.authToken);

    for (const path of ['/operator-calls', '/operator-messages', '/operator-send']) {
      expect((await fetch(`${stack.functionsUrl}${path}`)).status).toBe(401);
      expect(
        (await fetch(`${stack.functionsUrl}${path}`, { headers: { Authorization: `Bearer ${session}x` } })).status,
      ).toBe(401);
      expect(
        (
          await fetch(`${stack.functionsUrl}${path}`, {
            headers: { Authorization: `Bearer ${stack.sandbox.authToken}` },
          })
        ).status,
      ).toBe(401);
    }
    const calls = await fetch(`${stack.functionsUrl}/operator-calls?limit=5`, {
      headers: { Authorization: `Bearer ${session}` },
    });
    expect(calls.status).toBe(200);
    const body = (await calls.json()) as { calls: { callSid: string; status: string; state: unknown }[] };
    expect(body.calls.length).toBeGreaterThan(0);
    expect(body.calls.length).toBeLessThanOrEqual(5);
    expect(body.calls[0]).toMatchObject({ callSid: expect.stringMatching(/^CA/), status: expect.any(String) });

    const refused = await post(
      '/operator-send',
      { callSid: defined(body.calls.at(-1)).callSid, content: '{"late":1}' },
      { Authorization: `Bearer ${session}` },
    );
    expect(refused.status).toBe(409);
    const invalid = await post(
      '/operator-send',
      { callSid: defined(body.calls[0]).callSid, content: '{not json' },
      { Authorization: `Bearer ${session}` },
    );
    expect(invalid.status).toBe(400);
  });

  it('client-config says sandbox only when the sandbox gateway is configured', async () => {
    const res = await fetch(`${stack.functionsUrl}/client-config`);
    expect(await res.json()).toMatchObject({
      sandbox: true,
      chunderw: stack.sandbox.gateway!.chunderw,
      sounds: { incoming: '/sounds/silence.wav', dtmfh: '/sounds/silence.wav' },
    });
  });

  it('client-config is {sandbox: false} unless SANDBOX_GATEWAY is set where twilio-run serves (localhost)', () => {
    const ctx = (domain: string, raw: Record<string, string>) =>
      ({
        config: readConfig({ ACCOUNT_SID: stack.sandbox.accountSid, AUTH_TOKEN: 'token', DOMAIN_NAME: domain, ...raw }),
      }) as unknown as RouteContext;
    expect(clientConfig(ctx('cme-1234-dev.twil.io', { SANDBOX_GATEWAY: 'localhost:3002' }))).toEqual({
      status: 200,
      json: { sandbox: false },
    });
    expect(clientConfig(ctx('localhost:3000', {}))).toEqual({ status: 200, json: { sandbox: false } });
    expect(clientConfig(ctx('localhost:3000', { SANDBOX_GATEWAY: 'wss://evil/' }))).toEqual({
      status: 200,
      json: { sandbox: false },
    });
    expect(clientConfig(ctx('localhost:3000', { SANDBOX_GATEWAY: 'localhost:3002' }))).toMatchObject({
      json: { sandbox: true, chunderw: 'localhost:3002' },
    });
  });

  it('sessions: signed with the Auth Token and the operator secret, valid for one hour', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    const { session, expiresAt } = issueSession('token-a', 'secret-a', now);
    expect(expiresAt).toBe('2030-01-01T01:00:00.000Z');
    expect(verifySession(session, 'token-a', 'secret-a', now + 3_599_000)).toBe(now / 1000 + 3600);
    expect(verifySession(session, 'token-a', 'secret-a', now + 3_600_000)).toBeUndefined();
    expect(verifySession(session, 'token-b', 'secret-a', now)).toBeUndefined();
    expect(verifySession(session, 'token-a', 'secret-b', now)).toBeUndefined();
    const [payload, signature] = session.split('.');
    const forged = Buffer.from(JSON.stringify({ v: 1, exp: now / 1000 + 999_999 })).toString('base64url');
    expect(verifySession(`${forged}.${signature}`, 'token-a', 'secret-a', now)).toBeUndefined();
    expect(verifySession(`${payload}.${signature}.x`, 'token-a', 'secret-a', now)).toBeUndefined();
    expect(verifySession(undefined, 'token-a', 'secret-a', now)).toBeUndefined();
  });
});
