// Webhook security (issue #12) over real twilio-run and the sandbox: every protected route signed
// with a SharedKey (HMAC-SHA256) and with the Auth Token (HMAC-SHA1); the retry fragment signed and
// unsigned; a nesting bomb in and out of every history route; callback URLs that cannot outlive
// their call; response headers; secrets refused in URLs.
import twilio from 'twilio';
import { callMessages, sendMessage, signedPost, type FunctionsClientOptions } from '../../client/src';
import { messageCallbackQuery } from '../../lib/calls/callback-urls';
import { legMapName } from '../../lib/store/call-store';
import { CALLBACK_URL_GRACE_SECONDS, MAX_CALL_SECONDS } from '../../lib/shared/limits';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { SANDBOX_SHARED_KEY } from '../../sandbox/webhooks';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';
import { gatewayLog } from '../support/functions-gateway';
import { defined, withoutFragment } from '../support/narrow';
import { randomCallSid, randomMessageSid } from '../../testing/sids';

const stack = useTestStack();

const ctl = () => stack.control;
const sharedKeyClient = (): FunctionsClientOptions => ({ ...stack.fn, sharedKey: SANDBOX_SHARED_KEY });

async function subscription(callSid: string) {
  return waitFor(async () => (await ctl().call(callSid)).subscriptions[0], `a subscription on ${callSid}`);
}

/** A message callback as Twilio sends it (form-encoded, signed with the Auth Token) to `query`. */
function messageCallback(leg: string, query: Record<string, string>, content = '{"x":1}') {
  return signedPost(stack.fn, `/message-callback?${new URLSearchParams(query)}`, {
    ContentType: 'application/json',
    Content: content,
    SequenceNumber: '1',
    CallSid: leg,
    Timestamp: new Date().toUTCString(),
    AccountSid: stack.sandbox.accountSid,
    Sid: randomMessageSid(),
  });
}

describe('every protected route verifies a SharedKey (HMAC-SHA256) and the Auth Token (HMAC-SHA1)', () => {
  afterEach(async () => {
    await ctl().knobs({ webhooks: { signWith: 'auth-token' } });
  });

  it.each(['auth-token', 'shared-key'] as const)('a whole call, Twilio signing with the %s', async (signWith) => {
    await ctl().knobs({ webhooks: { signWith } });
    const identity = `sig-${signWith}`;
    await ctl().registerPhone(identity, { autoAnswer: true });
    const before = stack.sandbox.webhooks.log.length;
    // /voice and /call-status, signed by the sandbox.
    const { callSid } = await ctl().placeCall(identity, '+15557770001');
    await subscription(callSid);
    // /message-callback, signed by the sandbox.
    const sent = await ctl().sendFromPhone(identity, callSid, { signed: signWith });
    expect(sent.deliveries).toEqual([{ status: 200 }]);
    // /send-message and /call-messages, signed by your backend the same way.
    const client = signWith === 'shared-key' ? sharedKeyClient() : stack.fn;
    expect((await sendMessage(client, { callSid, content: { back: signWith } })).status).toBe(201);
    const history = await callMessages(client, callSid);
    expect(history.status).toBe(200);
    expect(history.body.messages.map((m) => m.data)).toEqual([{ signed: signWith }, { back: signWith }]);
    await ctl().hangup(identity, callSid);
    await ctl().idle();
    // Every webhook of the call (voice, each status, the message) was accepted.
    const webhooks = stack.sandbox.webhooks.log.slice(before);
    expect(new Set(webhooks.map((w) => w.kind))).toEqual(new Set(['voice', 'status', 'message']));
    expect(webhooks.filter((w) => w.status !== 200)).toEqual([]);
  });

  // Refused by the Functions gateway with 400 before the function runs, as on Twilio (under both
  // readings of SharedKey signatures there); the functions' own 403 is covered by the unit tests.
  it('refuses a SharedKey signature made with another secret, and an Auth Token signature under the SharedKey header', async () => {
    const leg = randomCallSid();
    const wrongKey = {
      ...stack.fn,
      sharedKey: { id: SANDBOX_SHARED_KEY.id, secret: 'not-the-shared-key-secret-000000000' },
    };
    const gateway = gatewayLog(ctl);
    const refusedSince = async (mark: number, path: string) =>
      (await gateway.since(mark, path)).filter((r) => !r.forwarded).map((r) => r.refused);
    for (const path of ['/voice', '/call-status?cme_sdk=child&cme_child=x', '/send-message', '/call-messages']) {
      const pathname = new URL(path, stack.functionsUrl).pathname;
      const mark = await gateway.mark();
      const res = await signedPost(wrongKey, path, {
        CallSid: leg,
        callSid: leg,
        content: '{}',
        CallStatus: 'completed',
      });
      expect([path, res.status, await refusedSince(mark, pathname)]).toEqual([path, 400, ['signature-invalid']]);
    }
    // The Auth Token's HMAC-SHA1 signature, but the header claims a SharedKey.
    const url = `${stack.functionsUrl}/call-messages`;
    const params = { callSid: leg };
    const mark = await gateway.mark();
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-Twilio-Signature': twilio.getExpectedTwilioSignature(stack.sandbox.authToken, url, params),
        'X-Twilio-Webhooks-Signature-Settings': `key=${SANDBOX_SHARED_KEY.id},algorithm=HMAC_SHA256`,
      },
      body: new URLSearchParams(params).toString(),
    });
    expect(res.status).toBe(400);
    expect(await refusedSince(mark, '/call-messages')).toEqual(['signature-invalid']);
  });
});

