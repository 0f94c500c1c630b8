// /send-message past validation, with a stub of the Calls API operations it uses (calls.list,
// calls(sid).fetch and calls(sid).userDefinedMessages.create) and the real CallStore on the in-process Sync sandbox.
// The stub answers as Twilio does; the full flow against the sandbox is the integration suite's.
import { twilioFunction, type RouteContext } from '../../../lib/http/function-handler';
import { CallStore, legMapName, SEND_UNKNOWN_SETTLE_MS } from '../../../lib/store/call-store';
import { sendClaimKey } from '../../../lib/store/keys';
import { sendCallMessage } from '../../../lib/routes/send-message';
import { REQUEST_TIMEOUT_MS } from '../../../lib/platform/retry';
import type { TwilioClient } from '../../../lib/platform/twilio-client';
import {
  expectError,
  invoke,
  LOCAL_BASE,
  makeContext,
  newFakeResponse,
  signedEvent,
} from '../../support/function-harness';
import { startSyncSandbox, type SyncSandbox } from '../../support/sync-sandbox';
import { defined } from '../../support/narrow';
import { callSid, messageSid } from '../../../testing/sids';

/** Fakes only the clock, set to `now` and moving on (timers stay real: the Sync sandbox serves over HTTP). */
const fakeClockAt = (now: number) =>
  jest.useFakeTimers({
    now,
    advanceTimers: true,
    doNotFake: [
      'nextTick',
      'setImmediate',
      'clearImmediate',
      'setTimeout',
      'clearTimeout',
      'setInterval',
      'clearInterval',
      'queueMicrotask',
      'hrtime',
      'performance',
    ],
  });

const ALICE_PARENT = callSid(1);
const BOB_CHILD = callSid(2);

interface StubCall {
  sid: string;
  from: string;
  to: string;
  status: string;
  direction: string;
  parentCallSid: string | null;
}

/** alice (SDK) calls bob (SDK): the parent leg is alice's, the <Dial> child leg is bob's — and shows From=client:alice. */
const CLIENT_TO_CLIENT: StubCall[] = [
  { sid: ALICE_PARENT, from: 'client:alice', to: '', status: 'in-progress', direction: 'inbound', parentCallSid: null },
  {
    sid: BOB_CHILD,
    from: 'client:alice',
    to: 'client:bob',
    status: 'in-progress',
    direction: 'outbound-dial',
    parentCallSid: ALICE_PARENT,
  },
];

let sandbox: SyncSandbox;
let store: CallStore;
let calls: StubCall[];
let sent: { callSid: string; content: string; idempotencyKey?: string }[];
let createError: unknown;
/** Errors the next creates fail with, one each, before `createError` applies. */
let createFailures: unknown[];
/** Every UserDefinedMessage create the stub was asked for, failed or not. */
let createAttempts = 0;
let fetches: string[];
let lists: number;
/** Set to shorten the invocation's deadline (ms from now) for one test. */
let deadlineInMs: number | undefined;
/** How long the stub's UserDefinedMessage create takes. */
let createDelayMs = 0;

function stubClient(): TwilioClient {
  const list = async (q: { from?: string; to?: string; status?: string }) => {
    lists++;
    return calls.filter(
      (c) => (!q.from || c.from === q.from) && (!q.to || c.to === q.to) && (!q.status || c.status === q.status),
    );
  };
  const callsApi = Object.assign(
    (callSid: string) => ({
      fetch: async () => {
        fetches.push(callSid);
        const call = calls.find((c) => c.sid === callSid);
        if (!call) throw Object.assign(new Error('not found'), { status: 404, code: 20404 });
        return call;
      },
      userDefinedMessages: {
        create: async (opts: { content: string; idempotencyKey?: string }) => {
          createAttempts++;
          const failure = createFailures.shift();
          if (failure) throw failure;
          if (createError) throw createError;
          if (createDelayMs) await new Promise((resolve) => setTimeout(resolve, createDelayMs));
          sent.push({ callSid, ...opts });
          return { sid: messageSid(sent.length), callSid };
        },
      },
    }),
    { list },
  );
  return { calls: callsApi } as unknown as TwilioClient;
}

