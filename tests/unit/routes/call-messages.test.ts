import twilio from 'twilio';
import { handler } from '../../../functions/call-messages.protected';
import type { CallMessagesPage } from '../../../lib/shared/api-types';
import { CallStore } from '../../../lib/store/call-store';
import {
  eventFor,
  expectError,
  installTwilioGlobal,
  invoke,
  LOCAL_BASE,
  makeContext,
  signedEvent,
} from '../../support/function-harness';
import { startSyncSandbox, TEST_AUTH_TOKEN, type SyncSandbox } from '../../support/sync-sandbox';
import { defined } from '../../support/narrow';
import { callSid, messageSid } from '../../../testing/sids';

const CALL = callSid(0xd);
const URL_LIST = `${LOCAL_BASE}/call-messages`;

let sandbox: SyncSandbox;
let store: CallStore;

beforeAll(async () => {
  installTwilioGlobal();
  sandbox = await startSyncSandbox();
  store = new CallStore(sandbox.client, { syncServiceSid: 'default', finishedCallTtl: 600, activeCallTtl: 3600 });
});
afterAll(() => sandbox.close());
beforeEach(() => {
  sandbox.reset();
  jest.spyOn(console, 'log').mockImplementation(() => {});
});
afterEach(() => jest.restoreAllMocks());

const list = (body: Record<string, string>) =>
  invoke(handler, makeContext('/call-messages'), signedEvent(URL_LIST, body));

type Page = CallMessagesPage & { messages: { data?: unknown }[] };

const LEG = {
  callSid: CALL,
  role: 'child',
  identity: 'bob',
  peer: '+15557778888',
  parentCallSid: callSid(0xe),
} as const;
const at = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s));

const saveInbound = (i: number, t: number) =>
  store.saveInbound({
    sid: messageSid(i + 1),
    callSid: CALL,
    direction: 'from-sdk',
    sequence: i,
    contentType: 'application/json',
    content: JSON.stringify({ n: `in${i}` }),
    timestamp: at(t).toISOString(),
  });

async function saveOutbound(i: number, t: number) {
  const claim = await store.claimSend(CALL, `k${i}`, at(t));
  if (claim.outcome !== 'claimed') throw new Error('not claimed');
  await store.saveOutbound(
    {
      sid: messageSid(i + 10),
      callSid: CALL,
      direction: 'to-sdk',
      contentType: 'application/json',
      content: JSON.stringify({ n: `out${i}` }),
      timestamp: at(t).toISOString(),
      idempotencyKey: `k${i}`,
    },
    claim.sentAtMs,
  );
}

/** Five messages: from the SDK at t=1,3,5 (seq 0..2), to it at t=2,4. */
async function storeConversation() {
  await store.claimSubscription(LEG, 'in-progress', new Date());
  for (const [i, t] of [1, 3, 5].entries()) await saveInbound(i, t);
  for (const [i, t] of [2, 4].entries()) await saveOutbound(i, t);
}

