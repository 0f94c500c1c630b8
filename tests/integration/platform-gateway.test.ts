// The Functions gateway (sandbox/functions-gateway.ts) over real twilio-run: what Twilio's platform
// does before and after a Function runs. Headers a Function never sees, the 1 MB request and 4 MB
// answer limits, the 10 s invocation limit, and the signature check on protected paths (400 before
// the function runs), with both readings of SharedKey signatures. twilio-run sits behind it on
// loopback only, and everything that calls the functions goes through it.
import { networkInterfaces } from 'node:os';
import twilio from 'twilio';
import { callMessages, sendMessage, signedPost } from '../../client/src';
import type { GatewayRecord } from '../../sandbox/functions-gateway';
import { SANDBOX_SHARED_KEY } from '../../sandbox/webhooks';
import { waitFor } from '../../testing/stack';
import { randomCallSid } from '../../testing/sids';
import { defined } from '../support/narrow';
import { useTestStack } from '../support/stack';
import { gatewayLog } from '../support/functions-gateway';

const stack = useTestStack();
const ctl = () => stack.control;

const gateway = gatewayLog(ctl);

/**
 * The gateway's record of the last request to `path`: what reached twilio-run, if anything. Only
 * for paths the sandbox never calls itself (its late callbacks go to /voice, /call-status, /message-callback).
 */
async function lastThrough(path: string): Promise<GatewayRecord> {
  return defined((await gateway.since(0, path)).at(-1));
}

/** A Twilio-shaped refusal from the gateway itself. */
const gatewayRefusal = (status: number) => ({ status, code: expect.any(Number), message: expect.any(String) });