const handler = twilioFunction(
  { signed: true },
  (ctx: RouteContext) => {
    const { callSid, identity, content, idempotencyKey } = ctx.event;
    return sendCallMessage(
      {
        ...ctx,
        deadline: deadlineInMs === undefined ? ctx.deadline : Date.now() + deadlineInMs,
        client: stubClient,
        store: () => store,
      },
      { callSid, identity, content, idempotencyKey },
    );
  },
  newFakeResponse,
);
const send = (body: Record<string, string>) =>
  invoke(handler, makeContext('/send-message'), signedEvent(`${LOCAL_BASE}/send-message`, body));

beforeAll(async () => {
  sandbox = await startSyncSandbox();
  store = new CallStore(sandbox.client, { syncServiceSid: 'default', finishedCallTtl: 600, activeCallTtl: 3600 });
});
afterAll(() => sandbox.close());
beforeEach(() => {
  sandbox.reset();
  calls = [...CLIENT_TO_CLIENT];
  sent = [];
  createError = undefined;
  createFailures = [];
  createAttempts = 0;
  fetches = [];
  lists = 0;
  deadlineInMs = undefined;
  createDelayMs = 0;
  jest.spyOn(console, 'log').mockImplementation(() => {});
});
afterEach(() => jest.restoreAllMocks());

