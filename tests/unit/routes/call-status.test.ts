import { handler } from '../../../functions/call-status.protected';
import { callStatusUrl, type SdkLegs } from '../../../lib/callback-urls';
import { CallStore, legMapName } from '../../../lib/call-store';
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

const PARENT = 'CA' + 'a'.repeat(32);
const CHILD = 'CA' + 'b'.repeat(32);
const FINISHED_TTL = 300;

let sandbox: SyncSandbox;
let subscribeAttempts: string[] = [];
let env: Record<string, string>;
let store: CallStore;

beforeAll(async () => {
  installTwilioGlobal();
  // Subscriptions: Twilio refuses one on a call that has ended (the only kind this file subscribes).
  sandbox = await startSyncSandbox({}, (app) =>
    app.post('/api/2010-04-01/Accounts/:account/Calls/:call/UserDefinedMessageSubscriptions.json', (req, res) => {
      subscribeAttempts.push(req.params.call);
      res.status(400).json({ code: 31211, message: 'Call is not in the expected state', more_info: '', status: 400 });
    }),
  );
  env = {
    TWILIO_SANDBOX_URL: sandbox.url,
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
    expect(await store.readLeg(PARENT)).toBeUndefined();
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

  it('creates the legs’ Maps at initiated, with the active-call TTL; ringing writes nothing', async () => {
    const ringing = await post(BOTH, statusBody('ringing'));
    expect(ringing.body).toEqual({ status: 'ringing', legs: { [PARENT]: 'ringing', [CHILD]: 'ringing' } });
    await expect(mapExpiresIn(PARENT)).rejects.toMatchObject({ status: 404 });
    const res = await post(BOTH, statusBody('initiated'));
    expect(res.statusCode).toBe(200);
    expect(res.body).toEqual({ status: 'initiated', legs: { [PARENT]: 'initiated', [CHILD]: 'initiated' } });
    expect(await mapExpiresIn(PARENT)).toBeCloseTo(3600, -1);
    expect(await mapExpiresIn(CHILD)).toBeCloseTo(3600, -1);
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

  it('keeps a leg ended whose end overtook its in-progress callback (Twilio refuses the subscription)', async () => {
    await post({ child: 'bob' }, statusBody('completed', { From: '+15557778888' }));
    const res = await post({ child: 'bob' }, statusBody('in-progress', { From: '+15557778888' }));
    expect(res.statusCode).toBe(200);
    expect(res.body).toEqual({ status: 'in-progress', legs: { [CHILD]: 'ended-before-start' } });
    expect(await store.readState(CHILD)).toMatchObject({ status: 'completed' });
    expect(subscribeAttempts).toEqual([CHILD]); // asked in parallel with the state write, and refused
  });

  it('accepts a repeated final callback', async () => {
    expect((await post(BOTH, statusBody('completed'))).statusCode).toBe(200);
    expect((await post(BOTH, statusBody('completed'))).statusCode).toBe(200);
    expect((await store.readState(CHILD))?.status).toBe('completed');
  });
});
