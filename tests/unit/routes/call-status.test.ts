import { handler } from '../../../functions/call-status.protected';
import { callStatusUrl, type SdkLegs } from '../../../lib/calls/callback-urls';
import { CallStore, CLAIM_STALE_MS, legMapName } from '../../../lib/store/call-store';
import {
  eventFor,
  expectError,
  installTwilioGlobal,
  invoke,
  LOCAL_BASE,
  makeContext,
  signedEvent,
} from '../../support/function-harness';
import { startSyncSandbox, type SyncSandbox } from '../../support/sync-sandbox';
import { callSid, sid } from '../../../testing/sids';

const PARENT = callSid(0xa);
const CHILD = callSid(0xb);
const FINISHED_TTL = 300;

let sandbox: SyncSandbox;
let subscribeAttempts: string[] = [];
/** How the stub Calls API answers a subscription: Twilio refuses one on a leg that is not active. */
let subscriptionAnswer: 'accept' | 'refuse' = 'refuse';
/** Answers to the next subscription attempts (each after its delay), before `subscriptionAnswer` applies. */
let nextAnswers: { answer: 'accept' | 'refuse' | 'lost' | 'reused'; delayMs: number }[] = [];
/** The IdempotencyKey of each subscription attempt. */
let subscribeKeys: string[] = [];
let env: Record<string, string>;
let store: CallStore;

beforeAll(async () => {
  installTwilioGlobal();
  sandbox = await startSyncSandbox({}, (app) =>
    app.post('/api/2010-04-01/Accounts/:account/Calls/:call/UserDefinedMessageSubscriptions.json', async (req, res) => {
      subscribeAttempts.push(req.params.call);
      subscribeKeys.push(String((req.body as Record<string, unknown>).IdempotencyKey));
      const next = nextAnswers.shift();
      if (next) await new Promise((resolve) => setTimeout(resolve, next.delayMs));
      // `lost`: Twilio made it but the answer is an error the claimant cannot read as either outcome.
      if (next?.answer === 'lost') {
        res.status(400).json({ code: 20001, message: 'Bad request', more_info: '', status: 400 });
        return;
      }
      if (next?.answer === 'reused') {
        res.status(409).json({ code: 20409, message: 'IdempotencyKey already used', more_info: '', status: 409 });
        return;
      }
      if ((next?.answer ?? subscriptionAnswer) === 'refuse') {
        res.status(400).json({ code: 31211, message: 'Call is not in the expected state', more_info: '', status: 400 });
        return;
      }
      const subscriptionSid = sid('ZY', subscribeAttempts.length);
      res.status(201).json({
        account_sid: req.params.account,
        call_sid: req.params.call,
        sid: subscriptionSid,
        date_created: '',
        uri: '',
      });
    }),
  );
  env = {
    SYNC_TTL_SECONDS: String(FINISHED_TTL),
    SYNC_ACTIVE_CALL_TTL_SECONDS: '3600',
  };
  store = new CallStore(sandbox.client, {
    syncServiceSid: 'default',
    finishedCallTtl: FINISHED_TTL,
    activeCallTtl: 3600,
  });
});
afterAll(() => sandbox.close());
beforeEach(() => {
  sandbox.reset();
  subscribeAttempts = [];
  subscribeKeys = [];
  subscriptionAnswer = 'refuse';
  nextAnswers = [];
  jest.spyOn(console, 'log').mockImplementation(() => {});
});
afterEach(() => jest.restoreAllMocks());

const statusBody = (status: string, over: Record<string, string> = {}) => ({
  CallSid: CHILD,
  ParentCallSid: PARENT,
  CallStatus: status,
  From: 'client:alice',
  To: 'client:bob',
  Direction: 'outbound-dial',
  CallbackSource: 'call-progress-events',
  SequenceNumber: '0',
  Timestamp: 'Fri, 2 Dec 2022 22:02:49 +0000',
  ...over,
});

const post = (legs: SdkLegs, body: Record<string, string>, extraEnv: Record<string, string> = {}) =>
  invoke(
    handler,
    makeContext('/call-status', { ...env, ...extraEnv }),
    signedEvent(callStatusUrl(LOCAL_BASE, legs), body),
  );

