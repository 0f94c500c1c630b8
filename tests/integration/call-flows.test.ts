// Whole calls through HTTP only: the sandbox plays Twilio and the SDK phones, the real functions
// run under real twilio-run, and the real `twilio` client reads what they stored.
import { callMessages, sendMessage, signedPost } from '../../client/src';
import { legMapName } from '../../lib/store/call-store';
import { checkExchanges, loadContract } from '../support/openapi-contract';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';
import { gatewayLog } from '../support/functions-gateway';
import { defined } from '../support/narrow';
import { callSid } from '../../testing/sids';

const stack = useTestStack();

const ctl = () => stack.control;

async function sdkLegOf(identity: string, state: string = 'open') {
  return waitFor(
    async () => (await ctl().phone(identity)).calls.find((c) => c.state === state),
    `${identity} to have a ${state} call`,
  );
}

async function subscribed(callSid: string) {
  return waitFor(async () => {
    const call = await ctl().call(callSid);
    return call.subscriptions.length > 0 ? call : undefined;
  }, `a subscription on ${callSid}`);
}

describe('incoming phone call → SDK client (child leg)', () => {
  let parentSid: string;
  let legSid: string;

  beforeAll(async () => {
    await ctl().registerPhone('alice', { autoAnswer: true });
    parentSid = (await ctl().callIn('+15551230001')).callSid;
    legSid = (await sdkLegOf('alice')).callSid;
  });

  it('dials alice as a <Client> child leg and subscribes that leg, once', async () => {
    const leg = await subscribed(legSid);
    expect(leg.parentCallSid).toBe(parentSid);
    expect(leg.direction).toBe('outbound-dial');
    expect(defined(leg.subscriptions[0]).callback).toMatch(
      new RegExp(
        `/message-callback\\?cme_leg=${legSid}&cme_issued=\\d+&cme_token=[\\w-]{32}` +
          `&cme_parent=${parentSid}&cme_identity=alice#rc=`,
      ),
    );
    await ctl().idle();
    expect((await ctl().call(legSid)).subscriptionsCreated).toBe(1);
    expect((await ctl().call(parentSid)).subscriptionsCreated).toBe(0);
  });

  it('stores an SDK message once and reads it back from /call-messages', async () => {
    const sent = await ctl().sendFromPhone('alice', legSid, { greeting: 'hi server', n: 1 });
    expect(sent.deliveries).toEqual([{ status: 200 }]);
    const history = await callMessages(stack.fn, legSid);
    expect(history.status).toBe(200);
    expect(history.body.state).toMatchObject({
      callSid: legSid,
      status: 'in-progress',
      role: 'child',
      identity: 'alice',
      peer: '+15551230001',
    });
    expect(history.body.messages).toEqual([
      expect.objectContaining({
        sid: sent.voiceEventSid,
        direction: 'from-sdk',
        // Twilio's own SDK tests see the first message as SequenceNumber 1 (the sandbox's default; a knob).
        sequence: (await ctl().getKnobs()).messages.firstSequenceNumber,
        content: '{"greeting":"hi server","n":1}',
        data: { greeting: 'hi server', n: 1 },
      }),
    ]);
  });

  it('delivers /send-message to alice and records it', async () => {
    const res = await sendMessage(stack.fn, {
      callSid: legSid,
      content: { fromServer: true },
      idempotencyKey: 'flow-1',
    });
    expect(res.status).toBe(201);
    const body = res.body as { sid: string };
    expect(body.sid).toMatch(/^KX[0-9a-f]{32}$/);
    const phone = await ctl().phone('alice');
    const received = phone.calls.find((c) => c.callSid === legSid)!.received;
    expect(received).toEqual([expect.objectContaining({ voiceEventSid: body.sid, content: { fromServer: true } })]);
    const history = await callMessages(stack.fn, legSid);
    expect(history.body.messages.map((m) => m.direction)).toEqual(['from-sdk', 'to-sdk']);
  });

  it('targets alice by identity too', async () => {
    const res = await sendMessage(stack.fn, { identity: 'alice', content: '{"byIdentity":1}' });
    expect(res.status).toBe(201);
    expect((res.body as { callSid: string }).callSid).toBe(legSid);
  });

  it('closes the call out when it ends, sets the Sync map to expire, and refuses messages after', async () => {
    await ctl().hangup('alice', legSid);
    await ctl().idle();
    const history = await waitFor(async () => {
      const h = await callMessages(stack.fn, legSid);
      return (h.body.state as { status?: string } | null)?.status === 'completed' ? h : undefined;
    }, 'the completed state');
    expect(history.body.state).toMatchObject({ status: 'completed', endedAt: expect.any(String) });
    const map = await stack.twilio.sync.v1.services('default').syncMaps(legMapName(legSid)).fetch();
    const expiresInHours = (map.dateExpires.getTime() - Date.now()) / 3_600_000;
    expect(expiresInHours).toBeGreaterThan(23);
    expect(expiresInHours).toBeLessThanOrEqual(24.01);
    const refused = await sendMessage(stack.fn, { callSid: legSid, content: { late: true } });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'call-not-active', message: expect.any(String) });
    expect((await ctl().call(parentSid)).status).toBe('completed');
  });
});