describe('/send-message (stub Calls API)', () => {
  it('sends to a callSid with an IdempotencyKey and records the message', async () => {
    const res = await send({ callSid: BOB_CHILD, content: '{"a":1}', idempotencyKey: 'k-1' });
    expect(res.statusCode).toBe(201);
    expect(res.body).toEqual({ sid: messageSid(1), callSid: BOB_CHILD, idempotencyKey: 'k-1', outcome: 'sent' });
    expect(sent).toEqual([{ callSid: BOB_CHILD, content: '{"a":1}', idempotencyKey: 'k-1' }]);
    const page = await store.readHistory(BOB_CHILD, { order: 'asc' }, 10);
    expect(page?.messages.map((m) => m.message)).toMatchObject([
      { sid: messageSid(1), direction: 'to-sdk', content: '{"a":1}', idempotencyKey: 'k-1' },
    ]);
  });

  it('sends once per idempotencyKey: a retry answers the recorded send, a concurrent twin is told to wait', async () => {
    const body = { callSid: BOB_CHILD, content: '{"a":1}', idempotencyKey: 'k-2' };
    const answers = await Promise.all([send(body), send(body), send(body)]);
    // The twins either find the send recorded already (200) or still under way (409): never a second send.
    expect(answers.filter((a) => a.statusCode === 201)).toHaveLength(1);
    for (const a of answers) expect([200, 201, 409]).toContain(a.statusCode);
    expect(sent).toHaveLength(1);
    const retry = await send(body);
    expect(retry.statusCode).toBe(200);
    expect(retry.body).toEqual({
      sid: messageSid(1),
      callSid: BOB_CHILD,
      idempotencyKey: 'k-2',
      outcome: 'already-sent',
    });
    expect(sent).toHaveLength(1);
  });

  it('records a send whose reused IdempotencyKey Twilio refused with 409 (it has the message already)', async () => {
    createError = { status: 409, code: 20409, message: 'IdempotencyKey already used' };
    const res = await send({ callSid: BOB_CHILD, content: '{"a":1}', idempotencyKey: 'k-3' });
    expect(res.statusCode).toBe(201);
    expect(res.body).toMatchObject({ sid: null, outcome: 'sent' });
    expect((await store.readHistory(BOB_CHILD, { order: 'asc' }, 10))?.messages).toHaveLength(1);
  });

  it('makes up an IdempotencyKey when none is given', async () => {
    const res = await send({ callSid: BOB_CHILD, content: '{}' });
    expect((res.body as { idempotencyKey: string }).idempotencyKey).toMatch(/^cme-[0-9a-f-]{36}$/);
    expect(defined(sent[0]).idempotencyKey).toBe((res.body as { idempotencyKey: string }).idempotencyKey);
  });

  it("finds the callee's leg of a client → client call by identity", async () => {
    const res = await send({ identity: 'bob', content: '{}' });
    expect(res.statusCode).toBe(201);
    expect(sent.map((s) => s.callSid)).toEqual([BOB_CHILD]);
  });

  it("finds the caller's leg of a client → client call by identity (not the <Dial> child, whose From is also client:alice)", async () => {
    const res = await send({ identity: 'alice', content: '{}' });
    expect(res.statusCode).toBe(201);
    expect(sent.map((s) => s.callSid)).toEqual([ALICE_PARENT]);
  });

  describe('while the Calls API lags behind the status callbacks', () => {
    const bobLeg = {
      callSid: BOB_CHILD,
      role: 'child' as const,
      identity: 'bob',
      peer: 'client:alice',
      parentCallSid: ALICE_PARENT,
    };
    /** What /call-status records of bob's leg at its ringing callback. */
    async function recordedLive() {
      await store.claimSubscription(bobLeg, 'ringing', new Date());
      await store.addIdentityLeg(bobLeg, new Date());
    }
    const notFound = () => Object.assign(new Error('not found'), { status: 404, code: 20404 });

    it('finds the leg by identity from what the callbacks recorded, never listing Calls', async () => {
      await recordedLive();
      calls = []; // the Calls API does not show the call yet
      const res = await send({ identity: 'bob', content: '{}' });
      expect(res.statusCode).toBe(201);
      expect(sent.map((s) => s.callSid)).toEqual([BOB_CHILD]);
      expect([lists, fetches]).toEqual([0, []]);
    });

    it('asks again while Twilio refuses a create on a leg the callbacks reported live (20404, then 31211)', async () => {
      await recordedLive();
      createFailures = [notFound(), Object.assign(new Error('not active'), { status: 400, code: 31211 })];
      const res = await send({ callSid: BOB_CHILD, content: '{}' });
      expect(res.statusCode).toBe(201);
      expect(sent).toHaveLength(1);
    });

    it('a leg with no record that the Calls API shows only later: sent once it shows it', async () => {
      calls = calls.filter((c) => c.sid !== BOB_CHILD);
      setTimeout(() => calls.push(defined(CLIENT_TO_CLIENT[1])), 600);
      const res = await send({ callSid: BOB_CHILD, content: '{}' });
      expect(res.statusCode).toBe(201);
      expect(fetches.length).toBeGreaterThan(1);
    });

    it('an identity seemingly on two calls: a leg the Calls API shows ended is not one of them', async () => {
      await recordedLive();
      const stale = { ...bobLeg, callSid: callSid(5) };
      await store.claimSubscription(stale, 'ringing', new Date());
      await store.addIdentityLeg(stale, new Date());
      calls = [{ ...defined(CLIENT_TO_CLIENT[1]), sid: callSid(5), status: 'completed' }];
      const res = await send({ identity: 'bob', content: '{}' });
      expect(res.statusCode).toBe(201);
      expect(sent.map((s) => s.callSid)).toEqual([BOB_CHILD]);
    });
  });

  it('answers 409 call-not-active for an identity with no active call', async () => {
    calls = calls.map((c) => ({ ...c, status: 'completed' }));
    expectError(await send({ identity: 'alice', content: '{}' }), 409, 'call-not-active');
    expect(sent).toEqual([]);
  });

  it('answers 409 call-ambiguous, listing the calls, for an identity on two calls', async () => {
    calls.push({
      sid: callSid(3),
      from: '+15557778888',
      to: 'client:bob',
      status: 'ringing',
      direction: 'outbound-dial',
      parentCallSid: callSid(4),
    });
    const res = await send({ identity: 'bob', content: '{}' });
    expectError(res, 409, 'call-ambiguous');
    expect((res.body as { callSids: string[] }).callSids.sort()).toEqual([BOB_CHILD, callSid(3)]);
  });

  it.each([
    ['with time for the record and then the mark', undefined],
    // The send may start (a request still fits before the record's); it answers too late for two more.
    ['late in the invocation: the mark goes with the record', 2 * REQUEST_TIMEOUT_MS + 300],
  ])('records, never resends, a message Twilio took whose record failed (%s)', async (_when, deadline) => {
    deadlineInMs = deadline;
    createDelayMs = deadline === undefined ? 0 : 400;
    jest.spyOn(CallStore.prototype, 'saveOutbound').mockRejectedValueOnce(new Error('Sync refused the write'));
    const sequential = jest.spyOn(CallStore.prototype, 'withDeadline');
    const body = { callSid: BOB_CHILD, content: '{"a":1}', idempotencyKey: 'k-unrecorded' };
    const first = expectError(await send(body), 503, 'record-failed');
    expect(sequential).toHaveBeenCalledTimes(deadline === undefined ? 1 : 0);
    deadlineInMs = undefined;
    expect(first).toMatchObject({ sid: messageSid(1) });
    // The retry records the send the claim was marked with (not 409 in progress, and no second send).
    const retry = await send(body);
    expect(retry.statusCode).toBe(200);
    expect(retry.body).toMatchObject({ sid: messageSid(1), outcome: 'already-sent' });
    expect(sent).toHaveLength(1);
    const page = await store.readHistory(BOB_CHILD, { order: 'asc' }, 10);
    expect(page?.messages.map((m) => m.message.sid)).toEqual([messageSid(1)]);
  });

  it('answers 503 with Retry-After when Sync refuses the record for its rate, and the retry records it, never resends', async () => {
    const rateLimited = Object.assign(new Error('Rate limit exceeded'), { status: 429, code: 54009 });
    jest.spyOn(CallStore.prototype, 'saveOutbound').mockRejectedValueOnce(rateLimited);
    const body = { callSid: BOB_CHILD, content: '{"a":2}', idempotencyKey: 'k-rate' };
    const first = await send(body);
    expectError(first, 503, 'record-failed');
    // Later than after other failures: the leg's message callbacks, which cannot wait, get Sync's room first.
    expect(first.headers['Retry-After']).toBe('5');
    const retry = await send(body);
    expect(retry.statusCode).toBe(200);
    expect(retry.body).toMatchObject({ sid: messageSid(1), outcome: 'already-sent' });
    expect(sent).toHaveLength(1);
  });

  it('after a send Twilio did not answer, marks its claim ended (keeping only what it was claimed with) and sends the retry', async () => {
    createError = Object.assign(new Error('unavailable'), { status: 503, code: 20503 });
    deadlineInMs = 2 * REQUEST_TIMEOUT_MS + 300; // a few tries of the send, then the 503
    const body = { callSid: BOB_CHILD, content: JSON.stringify({ big: 'x'.repeat(5_000) }), idempotencyKey: 'k-lost' };
    expectError(await send(body), 503, 'twilio-unavailable');
    const claim = await sandbox.client.sync.v1
      .services('default')
      .syncMaps(legMapName(BOB_CHILD))
      .syncMapItems(sendClaimKey('k-lost'))
      .fetch();
    expect(Object.keys(claim.data as object).sort()).toEqual(['attemptEnded', 'contentHash', 'sentAtMs']);
    createError = undefined;
    deadlineInMs = undefined;
    expect((await send(body)).statusCode).toBe(201);
    expect(sent).toHaveLength(1);
  });

  it('answers a twin of a send under way 409 send-in-progress with Retry-After', async () => {
    createDelayMs = 300;
    const body = { callSid: BOB_CHILD, content: '{"a":1}', idempotencyKey: 'k-twin' };
    const [first, twin] = await Promise.all([
      send(body),
      new Promise((resolve) => setTimeout(resolve, 100)).then(() => send(body)),
    ]);
    expect(first.statusCode).toBe(201);
    expectError(twin, 409, 'send-in-progress');
    expect(twin.headers['Retry-After']).toBe('1');
    expect((await send(body)).statusCode).toBe(200);
    expect(sent).toHaveLength(1);
  });

  it.each([
    ['429', { status: 429, code: 20429 }],
    ['503', { status: 503, code: 20503 }],
    ['a refused connection', { code: 'ECONNREFUSED' }],
  ])(
    'after %s (Twilio did not take it) tries again in the invocation, then answers 503 with Retry-After and sends the retry at once',
    async (_what, failure) => {
      createError = Object.assign(new Error('not taken'), failure);
      deadlineInMs = 2 * REQUEST_TIMEOUT_MS + 300;
      const body = { callSid: BOB_CHILD, content: '{"a":1}', idempotencyKey: 'k-not-taken' };
      const res = await send(body);
      expectError(res, 503, 'twilio-unavailable');
      expect(res.headers['Retry-After']).toBe('1');
      expect(createAttempts).toBeGreaterThan(1);
      createError = undefined;
      deadlineInMs = undefined;
      expect((await send(body)).statusCode).toBe(201);
      expect(sent).toHaveLength(1);
    },
  );

  it.each([
    ['a 500', { status: 500, code: 20500 }],
    ['a 502', { status: 502 }],
    ['a timeout', { code: 'ECONNABORTED' }],
    ['a reset connection', { code: 'ECONNRESET' }],
  ])(
    'after %s (Twilio may have taken it) tries once, and the retry waits until that attempt has settled',
    async (_what, failure) => {
      createError = Object.assign(new Error('no answer'), failure);
      const body = { callSid: BOB_CHILD, content: '{"a":1}', idempotencyKey: 'k-unknown' };
      const res = await send(body);
      expectError(res, 503, 'twilio-unavailable');
      expect(Number(res.headers['Retry-After'])).toBe(SEND_UNKNOWN_SETTLE_MS / 1000);
      expect(createAttempts).toBe(1);
      const claim = await sandbox.client.sync.v1
        .services('default')
        .syncMaps(legMapName(BOB_CHILD))
        .syncMapItems(sendClaimKey('k-unknown'))
        .fetch();
      expect(Object.keys(claim.data as object).sort()).toEqual(['contentHash', 'outcomeUnknownAtMs', 'sentAtMs']);
      createError = undefined;
      // At once: told to wait, for what is left of the settling time, and nothing is sent.
      const atOnce = await send(body);
      expectError(atOnce, 409, 'send-in-progress');
      expect(Number(atOnce.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
      expect(Number(atOnce.headers['Retry-After'])).toBeLessThanOrEqual(SEND_UNKNOWN_SETTLE_MS / 1000);
      expect(createAttempts).toBe(1);
      // Once it has settled: sent again, with the same IdempotencyKey (Twilio dedupes a key it keeps).
      fakeClockAt(Date.now() + SEND_UNKNOWN_SETTLE_MS);
      try {
        expect((await send(body)).statusCode).toBe(201);
      } finally {
        jest.useRealTimers();
      }
      expect(sent).toEqual([{ callSid: BOB_CHILD, content: '{"a":1}', idempotencyKey: 'k-unknown' }]);
    },
  );

  it('frees the key after another 4xx from Twilio (nothing was sent)', async () => {
    createError = Object.assign(new Error('bad request'), { status: 400, code: 21999 });
    const body = { callSid: BOB_CHILD, content: '{"a":1}', idempotencyKey: 'k-4xx' };
    expect((await send(body)).statusCode).toBe(502);
    createError = undefined;
    expect((await send(body)).statusCode).toBe(201);
    expect(createAttempts).toBe(2);
  });

  it('refuses an idempotencyKey reused for other content on the call, sending nothing', async () => {
    expect((await send({ callSid: BOB_CHILD, content: '{"a":1}', idempotencyKey: 'k-once' })).statusCode).toBe(201);
    expectError(
      await send({ callSid: BOB_CHILD, content: '{"a":2}', idempotencyKey: 'k-once' }),
      409,
      'idempotency-key-reused',
    );
    expect(sent).toHaveLength(1);
    // The same content again is a retry: answered with the recorded send.
    expect((await send({ callSid: BOB_CHILD, content: '{"a":1}', idempotencyKey: 'k-once' })).statusCode).toBe(200);
  });

  it('asks Twilio about a call it has no record of, once, and a known leg not at all', async () => {
    expect((await send({ callSid: BOB_CHILD, content: '{}' })).statusCode).toBe(201);
    expect((await send({ callSid: BOB_CHILD, content: '{}' })).statusCode).toBe(201);
    expect(fetches).toEqual([BOB_CHILD]);
  });

  it.each([
    ['unknown to Twilio', callSid(9), 404, 'call-not-found'],
    ['over', BOB_CHILD, 409, 'call-not-active'],
  ])('refuses a call %s that it has no record of, writing nothing to Sync', async (_what, callSid, status, code) => {
    calls = calls.map((c) => ({ ...c, status: 'completed' }));
    const writesBefore = sandbox.writeCount();
    expectError(await send({ callSid, content: '{}' }), status, code);
    expect(sandbox.writeCount()).toBe(writesBefore);
    expect(sent).toEqual([]);
  });

  it.each([
    [20404, 404, 'call-not-found'],
    [21220, 409, 'call-not-active'],
    [31211, 409, 'call-not-active'],
    [32702, 400, 'content-invalid'],
    [32703, 400, 'content-too-long'],
  ])('maps Twilio error %d to %d %s', async (twilioCode, status, code) => {
    createError = Object.assign(new Error('refused'), { status: twilioCode === 20404 ? 404 : 400, code: twilioCode });
    const res = await send({ callSid: BOB_CHILD, content: '{}', idempotencyKey: 'refused-once' });
    expectError(res, status, code);
    expect(res.body).toMatchObject({ twilioCode });
    expect((await store.readHistory(BOB_CHILD, { order: 'asc' }, 10))?.messages ?? []).toEqual([]);
    // Twilio refused it: the key is free again, so the same request can be sent once the call allows it.
    createError = undefined;
    expect((await send({ callSid: BOB_CHILD, content: '{}', idempotencyKey: 'refused-once' })).statusCode).toBe(201);
  });
});