const BOTH: SdkLegs = { parent: 'alice', child: 'bob' };

async function mapExpiresIn(callSid: string): Promise<number | null> {
  const fetched = await sandbox.client.sync.v1.services('default').syncMaps(legMapName(callSid)).fetch();
  return fetched.dateExpires ? (fetched.dateExpires.getTime() - sandbox.clock.now()) / 1000 : null;
}

describe('/call-status', () => {
  it('refuses an unsigned callback with 403', async () => {
    const res = await invoke(
      handler,
      makeContext('/call-status', env),
      eventFor(callStatusUrl(LOCAL_BASE, BOTH), statusBody('completed')),
    );
    expectError(res, 403, 'signature-invalid');
    expect(await store.readState(PARENT)).toBeUndefined();
  });

  it('refuses a callback whose cme_* legs were changed after signing', async () => {
    const event = {
      ...signedEvent(callStatusUrl(LOCAL_BASE, { child: 'bob' }), statusBody('completed')),
      cme_child: 'mallory',
    };
    expectError(await invoke(handler, makeContext('/call-status', env), event), 403, 'signature-invalid');
  });

  it('needs CallStatus', async () => {
    const { CallStatus: _omitted, ...body } = statusBody('x');
    expectError(await post(BOTH, body), 400, 'call-status-missing');
  });

  it('needs the legs /voice named', async () => {
    const url = `${LOCAL_BASE}/call-status`;
    expectError(
      await invoke(handler, makeContext('/call-status', env), signedEvent(url, statusBody('in-progress'))),
      400,
      'legs-unknown',
    );
    expectError(await post(BOTH, statusBody('in-progress', { ParentCallSid: '' })), 400, 'legs-unknown');
  });

  it('refuses a status Twilio does not have', async () => {
    expectError(await post(BOTH, statusBody('exploded')), 400, 'call-status-invalid');
  });

  it('subscribes the parent at initiated and prepares the child’s Map, with the active-call TTL', async () => {
    subscriptionAnswer = 'accept';
    const res = await post(BOTH, statusBody('initiated'));
    expect(res.statusCode).toBe(200);
    expect(res.body).toEqual({ status: 'initiated', legs: { [PARENT]: 'subscribed', [CHILD]: 'prepared' } });
    expect(subscribeAttempts).toEqual([PARENT]);
    expect(await store.readState(PARENT)).toMatchObject({
      status: 'initiated',
      subscription: { status: 'subscribed' },
    });
    expect(await mapExpiresIn(PARENT)).toBeCloseTo(3600, -1);
    expect(await mapExpiresIn(CHILD)).toBeCloseTo(3600, -1);
  });

  it('subscribes each leg once across ringing, in-progress and their repeats, in any order', async () => {
    subscriptionAnswer = 'accept';
    for (const status of ['in-progress', 'ringing', 'initiated', 'in-progress', 'ringing']) {
      expect((await post(BOTH, statusBody(status))).statusCode).toBe(200);
    }
    expect([...subscribeAttempts].sort()).toEqual([PARENT, CHILD]);
    expect(await store.readState(CHILD)).toMatchObject({
      status: 'in-progress',
      subscription: { status: 'subscribed' },
    });
  });

  it('tries again at in-progress when Twilio refused the subscription at ringing', async () => {
    const ringing = await post({ child: 'bob' }, statusBody('ringing'));
    expect(ringing.body).toEqual({ status: 'ringing', legs: { [CHILD]: 'not-yet-subscribable' } });
    expect(await store.readState(CHILD)).toMatchObject({ subscription: { status: 'refused', by: 'ringing' } });
    subscriptionAnswer = 'accept';
    const answered = await post({ child: 'bob' }, statusBody('in-progress'));
    expect(answered.body).toEqual({ status: 'in-progress', legs: { [CHILD]: 'subscribed' } });
    expect(subscribeAttempts).toEqual([CHILD, CHILD]);
  });

  it('takes over at in-progress a subscription refused at ringing while it waited on it (31211 at ringing)', async () => {
    nextAnswers = [{ answer: 'refuse', delayMs: 400 }];
    subscriptionAnswer = 'accept';
    const ringing = post({ child: 'bob' }, statusBody('ringing'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const answered = await post({ child: 'bob' }, statusBody('in-progress'));
    expect((await ringing).body).toEqual({ status: 'ringing', legs: { [CHILD]: 'not-yet-subscribable' } });
    expect(answered.body).toEqual({ status: 'in-progress', legs: { [CHILD]: 'subscribed' } });
    expect(subscribeAttempts).toEqual([CHILD, CHILD]);
    expect(await store.readState(CHILD)).toMatchObject({ subscription: { status: 'subscribed', by: 'in-progress' } });
  });

  it("adds each leg to its identity's Map as it is claimed, and takes it out at its end", async () => {
    subscriptionAnswer = 'accept';
    await post(BOTH, statusBody('initiated'));
    expect((await store.liveLegsOf('alice')).map((s) => s.callSid)).toEqual([PARENT]);
    expect(await store.liveLegsOf('bob')).toEqual([]); // prepared, not claimed yet
    await post(BOTH, statusBody('ringing'));
    expect((await store.liveLegsOf('bob')).map((s) => s.callSid)).toEqual([CHILD]);
    await post(BOTH, statusBody('completed'));
    const items = (identity: string) =>
      sandbox.client.sync.v1.services('default').syncMaps(`cme.identity.${identity}`).syncMapItems.list();
    expect([...(await items('alice')), ...(await items('bob'))]).toEqual([]);
  });

  it('closes out both legs of a client → client call at completed', async () => {
    const res = await post(BOTH, statusBody('completed', { CallDuration: '17' }));
    expect(res.statusCode).toBe(200);
    expect(res.body).toEqual({ status: 'completed', legs: { [PARENT]: 'completed', [CHILD]: 'completed' } });
    expect(await store.readState(PARENT)).toMatchObject({
      callSid: PARENT,
      role: 'parent',
      identity: 'alice',
      peer: 'client:bob',
      status: 'completed',
      durationSeconds: 17,
    });
    expect(await store.readState(CHILD)).toMatchObject({
      callSid: CHILD,
      role: 'child',
      identity: 'bob',
      peer: 'client:alice',
      status: 'completed',
    });
    expect(await mapExpiresIn(PARENT)).toBeCloseTo(FINISHED_TTL, -1);
  });

  it('closes out only the SDK leg of a call out to a number', async () => {
    const res = await post({ parent: 'alice' }, statusBody('no-answer', { To: '+442071234567' }));
    expect(res.body).toEqual({ status: 'no-answer', legs: { [PARENT]: 'no-answer' } });
    expect(await store.readState(PARENT)).toMatchObject({ status: 'no-answer', peer: '+442071234567' });
    expect(await store.readState(CHILD)).toBeUndefined();
    expect(await store.readState(PARENT)).not.toHaveProperty('durationSeconds');
  });

  it('keeps a leg ended whose end overtook its ringing and in-progress callbacks, and never subscribes it', async () => {
    subscriptionAnswer = 'accept';
    await post({ child: 'bob' }, statusBody('completed', { From: '+15557778888' }));
    for (const status of ['ringing', 'in-progress']) {
      const res = await post({ child: 'bob' }, statusBody(status, { From: '+15557778888' }));
      expect(res.statusCode).toBe(200);
      expect(res.body).toEqual({ status, legs: { [CHILD]: 'ended-before-start' } });
    }
    expect(await store.readState(CHILD)).toMatchObject({ status: 'completed' });
    expect(subscribeAttempts).toEqual([]);
  });

  describe('a claim whose invocation never recorded what became of it (stopped, or its record refused)', () => {
    const bob = {
      callSid: CHILD,
      role: 'child' as const,
      identity: 'bob',
      peer: 'client:alice',
      parentCallSid: PARENT,
    };

    it('is taken over at in-progress once it is stale, and the leg subscribed', async () => {
      subscriptionAnswer = 'accept';
      // Claimed at ringing 9.5 s ago: stale (CLAIM_STALE_MS) while this callback waits on it.
      const stale = await store.claimSubscription(bob, 'ringing', new Date(Date.now() - CLAIM_STALE_MS + 500));
      const res = await post({ child: 'bob' }, statusBody('in-progress'));
      expect(res.body).toEqual({ status: 'in-progress', legs: { [CHILD]: 'subscribed' } });
      expect(subscribeAttempts).toEqual([CHILD]);
      // With the abandoned claim's key: had its claimant made the subscription, Twilio could give it back.
      expect(stale.action === 'subscribe' && stale.claimed.state.subscription?.key).toBe(subscribeKeys[0]);
      expect(await store.readState(CHILD)).toMatchObject({ subscription: { status: 'subscribed', by: 'in-progress' } });
    });

    it('makes in-progress, the last chance, answer 503 while it is fresh, so Twilio redelivers', async () => {
      subscriptionAnswer = 'accept';
      await store.claimSubscription(bob, 'ringing', new Date());
      const res = await post({ child: 'bob' }, statusBody('in-progress'));
      expectError(res, 503, 'subscription-in-flight');
      expect(subscribeAttempts).toEqual([]);
    }, 15_000);

    it('answers in-progress as ended when the leg ends while it waits (never 503 for a call that is over)', async () => {
      await store.claimSubscription(bob, 'ringing', new Date());
      const answered = post({ child: 'bob' }, statusBody('in-progress'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      await store.markFinished(bob, 'completed', new Date());
      expect((await answered).body).toEqual({ status: 'in-progress', legs: { [CHILD]: 'ended-before-start' } });
    }, 15_000);

    it('leaves ringing answering in-flight: in-progress still comes', async () => {
      await store.claimSubscription(bob, 'initiated', new Date());
      const res = await post({ child: 'bob' }, statusBody('ringing'));
      expect(res.body).toEqual({ status: 'ringing', legs: { [CHILD]: 'in-flight' } });
    }, 15_000);
  });

  describe("a failed attempt's IdempotencyKey goes on with the claim that takes it over", () => {
    it('sends the same key again, so Twilio can give back what the failed attempt made', async () => {
      nextAnswers = [{ answer: 'lost', delayMs: 0 }];
      subscriptionAnswer = 'accept';
      expect((await post({ child: 'bob' }, statusBody('ringing'))).statusCode).toBeGreaterThanOrEqual(400);
      expect(await store.readState(CHILD)).toMatchObject({ subscription: { status: 'failed' } });
      const answered = await post({ child: 'bob' }, statusBody('in-progress'));
      expect(answered.body).toEqual({ status: 'in-progress', legs: { [CHILD]: 'subscribed' } });
      expect(subscribeKeys).toHaveLength(2);
      expect(subscribeKeys[1]).toBe(subscribeKeys[0]);
    });

    it('takes a 409 for that key (Twilio refusing a reused key) as the leg subscribed by it', async () => {
      nextAnswers = [
        { answer: 'lost', delayMs: 0 },
        { answer: 'reused', delayMs: 0 },
      ];
      await post({ child: 'bob' }, statusBody('ringing'));
      const answered = await post({ child: 'bob' }, statusBody('in-progress'));
      expect(answered.body).toEqual({ status: 'in-progress', legs: { [CHILD]: 'subscribed' } });
      expect(await store.readState(CHILD)).toMatchObject({ subscription: { status: 'subscribed' } });
      expect(subscribeAttempts).toHaveLength(2);
    });
  });

  it('answers in-progress refused by Twilio as call-gone (the end is on its way)', async () => {
    const res = await post({ child: 'bob' }, statusBody('in-progress'));
    expect(res.body).toEqual({ status: 'in-progress', legs: { [CHILD]: 'call-gone' } });
  });

  it('accepts a repeated final callback', async () => {
    expect((await post(BOTH, statusBody('completed'))).statusCode).toBe(200);
    expect((await post(BOTH, statusBody('completed'))).statusCode).toBe(200);
    expect((await store.readState(CHILD))?.status).toBe('completed');
  });
});