describe('SDK client → phone number (parent leg)', () => {
  it('dials the number with the caller ID, subscribes the parent leg and carries messages both ways', async () => {
    await ctl().registerPhone('bob');
    const { callSid } = await ctl().placeCall('bob', '+15557654321', { topic: 'billing' });
    await subscribed(callSid);
    const parent = await ctl().call(callSid);
    expect(parent.from).toBe('client:bob');
    const child = (await ctl().calls()).calls.find((c) => c.parentCallSid === callSid)!;
    expect(child).toMatchObject({
      to: '+15557654321',
      from: '+15005550006',
      direction: 'outbound-dial',
      subscriptionsCreated: 0,
    });
    const sent = await ctl().sendFromPhone('bob', callSid, { ask: 'balance' });
    expect(sent.deliveries).toEqual([{ status: 200 }]);
    expect((await sendMessage(stack.fn, { callSid, content: { balance: 42 } })).status).toBe(201);
    const history = await callMessages(stack.fn, callSid);
    expect(history.body.state).toMatchObject({ role: 'parent', identity: 'bob', peer: '+15557654321' });
    expect(history.body.messages.map((m) => m.data)).toEqual([{ ask: 'balance' }, { balance: 42 }]);
    await ctl().hangupCall(child.sid);
    await waitFor(async () => (await ctl().call(callSid)).status === 'completed', 'the parent to end');
  });

  it('records a busy number as a finished call, its leg subscribed only if initiated came first', async () => {
    await ctl().setPstnBehaviour('+15550000486', 'busy');
    const { callSid } = await ctl().placeCall('bob', '+15550000486');
    await waitFor(
      async () =>
        (await ctl().call(callSid)).status === 'completed' || (await ctl().call(callSid)).status === 'canceled',
      'the call to end',
    );
    await ctl().idle();
    const history = await callMessages(stack.fn, callSid);
    expect(history.body.state).toMatchObject({ status: 'busy' });
    // The caller's leg is subscribed at its child's initiated, unless the final status got there
    // first (the realistic profile holds callbacks back): never after the end, never twice.
    const child = defined((await ctl().calls()).calls.find((c) => c.parentCallSid === callSid)).sid;
    const delivery = (status: string) =>
      defined(
        stack.sandbox.webhooks.log.find((w) => w.kind === 'status' && w.callSid === child && w.callStatus === status),
      );
    const [initiated, busy] = [delivery('initiated'), delivery('busy')];
    const created = (await ctl().call(callSid)).subscriptionsCreated;
    // Initiated answered before busy began: subscribed once; after busy ended: never; the two overlapped: either.
    const possible = initiated.at + initiated.ms <= busy.at ? [1] : initiated.at >= busy.at + busy.ms ? [0] : [0, 1];
    expect(possible).toContain(created);
  });
});

