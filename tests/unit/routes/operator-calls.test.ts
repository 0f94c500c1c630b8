// /operator-calls past its session check: a stub of calls.list and the real CallStore on the
// in-process Sync sandbox. Its state reads run in batches; one that would not fit the invocation's
// time is not started, and the answer says it is partial.
import { CallStore } from '../../../lib/store/call-store';
import { readConfig } from '../../../lib/platform/config';
import type { RouteContext } from '../../../lib/http/function-handler';
import { routeLog } from '../../../lib/platform/log';
import { issueSession } from '../../../lib/auth/sessions';
import { REQUEST_TIMEOUT_MS } from '../../../lib/platform/retry';
import { listOperatorCalls } from '../../../lib/routes/operator';
import type { OperatorCallsPage } from '../../../lib/shared/api-types';
import { ANSWER_BUDGET_BYTES } from '../../../lib/shared/limits';
import { CONSOLE_INDEX_SHARDS } from '../../../lib/shared/sync-names';
import type { TwilioClient } from '../../../lib/platform/twilio-client';
import { sid } from '../../../testing/sids';
import { startSyncSandbox, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type SyncSandbox } from '../../support/sync-sandbox';

const OPERATOR_SECRET = 'operator-secret-for-unit-tests-0123456789';
const legs = Array.from({ length: 12 }, (_, i) => ({
  sid: sid('CA', i + 1),
  from: 'client:alice',
  to: '+15557770000',
  direction: 'inbound',
  status: 'in-progress',
  // Within the active-call TTL (48 h by default), newest first as the Calls API lists them.
  dateCreated: new Date(Date.now() - (i + 1) * 60_000),
}));

let sandbox: SyncSandbox;
let store: CallStore;

beforeAll(async () => {
  sandbox = await startSyncSandbox();
  store = new CallStore(sandbox.client, { syncServiceSid: 'default', finishedCallTtl: 600, activeCallTtl: 3600 });
});
afterAll(() => sandbox.close());
afterEach(() => jest.restoreAllMocks());

function context(deadline: number, listMs = 0, env: Record<string, string> = {}): RouteContext {
  const config = readConfig({
    ACCOUNT_SID: TEST_ACCOUNT_SID,
    AUTH_TOKEN: TEST_AUTH_TOKEN,
    OPERATOR_SECRET,
    ...env,
  });
  const { session } = issueSession(TEST_AUTH_TOKEN, OPERATOR_SECRET);
  const list = async () => {
    await new Promise((resolve) => setTimeout(resolve, listMs));
    return legs;
  };
  const client = { calls: { list } } as unknown as TwilioClient;
  return {
    event: { request: { headers: {} } },
    headers: { authorization: `Bearer ${session}` },
    config,
    base: 'https://example.test',
    deadline,
    client: () => client,
    store: () => store,
    log: routeLog('/operator-calls'),
  };
}