describe('/call-messages', () => {
  it('refuses an unsigned request with 403', async () => {
    expectError(
      await invoke(handler, makeContext('/call-messages'), eventFor(URL_LIST, { callSid: CALL })),
      403,
      'signature-invalid',
    );
  });

  it('accepts a GET signed over its query string, as Twilio signs GETs', async () => {
    await storeConversation();
    const url = `${URL_LIST}?callSid=${CALL}&pageSize=2`;
    const event = eventFor(
      url,
      {},
      { 'x-twilio-signature': twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, url, {}) },
    );
    const res = await invoke(handler, makeContext('/call-messages'), event);
    expect(res.statusCode).toBe(200);
    expect((res.body as Page).messages).toHaveLength(2);
    expect((res.body as Page).nextPageToken).toEqual(expect.any(String));
  });

  it('answers 404 for a call with nothing stored', async () => {
    expectError(await list({ callSid: CALL }), 404, 'call-not-found');
  });

  it('refuses a bad callSid with 400', async () => {
    expectError(await list({ callSid: 'CA1' }), 400, 'call-sid-invalid');
    expectError(await list({}), 400, 'call-sid-invalid');
  });

  it.each(['0', '101', '1.5', 'ten'])('refuses pageSize %p with 400', async (pageSize) => {
    expectError(await list({ callSid: CALL, pageSize }), 400, 'page-size-invalid');
  });

  it.each(['-1', 'abc', '2.5', Buffer.from('["asc","state",""]').toString('base64url')])(
    'refuses pageToken %p with 400',
    async (pageToken) => {
      expectError(await list({ callSid: CALL, pageToken }), 400, 'page-token-invalid');
    },
  );

  it('refuses a bad order or after with 400', async () => {
    expectError(await list({ callSid: CALL, order: 'sideways' }), 400, 'order-invalid');
    expectError(await list({ callSid: CALL, after: 'nope' }), 400, 'after-invalid');
    expectError(await list({ callSid: CALL, after: 'x', pageToken: 'y' }), 400, 'paging-invalid');
  });

  it('returns the state and every message, in order: content as stored text, data parsed', async () => {
    await storeConversation();
    const res = await list({ callSid: CALL });
    expect(res.statusCode).toBe(200);
    const page = res.body as Page;
    expect(page.callSid).toBe(CALL);
    expect(page.state).toMatchObject({ callSid: CALL, status: 'in-progress', identity: 'bob' });
    expect(page.nextPageToken).toBeNull();
    expect(page.messages.map((m) => m.content)).toEqual(page.messages.map((m) => JSON.stringify(m.data)));
    expect(page.messages.map((m) => m.data)).toEqual([
      { n: 'in0' },
      { n: 'out0' },
      { n: 'in1' },
      { n: 'out1' },
      { n: 'in2' },
    ]);
    expect(page.messages[0]).toMatchObject({
      sid: messageSid(1),
      direction: 'from-sdk',
      sequence: 0,
      timestamp: '2024-01-01T00:00:01.000Z',
    });
  });

  it('pages with pageSize and nextPageToken, both ways', async () => {
    await storeConversation();
    const all = [{ n: 'in0' }, { n: 'out0' }, { n: 'in1' }, { n: 'out1' }, { n: 'in2' }];
    for (const order of ['asc', 'desc']) {
      const seen: unknown[] = [];
      let pages = 0;
      let token: string | null = '';
      while (token !== null) {
        const page: Page = (await list({ callSid: CALL, pageSize: '2', order, ...(token ? { pageToken: token } : {}) }))
          .body as Page;
        expect(page.order).toBe(order);
        expect(page.messages.length).toBeLessThanOrEqual(2);
        seen.push(...page.messages.map((m) => m.data));
        token = page.nextPageToken;
        pages++;
      }
      expect(pages).toBe(3);
      expect(seen).toEqual(order === 'asc' ? all : [...all].reverse());
    }
  });

  it('gives no nextPageToken when the last page is exactly full', async () => {
    await storeConversation();
    const page = (await list({ callSid: CALL, pageSize: '5' })).body as Page;
    expect(page.messages).toHaveLength(5);
    expect(page.nextPageToken).toBeNull();
  });

  it('catches up after a message: only what came later, with the new messages once they arrive', async () => {
    await storeConversation();
    const page = (await list({ callSid: CALL })).body as Page;
    const last = page.messages.at(-1)?.cursor;
    if (!last) throw new Error('expected a cursor');
    const idle = (await list({ callSid: CALL, after: last })).body as Page;
    expect(idle.messages).toEqual([]);
    await saveInbound(3, 7);
    await saveOutbound(2, 6);
    const later = (await list({ callSid: CALL, after: last })).body as Page;
    expect(later.messages.map((m) => m.data)).toEqual([{ n: 'out2' }, { n: 'in3' }]);
    expect((await list({ callSid: CALL, after: defined(page.messages[2]).cursor })).body).toMatchObject({
      messages: [{ data: { n: 'out1' } }, { data: { n: 'in2' } }, { data: { n: 'out2' } }, { data: { n: 'in3' } }],
    });
  });

  it('leaves out the state for a leg with messages but no state yet', async () => {
    await saveInbound(0, 1);
    const page = (await list({ callSid: CALL })).body as Page;
    expect(page.state).toBeUndefined();
    expect(page.messages).toHaveLength(1);
  });
});