describe('SDK client → SDK client (both legs)', () => {
  it('subscribes both legs, each message lands on its own leg', async () => {
    await ctl().registerPhone('carol');
    await ctl().registerPhone('dave', { autoAnswer: true });
    const { callSid: parentSid } = await ctl().placeCall('carol', 'client:dave');
    const daveLeg = (await sdkLegOf('dave')).callSid;
    await subscribed(parentSid);
    await subscribed(daveLeg);
    await ctl().sendFromPhone('carol', parentSid, { from: 'carol' });
    await ctl().sendFromPhone('dave', daveLeg, { from: 'dave' });
    expect((await callMessages(stack.fn, parentSid)).body.messages.map((m) => m.data)).toEqual([{ from: 'carol' }]);
    expect((await callMessages(stack.fn, daveLeg)).body.messages.map((m) => m.data)).toEqual([{ from: 'dave' }]);
    const toDave = await sendMessage(stack.fn, { identity: 'dave', content: { hi: 'dave' } });
    expect(toDave.status).toBe(201);
    expect(defined((await ctl().phone('dave')).calls[0]).received.map((m) => m.content)).toEqual([{ hi: 'dave' }]);
    await ctl().hangup('carol', parentSid);
    await waitFor(async () => (await ctl().call(daveLeg)).status === 'completed', 'the callee leg to end');
  });

  it('routes a bare identity as a client too', async () => {
    const { callSid } = await ctl().placeCall('carol', 'dave');
    await subscribed(callSid);
    const dave = await sdkLegOf('dave');
    await ctl().hangup('dave', dave.callSid);
    await waitFor(async () => (await ctl().call(callSid)).status === 'completed', 'the caller leg to end');
  });
});

describe('refusals', () => {
  // Twilio's Functions gateway refuses these with 400 before the function runs (sandbox's Functions
  // gateway); the functions' own check (403 signature-invalid) is covered by the unit tests.
  it('refuses unsigned and wrongly signed requests to every protected route', async () => {
    const gateway = gatewayLog(ctl);
    for (const path of ['/voice', '/call-status', '/message-callback', '/send-message', '/call-messages']) {
      const mark = await gateway.mark();
      const unsigned = await fetch(`${stack.functionsUrl}${path}`, {
        method: 'POST',
        body: new URLSearchParams({ CallSid: callSid(0) }),
      });
      expect(unsigned.status).toBe(400);
      expect(await unsigned.json()).toMatchObject({ code: expect.any(Number), message: expect.any(String) });
      const forged = await signedPost({ baseUrl: stack.functionsUrl, authToken: 'not-the-token' }, path, {
        CallSid: callSid(0),
      });
      expect(forged.status).toBe(400);
      // Neither reached twilio-run.
      expect((await gateway.since(mark, path)).filter((r) => !r.forwarded)).toMatchObject([
        { refused: 'signature-invalid' },
        { refused: 'signature-invalid' },
      ]);
    }
  });

  it('answers a call the functions cannot route with <Say> and <Hangup>', async () => {
    const res = await signedPost(stack.fn, '/voice', {
      From: 'client:erin',
      To: 'not a number!',
      CallSid: callSid(1),
    });
    expect(res.status).toBe(200);
    expect(String(res.body)).toMatch(/<Say>.*<\/Say><Hangup\/>/);
  });

  it('refuses bad content and unknown calls with 4xx JSON', async () => {
    expect((await sendMessage(stack.fn, { callSid: callSid(0xf), content: { x: 1 } })).status).toBe(404);
    const notJson = await sendMessage(stack.fn, { callSid: callSid(0xf), content: 'not json' });
    expect(notJson).toMatchObject({ status: 400, body: { code: 'content-invalid' } });
    const tooLong = await sendMessage(stack.fn, {
      callSid: callSid(0xf),
      content: JSON.stringify({ a: 'x'.repeat(10_000) }),
    });
    expect(tooLong).toMatchObject({ status: 400, body: { code: 'content-too-long' } });
    expect((await callMessages(stack.fn, callSid(0xe))).status).toBe(404);
  });
});