describe('the retry fragment on callback URLs, whether Twilio signs it or not', () => {
  afterEach(async () => {
    await ctl().knobs({ webhooks: { signFragment: false } });
  });

  it.each([false, true])('signFragment %p: status and message callbacks are all accepted', async (signFragment) => {
    await ctl().knobs({ webhooks: { signFragment } });
    const identity = `frag-${signFragment}`;
    await ctl().registerPhone(identity, { autoAnswer: true });
    const before = stack.sandbox.webhooks.log.length;
    const { callSid } = await ctl().placeCall(identity, '+15557770002');
    const sub = await subscription(callSid);
    expect(sub.callback).toMatch(/#rc=3&rp=5xx,ct,rt&rt=10000&tt=15000$/);
    expect((await ctl().sendFromPhone(identity, callSid, { fragment: signFragment })).deliveries).toEqual([
      { status: 200 },
    ]);
    await ctl().hangup(identity, callSid);
    await ctl().idle();
    const callbacks = stack.sandbox.webhooks.log.slice(before).filter((w) => w.kind !== 'voice');
    expect(callbacks.length).toBeGreaterThan(2);
    expect(callbacks.every((w) => w.url.includes('#rc=3') && w.status === 200)).toBe(true);
  });
});

describe('a nesting bomb through /message-callback, then /call-messages and /operator-messages', () => {
  const bomb = '['.repeat(4_500) + ']'.repeat(4_500);

  afterEach(async () => {
    await ctl().knobs({ webhooks: { messageEncoding: 'form' } });
  });

  it.each(['form', 'json'] as const)('is stored and given back as its text (%s callback)', async (encoding) => {
    await ctl().knobs({ webhooks: { messageEncoding: encoding } });
    const identity = `bomb-${encoding}`;
    await ctl().registerPhone(identity, { autoAnswer: true });
    const { callSid } = await ctl().placeCall(identity, '+15557770003');
    await subscription(callSid);
    expect(bomb.length).toBe(9_000);
    expect((await ctl().sendFromPhone(identity, callSid, bomb)).deliveries).toEqual([{ status: 200 }]);

    const history = await callMessages(stack.fn, callSid);
    expect(history.status).toBe(200);
    expect(history.body.messages).toHaveLength(1);
    expect(defined(history.body.messages[0]).content).toBe(bomb);
    expect(history.body.messages[0]).not.toHaveProperty('data');

    const login = await fetch(`${stack.functionsUrl}/operator-session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ secret: SANDBOX_DEFAULTS.operatorSecret }).toString(),
    });
    const { session } = (await login.json()) as { session: string };
    const console = await fetch(`${stack.functionsUrl}/operator-messages?callSid=${callSid}`, {
      headers: { Authorization: `Bearer ${session}` },
    });
    expect(console.status).toBe(200);
    const page = (await console.json()) as { messages: { content: string; data?: unknown }[] };
    expect(defined(page.messages[0]).content).toBe(bomb);
    expect(page.messages[0]).not.toHaveProperty('data');
    // The functions are alive and well.
    expect((await fetch(`${stack.functionsUrl}/client-config`)).status).toBe(200);
    await ctl().hangup(identity, callSid);
  });
});

describe('message callback URLs that cannot outlive their call', () => {
  const token = () => stack.sandbox.authToken;
  const ago = (seconds: number) => new Date(Date.now() - seconds * 1000);

  it('refuses a URL older than the longest call (4 h) plus the grace, and writes nothing', async () => {
    const leg = randomCallSid();
    const old = messageCallbackQuery(token(), leg, ago(MAX_CALL_SECONDS + CALLBACK_URL_GRACE_SECONDS + 60));
    const res = await messageCallback(leg, old);
    expect(res.status).toBe(403);
    expect((res.body as { code: string }).code).toBe('callback-expired');
    expect((await callMessages(stack.fn, leg)).status).toBe(404);
  });

  it('refuses a callback for a leg that ended over a minute ago; stores one for a leg whose Map is missing', async () => {
    const ended = randomCallSid();
    const items = stack.twilio.sync.v1.services('default').syncMaps;
    await items.create({ uniqueName: legMapName(ended), ttl: 3600 });
    await items(legMapName(ended)).syncMapItems.create({
      key: 'state',
      data: {
        callSid: ended,
        parentCallSid: randomCallSid(),
        role: 'child',
        identity: 'gone',
        peer: '+15550000000',
        status: 'completed',
        updatedAt: ago(120).toISOString(),
        endedAt: ago(120).toISOString(),
      },
    });
    const refused = await messageCallback(ended, messageCallbackQuery(token(), ended, ago(600)));
    expect(refused.status).toBe(403);
    expect((refused.body as { code: string }).code).toBe('call-ended');

    // A live leg whose state has not landed yet: its message is still stored.
    const live = randomCallSid();
    const stored = await messageCallback(live, messageCallbackQuery(token(), live, ago(600)));
    expect(stored.status).toBe(200);
    expect((stored.body as { outcome: string }).outcome).toBe('stored');
  });

  it('accepts a late delivery just after a real call ends', async () => {
    await ctl().registerPhone('late', { autoAnswer: true });
    const { callSid } = await ctl().placeCall('late', '+15557770004');
    const sub = await subscription(callSid);
    await ctl().hangup('late', callSid);
    await waitFor(async () => (await callMessages(stack.fn, callSid)).body.state?.status === 'completed', 'the end');
    const query = Object.fromEntries(new URL(withoutFragment(sub.callback)).searchParams);
    expect((await messageCallback(callSid, query)).status).toBe(200);
  });
});

describe('response headers and secrets', () => {
  it('sends X-Content-Type-Options: nosniff with JSON, TwiML and error answers', async () => {
    const json = await fetch(`${stack.functionsUrl}/client-config`);
    // An error answer of the functions' own (an unsigned protected request never reaches them).
    const refused = await fetch(`${stack.functionsUrl}/token`, { method: 'POST' });
    const url = `${stack.functionsUrl}/voice`;
    const params = { From: '+15550001111', To: 'nowhere', CallSid: randomCallSid() };
    const twiml = await fetch(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-Twilio-Signature': twilio.getExpectedTwilioSignature(stack.sandbox.authToken, url, params),
      },
      body: new URLSearchParams(params).toString(),
    });
    expect(twiml.headers.get('content-type')).toMatch(/^text\/xml/);
    expect(refused.status).toBe(403);
    for (const res of [json, refused, twiml]) expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('refuses OPERATOR_SECRET and passwords in a URL, and takes them from the body', async () => {
    const secret = encodeURIComponent(SANDBOX_DEFAULTS.operatorSecret);
    const inUrl = await fetch(`${stack.functionsUrl}/operator-session?secret=${secret}`, { method: 'POST' });
    expect(inUrl.status).toBe(400);
    const body = (await inUrl.json()) as { code: string; message: string };
    expect(body.code).toBe('secret-in-url');
    expect(JSON.stringify(body)).not.toContain(SANDBOX_DEFAULTS.operatorSecret);
    const password = await fetch(`${stack.functionsUrl}/agent-session?identity=alice&password=whatever-it-is`, {
      method: 'POST',
    });
    expect(password.status).toBe(400);
    expect(((await password.json()) as { code: string }).code).toBe('secret-in-url');
    const inBody = await fetch(`${stack.functionsUrl}/operator-session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ secret: SANDBOX_DEFAULTS.operatorSecret }).toString(),
    });
    expect(inBody.status).toBe(200);
  });
});