describe('the platform around the functions', () => {
  it("starts with Twilio's limits: 1 MB requests, 4 MB answers, 10 s invocations", async () => {
    // Read from the running sandbox before any test changes a knob: these are what every suite runs under.
    expect((await ctl().getKnobs()).functions).toEqual({
      requestMaxBytes: 1_000_000,
      answerMaxBytes: 4_000_000,
      timeoutMs: 10_000,
      oversizeAnswerStatus: 502,
      sharedKeySignatures: 'accepted',
    });
  });

  it('keeps twilio-run on loopback, behind the gateway, which every caller and callback goes through', async () => {
    const direct = new URL(stack.twilioRunUrl);
    expect(direct.hostname).toBe('127.0.0.1');
    expect(direct.port).not.toBe(new URL(stack.functionsUrl).port);
    expect((await fetch(`${stack.twilioRunUrl}/client-config`)).status).toBe(200);
    // From another interface of this machine (where it has one), twilio-run's port answers nothing.
    const outside = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    const fromOutside = outside
      ? await fetch(`http://${outside}:${direct.port}/client-config`).then(
          () => 'answered',
          () => 'refused',
        )
      : 'refused';
    expect(fromOutside).toBe('refused');

    // A whole call: /voice, /call-status and /message-callback all reach the functions through the gateway.
    await ctl().registerPhone('through', { autoAnswer: true });
    const before = stack.sandbox.webhooks.log.length;
    const { callSid } = await ctl().placeCall('through', '+15557771001');
    const sub = await waitFor(async () => (await ctl().call(callSid)).subscriptions[0], 'a subscription');
    // The functions build their callbacks from context.DOMAIN_NAME: the gateway's host, as on Twilio.
    expect(sub.callback.startsWith(`${stack.functionsUrl}/message-callback?`)).toBe(true);
    expect((await ctl().sendFromPhone('through', callSid, { via: 'gateway' })).deliveries).toEqual([{ status: 200 }]);
    await ctl().hangup('through', callSid);
    await ctl().idle();
    const webhooks = stack.sandbox.webhooks.log.slice(before);
    expect(new Set(webhooks.map((w) => w.kind))).toEqual(new Set(['voice', 'status', 'message']));
    expect(webhooks.every((w) => w.url.startsWith(`${stack.functionsUrl}/`) && w.status === 200)).toBe(true);
    const { requests } = await ctl().functionsGateway();
    for (const path of ['/voice', '/call-status', '/message-callback'])
      expect(requests.some((r) => r.path === path && r.forwarded && r.status === 200)).toBe(true);
  });

  it('never passes on the headers a Function never sees', async () => {
    const res = await fetch(`${stack.functionsUrl}/client-config`, {
      headers: {
        'X-Forwarded-For': '203.0.113.7',
        'X-Forwarded-Proto': 'https',
        'X-Real-IP': '203.0.113.8',
        Via: '1.1 proxy',
        Referer: 'https://example.com/',
        'I-Twilio-Idempotency-Token': 'abc',
        'X-Amz-Trace-Id': 'Root=1-abc',
        'X-Probe-Kept': 'yes',
      },
    });
    expect(res.status).toBe(200);
    const { headerNames, forwarded } = await lastThrough('/client-config');
    expect(forwarded).toBe(true);
    expect(headerNames).toContain('x-probe-kept');
    for (const name of ['x-forwarded-for', 'x-forwarded-proto', 'x-real-ip', 'via', 'referer'])
      expect(headerNames).not.toContain(name);
    expect(headerNames.filter((n) => n.startsWith('i-twilio-') || n.startsWith('x-amz'))).toEqual([]);
  });

  it('refuses a request over 1 MB with its headers with 413, before the function', async () => {
    const post = (bytes: number) =>
      fetch(`${stack.functionsUrl}/agent-session`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: `identity=${'a'.repeat(bytes - 'identity='.length)}`,
      });
    for (const bytes of [1_000_001, 1_000_000]) {
      // A body of exactly 1,000,000 bytes is over the limit with its headers.
      const res = await post(bytes);
      expect([bytes, res.status]).toEqual([bytes, 413]);
      expect(await res.json()).toMatchObject(gatewayRefusal(413));
      expect(await lastThrough('/agent-session')).toMatchObject({ forwarded: false, refused: 'request-too-large' });
    }
    const under = await post(990_000);
    expect(under.status).toBeLessThan(500);
    expect(await lastThrough('/agent-session')).toMatchObject({ forwarded: true });
    expect((await lastThrough('/agent-session')).requestBytes).toBeLessThanOrEqual(1_000_000);
  });

  it('answers 400 to a protected path with a missing or bad signature, and the function never runs', async () => {
    await ctl().registerPhone('guarded', { autoAnswer: true });
    const { callSid } = await ctl().placeCall('guarded', '+15557771002');
    await waitFor(async () => (await ctl().call(callSid)).subscriptions[0], 'a subscription');
    const content = JSON.stringify({ forged: true });
    for (const path of ['/voice', '/call-status', '/message-callback', '/send-message', '/call-messages']) {
      const mark = await gateway.mark();
      const unsigned = await fetch(`${stack.functionsUrl}${path}`, {
        method: 'POST',
        body: new URLSearchParams({ callSid, CallSid: callSid, content }),
      });
      expect([path, unsigned.status]).toEqual([path, 400]);
      expect(await unsigned.json()).toMatchObject(gatewayRefusal(400));
      const forged = await signedPost({ baseUrl: stack.functionsUrl, authToken: 'not-the-auth-token' }, path, {
        callSid,
        CallSid: callSid,
        content,
      });
      expect([path, forged.status]).toEqual([path, 400]);
      // Both stopped at the gateway: neither reached twilio-run.
      const refused = (await gateway.since(mark, path)).filter((r) => !r.forwarded).map((r) => r.refused);
      expect([path, refused]).toEqual([path, ['signature-invalid', 'signature-invalid']]);
    }
    // A signature for another URL (or the same one with other parameters) is just as bad.
    const url = `${stack.functionsUrl}/send-message`;
    const replayed = await fetch(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-Twilio-Signature': twilio.getExpectedTwilioSignature(stack.sandbox.authToken, url, { callSid }),
      },
      body: new URLSearchParams({ callSid, content }).toString(),
    });
    expect(replayed.status).toBe(400);
    // None of them reached the phone; a good signature does, once.
    expect((await sendMessage(stack.fn, { callSid, content: { signed: true } })).status).toBe(201);
    const phoneCall = defined((await ctl().phone('guarded')).calls[0]);
    expect(phoneCall.received.map((m) => m.content)).toEqual([{ signed: true }]);
    expect(await lastThrough('/send-message')).toMatchObject({ forwarded: true, status: 201 });
    await ctl().hangup('guarded', callSid);
  });

  it('checks a JSON body against the bodySHA256 its signed URL carries', async () => {
    const leg = randomCallSid();
    const body = JSON.stringify({ callSid: leg });
    const url = `${stack.functionsUrl}/call-messages?bodySHA256=${twilio.getExpectedBodyHash(body)}`;
    const signature = twilio.getExpectedTwilioSignature(stack.sandbox.authToken, url, {});
    const post = (sent: string) =>
      fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Twilio-Signature': signature },
        body: sent,
      });
    const tampered = await post(JSON.stringify({ callSid: randomCallSid() }));
    expect(tampered.status).toBe(400);
    expect(await lastThrough('/call-messages')).toMatchObject({ forwarded: false, refused: 'signature-invalid' });
    await post(body);
    expect(await lastThrough('/call-messages')).toMatchObject({ forwarded: true });
    // The sandbox's own JSON message callbacks pass the same check.
    await stack.withKnobs({ webhooks: { messageEncoding: 'json' } }, async () => {
      await ctl().registerPhone('json-cb', { autoAnswer: true });
      const { callSid } = await ctl().placeCall('json-cb', '+15557771003');
      await waitFor(async () => (await ctl().call(callSid)).subscriptions[0], 'a subscription');
      expect((await ctl().sendFromPhone('json-cb', callSid, { json: true })).deliveries).toEqual([{ status: 200 }]);
      await ctl().hangup('json-cb', callSid);
    });
  });

  describe('SharedKey signatures on protected paths (undocumented: both readings)', () => {
    const leg = randomCallSid();
    const sharedKey = () => ({ ...stack.fn, sharedKey: SANDBOX_SHARED_KEY });
    const wrongKey = () => ({ ...stack.fn, sharedKey: { id: SANDBOX_SHARED_KEY.id, secret: 'not-the-secret-00000' } });

    it('accepted: checked with the SharedKey secret, then the function runs', async () => {
      await stack.withKnobs({ functions: { sharedKeySignatures: 'accepted' } }, async () => {
        const res = await callMessages(sharedKey(), leg);
        // It reaches the function, which finds no such leg.
        expect([res.status, (res.body as { code?: unknown }).code]).toEqual([404, 'call-not-found']);
        expect(await lastThrough('/call-messages')).toMatchObject({ forwarded: true });
        expect((await callMessages(wrongKey(), leg)).status).toBe(400);
        expect((await callMessages(stack.fn, leg)).status).toBe(404);
      });
    });

    it('refused: every SharedKey signature gets 400; the Auth Token still passes', async () => {
      await stack.withKnobs({ functions: { sharedKeySignatures: 'refused' } }, async () => {
        expect((await callMessages(sharedKey(), leg)).status).toBe(400);
        expect(await lastThrough('/call-messages')).toMatchObject({ forwarded: false, refused: 'signature-invalid' });
        expect((await callMessages(wrongKey(), leg)).status).toBe(400);
        expect((await callMessages(stack.fn, leg)).status).toBe(404);
      });
    });
  });

  it('ends an invocation that runs past the limit with 504', async () => {
    const leg = randomCallSid();
    // Every Twilio request of the function takes 1.5 s; the invocation may take 300 ms.
    await stack.withKnobs({ functions: { timeoutMs: 300 }, faults: { latencyMs: 1_500 } }, async () => {
      const started = Date.now();
      const res = await callMessages(stack.fn, leg);
      const took = Date.now() - started;
      expect(res.status).toBe(504);
      expect(res.body).toMatchObject(gatewayRefusal(504));
      expect(took).toBeGreaterThanOrEqual(300);
      expect(took).toBeLessThan(1_500);
      expect(await lastThrough('/call-messages')).toMatchObject({ forwarded: true, refused: 'timeout', status: 504 });
    });
    expect((await callMessages(stack.fn, leg)).status).toBe(404);
  });

  it('turns an answer over the limit into an error answer (status: the oversizeAnswerStatus knob)', async () => {
    const whole = await fetch(`${stack.functionsUrl}/client-config`);
    const size = Buffer.byteLength(await whole.text());
    await stack.withKnobs({ functions: { answerMaxBytes: size } }, async () => {
      expect((await fetch(`${stack.functionsUrl}/client-config`)).status).toBe(200);
    });
    for (const status of [502, 500]) {
      await stack.withKnobs({ functions: { answerMaxBytes: size - 1, oversizeAnswerStatus: status } }, async () => {
        const res = await fetch(`${stack.functionsUrl}/client-config`);
        expect(res.status).toBe(status);
        expect(await res.json()).toMatchObject(gatewayRefusal(status));
        expect(await lastThrough('/client-config')).toMatchObject({ forwarded: true, refused: 'answer-too-large' });
      });
    }
  });

  it("measures the gateway's cost per request (p50, /client-config, sequential)", async () => {
    const p50 = async (base: string) => {
      const times: number[] = [];
      for (let i = 0; i < 200; i++) {
        const started = performance.now();
        const res = await fetch(`${base}/client-config`);
        await res.arrayBuffer();
        expect(res.status).toBe(200);
        times.push(performance.now() - started);
      }
      times.sort((a, b) => a - b);
      return defined(times[100]);
    };
    await p50(stack.functionsUrl); // warm both paths
    const direct = await p50(stack.twilioRunUrl);
    const through = await p50(stack.functionsUrl);
    console.log(
      `Functions gateway overhead: p50 ${(through - direct).toFixed(2)} ms per request ` +
        `(twilio-run direct ${direct.toFixed(2)} ms, through the gateway ${through.toFixed(2)} ms)`,
    );
  });
});