describe('messages over JSON-encoded callbacks (bodySHA256)', () => {
  it('verifies the URL signature and the per-leg token, and stores the message', async () => {
    await ctl().knobs({ webhooks: { messageEncoding: 'json' } });
    try {
      await ctl().registerPhone('frank', { autoAnswer: true });
      const { callSid } = await ctl().placeCall('frank', '+15553334444');
      await subscribed(callSid);
      const sent = await ctl().sendFromPhone('frank', callSid, { encoded: 'json' });
      expect(sent.deliveries).toEqual([{ status: 200 }]);
      expect((await callMessages(stack.fn, callSid)).body.messages[0]).toMatchObject({
        content: '{"encoded":"json"}',
        data: { encoded: 'json' },
      });
      await ctl().hangup('frank', callSid);
    } finally {
      await ctl().knobs({ webhooks: { messageEncoding: 'form' } });
    }
  });
});

describe('the sandbox REST API through the real twilio client', () => {
  it('creates an outbound-api call to a client, plays its TwiML and completes it', async () => {
    await ctl().registerPhone('zoe', { autoAnswer: true });
    const call = await stack.twilio.calls.create({
      to: 'client:zoe',
      from: '+15005550006',
      twiml: '<Response><Say>Hello</Say><Pause length="1"/></Response>',
    });
    expect(call.sid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(call.direction).toBe('outbound-api');
    const done = await waitFor(async () => {
      const c = await stack.twilio.calls(call.sid).fetch();
      return c.status === 'completed' ? c : undefined;
    }, 'the call to complete');
    expect(done.endTime).toBeInstanceOf(Date);
  });

  it('hangs up with Status=completed and redirects a call with new TwiML', async () => {
    const { callSid } = await ctl().callIn('+15551230077'); // rings CLIENT_IDENTITY, alice
    await waitFor(async () => (await ctl().call(callSid)).status === 'in-progress', 'the call to connect');
    const aliceLeg = (await ctl().calls()).calls.find((c) => c.parentCallSid === callSid)!.sid;
    // Redirect: the <Dial> ends and the new TwiML runs (a hang-up).
    await stack.twilio.calls(callSid).update({ twiml: '<Response><Hangup/></Response>' });
    await waitFor(
      async () => (await stack.twilio.calls(callSid).fetch()).status === 'completed',
      'the redirected call to end',
    );
    const alice = (await ctl().phone('alice')).calls.find((c) => c.callSid === aliceLeg)!;
    expect(alice.state).toBe('closed');

    const second = await ctl().callIn('+15551230078');
    await waitFor(
      async () => (await ctl().call(second.callSid)).status === 'in-progress',
      'the second call to connect',
    );
    const updated = await stack.twilio.calls(second.callSid).update({ status: 'completed' });
    expect(updated.status).toBe('completed');
    // The Calls API is eventually consistent (the realistic profile lags it, `calls.lagMs`): its list
    // shows the end once it has caught up.
    const calls = await waitFor(async () => {
      const listed = await stack.twilio.calls.list({ parentCallSid: second.callSid });
      return listed.some((c) => c.status === 'completed') ? listed : undefined;
    }, 'the list to show the end');
    expect(calls.map((c) => c.status)).toEqual(['completed']);
  });

  it('fails one endpoint on demand: /send-message answers 503 (retryable) and records nothing', async () => {
    await ctl().registerPhone('kim', { autoAnswer: true });
    const { callSid } = await ctl().placeCall('kim', '+15551230081');
    await subscribed(callSid);
    await ctl().knobs({ faults: { rate: 1, routes: ['/UserDefinedMessages.json'], kinds: [503] } });
    try {
      const res = await sendMessage(stack.fn, { callSid, content: { never: 'arrives' }, idempotencyKey: 'fault-1' });
      expect(res).toMatchObject({ status: 503, body: { code: 'twilio-unavailable' } });
    } finally {
      await ctl().knobs({ faults: { rate: 0, routes: null } });
    }
    expect(defined((await ctl().phone('kim')).calls[0]).received).toEqual([]);
    expect((await callMessages(stack.fn, callSid)).body.messages).toEqual([]);
    // The same key once Twilio answers again: sent once.
    expect(
      (await sendMessage(stack.fn, { callSid, content: { never: 'arrives' }, idempotencyKey: 'fault-1' })).status,
    ).toBe(201);
    expect(defined((await ctl().phone('kim')).calls[0]).received).toHaveLength(1);
    await ctl().hangup('kim', callSid);
  }, 20_000);

  it('removes a subscription: the SDK message then reaches no callback', async () => {
    await ctl().registerPhone('ida', { autoAnswer: true });
    const { callSid } = await ctl().placeCall('ida', '+15551230079');
    const subscription = defined((await subscribed(callSid)).subscriptions[0]);
    expect(await stack.twilio.calls(callSid).userDefinedMessageSubscriptions(subscription.sid).remove()).toBe(true);
    expect((await ctl().sendFromPhone('ida', callSid, { nobody: 'listens' })).deliveries).toEqual([]);
    await expect(
      stack.twilio.calls(callSid).userDefinedMessageSubscriptions(subscription.sid).remove(),
    ).rejects.toMatchObject({ status: 404, code: 20404 });
    await ctl().hangup('ida', callSid);
  });

  it('rejects what the spec rejects, and the contract checker agrees', async () => {
    const auth = 'Basic ' + Buffer.from(`${stack.sandbox.accountSid}:${stack.sandbox.authToken}`).toString('base64');
    const account = `/2010-04-01/Accounts/${stack.sandbox.accountSid}`;
    const { callSid } = await ctl().placeCall('ida', '+15551230080');
    await subscribed(callSid);
    const bad: { product: 'api' | 'sync'; path: string; form: Record<string, string> }[] = [
      { product: 'api', path: `${account}/Calls.json`, form: { From: '+15005550006', Url: 'https://example.com/x' } },
      { product: 'api', path: `${account}/Calls/${callSid}/UserDefinedMessages.json`, form: { IdempotencyKey: 'k' } },
      {
        product: 'api',
        path: `${account}/Calls/${callSid}/UserDefinedMessageSubscriptions.json`,
        form: { Callback: 'https://example.com/cb', Method: 'PUT' },
      },
      { product: 'sync', path: '/v1/Services/default/Maps/contract-neg/Items', form: { Data: '{}' } },
    ];
    const contract = loadContract();
    const recordedBefore = stack.sandbox.exchanges.length;
    const post = async (req: (typeof bad)[number]) => {
      const res = await fetch(`${stack.sandbox.url}/${req.product}${req.path}`, {
        method: 'POST',
        headers: { Authorization: auth, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(req.form),
      });
      return {
        product: req.product,
        method: 'POST',
        path: req.path,
        query: {},
        form: req.form,
        status: res.status,
        responseBody: (await res.json()) as unknown,
      };
    };
    // The Map the bad Items request goes to: a valid request.
    const setup = await post({
      product: 'sync',
      path: '/v1/Services/default/Maps',
      form: { UniqueName: 'contract-neg' },
    });
    expect(setup.status).toBe(201);
    for (const req of bad) {
      const exchange = await post(req);
      expect({ path: req.path, status: exchange.status }).toEqual({ path: req.path, status: 400 });
      expect(contract.checkRequest(exchange).length).toBeGreaterThan(0);
      expect(contract.checkResponse(exchange)).toEqual([]);
    }
    // Checked here; the whole-suite contract check below is about requests meant to be valid.
    const deliberate = stack.sandbox.exchanges
      .slice(recordedBefore)
      .filter((e) => e.status === 400 && bad.some((b) => b.path === e.path));
    expect(deliberate).toHaveLength(4);
    for (const e of deliberate) stack.sandbox.exchanges.splice(stack.sandbox.exchanges.indexOf(e), 1);
    await ctl().hangup('ida', callSid);
  });
});

describe('REST contract', () => {
  it('every exchange the suite provoked matches the twilio-oai spec', async () => {
    await ctl().idle();
    const exchanges = stack.sandbox.exchanges;
    expect(exchanges.length).toBeGreaterThan(20);
    const contract = loadContract();
    const ops = new Set(exchanges.map((e) => contract.operationFor(e)));
    for (const op of [
      'CreateUserDefinedMessage',
      'CreateUserDefinedMessageSubscription',
      'ListCall',
      'CreateSyncMap',
      'CreateSyncMapItem',
      'ListSyncMapItem',
    ]) {
      expect([...ops]).toContain(op);
    }
    const problems = checkExchanges(exchanges, contract);
    expect(problems).toEqual([]);
  });
});