describe('/operator-calls', () => {
  it("lists the SDK legs with the Calls API's status where Sync has no state", async () => {
    const res = await listOperatorCalls(context(Date.now() + 9_000), { limit: '10' });
    const page = (res as { json: OperatorCallsPage }).json;
    expect(page.partial).toBeUndefined();
    expect(page.calls.map((c) => c.callSid)).toEqual(legs.slice(0, 10).map((l) => l.sid));
    expect(page.calls[0]).toMatchObject({ status: 'in-progress', active: true, state: null });
  });

  it('shows a leg past the active-call TTL with no end reported as endUnknown, not active', async () => {
    // Legs 1 and 2 are 1 and 2 minutes old: with a 90 s TTL, the second is past it.
    const res = await listOperatorCalls(context(Date.now() + 9_000, 0, { SYNC_ACTIVE_CALL_TTL_SECONDS: '90' }), {
      limit: '2',
    });
    const [young, old] = (res as { json: OperatorCallsPage }).json.calls;
    expect(young).toMatchObject({ active: true });
    expect(young?.endUnknown).toBeUndefined();
    expect(old).toMatchObject({ active: false, endUnknown: true });
  });

  it('does not read again the state of a leg named in `final`', async () => {
    const read = jest.spyOn(store, 'readState');
    const res = await listOperatorCalls(context(Date.now() + 9_000), {
      limit: '3',
      final: `${legs[1]!.sid},not-a-sid`,
    });
    const calls = (res as { json: OperatorCallsPage }).json.calls;
    expect(calls.map((c) => c.callSid)).toEqual(legs.slice(0, 3).map((l) => l.sid));
    expect(calls[1]).toMatchObject({ unchanged: true, state: null, active: false });
    expect(read.mock.calls.map(([callSid]) => callSid)).toEqual([legs[0]!.sid, legs[2]!.sid]);
  });

  it('reads a batch of states, then answers what it read, marked partial, when another would not fit', async () => {
    // The first batch's reads take 1.1 s: after them, no 3 s request fits in what is left.
    jest.spyOn(store, 'readState').mockImplementation(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      return undefined;
    });
    const res = await listOperatorCalls(context(Date.now() + REQUEST_TIMEOUT_MS + 1_000), { limit: '10' });
    const page = (res as { json: OperatorCallsPage }).json;
    expect(page.partial).toBe(true);
    expect(page.calls.map((c) => c.callSid)).toEqual(legs.slice(0, 5).map((l) => l.sid));
  });

  it('ends the list, marked partial, before the state that would take it past its byte budget', async () => {
    // States far past Sync's 16 KB item limit: only something else holding the credentials writes those.
    const huge = 'x'.repeat(600_000);
    jest.spyOn(store, 'readState').mockImplementation(async (callSid: string) => ({
      callSid,
      parentCallSid: callSid,
      role: 'parent',
      identity: 'alice',
      peer: huge,
      status: 'in-progress',
      updatedAt: '2026-01-01T00:00:00.000Z',
    }));
    const res = await listOperatorCalls(context(Date.now() + 9_000), { limit: '10' });
    const page = (res as { json: OperatorCallsPage }).json;
    expect(page.partial).toBe(true);
    expect(page.calls).toHaveLength(4);
    expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThan(ANSWER_BUDGET_BYTES + 10_000);
  });

  it('answers what it read, marked partial, when another batch of reads would not fit the deadline', async () => {
    const before = sandbox.requestCount();
    // The Calls list starts in time and answers 1.1 s later: no 3 s request fits in what is left.
    const res = await listOperatorCalls(context(Date.now() + REQUEST_TIMEOUT_MS + 1_000, 1_100), { limit: '10' });
    expect(res.status).toBe(200);
    expect((res as { json: OperatorCallsPage }).json).toEqual({ calls: [], activeTtlSeconds: 172_800, partial: true });
    // No state read: the only Sync requests are the console index's shards, read alongside the Calls list.
    expect(sandbox.requestCount()).toBe(before + CONSOLE_INDEX_SHARDS);
  });

  it('answers the message counts of the legs named in `count` (at most 20), and only them with limit=0', async () => {
    const [a, b] = [legs[0]!.sid, legs[1]!.sid];
    const at = new Date().toISOString();
    for (let seq = 1; seq <= 3; seq++) {
      const message = { sid: sid('KX', seq), callSid: a, direction: 'from-sdk' as const, sequence: seq };
      await store.saveInbound({ ...message, contentType: 'application/json', content: '{}', timestamp: at });
    }
    const listCalls = jest.fn();
    const ctx = context(Date.now() + 9_000);
    const res = await listOperatorCalls(
      { ...ctx, client: () => ({ calls: { list: listCalls } }) as unknown as TwilioClient },
      { limit: '0', count: `${a},${b},${a},not-a-sid` },
    );
    const page = (res as { json: OperatorCallsPage }).json;
    expect(listCalls).not.toHaveBeenCalled();
    expect(page.calls).toEqual([]);
    expect(page.counts).toEqual([
      { callSid: a, count: 3 },
      { callSid: b, count: 0 },
    ]);
    const many = Array.from({ length: 30 }, (_, i) => sid('CA', 100 + i)).join(',');
    const bounded = await listOperatorCalls(ctx, { limit: '0', count: many });
    expect((bounded as { json: OperatorCallsPage }).json.counts).toHaveLength(20);
  });

  it('leaves out the counts that would not fit the deadline (the page asks again)', async () => {
    const res = await listOperatorCalls(context(Date.now() + REQUEST_TIMEOUT_MS - 1), {
      limit: '0',
      count: legs[0]!.sid,
    });
    expect((res as { json: OperatorCallsPage }).json.counts).toEqual([]);
  });
});
