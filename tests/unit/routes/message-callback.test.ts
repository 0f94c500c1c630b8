import { createHash } from 'node:crypto';
import twilio from 'twilio';
import { handler } from '../../../functions/message-callback.protected';
import { legToken, messageCallbackUrl } from '../../../lib/callback-urls';
import { CallStore } from '../../../lib/call-store';
import {
  eventFor,
  expectError,
  installTwilioGlobal,
  invoke,
  LOCAL_BASE,
  makeContext,
  signedEvent,
} from '../../support/function-harness';
import { startSyncSandbox, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type SyncSandbox } from '../../support/sync-sandbox';

const LEG = 'CA' + 'a'.repeat(32);
const OTHER_LEG = 'CA' + 'b'.repeat(32);
const kx = (n: number) => 'KX' + n.toString(16).padStart(32, '0');

let sandbox: SyncSandbox;
let env: Record<string, string>;
let store: CallStore;
let logs: string[];

beforeAll(async () => {
  installTwilioGlobal();
  sandbox = await startSyncSandbox();
  env = { TWILIO_SANDBOX_URL: sandbox.url };
  store = new CallStore(sandbox.client, { syncServiceSid: 'default', finishedCallTtl: 600, activeCallTtl: 3600 });
});
afterAll(() => sandbox.close());
beforeEach(() => {
  sandbox.reset();
  logs = [];
  jest.spyOn(console, 'log').mockImplementation((line: string) => void logs.push(line));
});
afterEach(() => jest.restoreAllMocks());

const body = (over: Record<string, string> = {}) => ({
  ContentType: 'application/json',
  Content: '{"key1":"This is a message from the SDK"}',
  SequenceNumber: '1',
  CallSid: LEG,
  Timestamp: 'Fri, 2 Dec 2022 22:02:49 +0000',
  AccountSid: TEST_ACCOUNT_SID,
  Sid: kx(1),
  ...over,
});

const URL_FOR_LEG = messageCallbackUrl(LOCAL_BASE, TEST_AUTH_TOKEN, LEG);
const post = (b: Record<string, string>, url = URL_FOR_LEG) =>
  invoke(handler, makeContext('/message-callback', env), signedEvent(url, b));

describe('/message-callback', () => {
  it('stores a message once; a repeat delivery is a 200 duplicate', async () => {
    const first = await post(body());
    expect(first.statusCode).toBe(200);
    expect(first.body).toEqual({ sid: kx(1), outcome: 'stored' });
    const again = await post(body());
    expect(again.statusCode).toBe(200);
    expect(again.body).toEqual({ sid: kx(1), outcome: 'duplicate' });

    const leg = await store.readLeg(LEG);
    expect(leg?.messages).toEqual([
      {
        sid: kx(1),
        callSid: LEG,
        direction: 'from-sdk',
        sequence: 1,
        contentType: 'application/json',
        content: '{"key1":"This is a message from the SDK"}',
        timestamp: '2022-12-02T22:02:49.000Z',
      },
    ]);
  });

  it('never logs the message content', async () => {
    await post(body({ Content: '{"secret":"hunter2"}' }));
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join('\n')).not.toContain('hunter2');
  });

  it('accepts a JSON body signed with bodySHA256 (URL only, no parameters)', async () => {
    const json = body({ Sid: kx(2), SequenceNumber: '0' });
    const url = `${URL_FOR_LEG}&bodySHA256=${createHash('sha256').update(JSON.stringify(json)).digest('hex')}`;
    const event = eventFor(url, json, {
      'x-twilio-signature': twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, url, {}),
      'content-type': 'application/json',
    });
    const res = await invoke(handler, makeContext('/message-callback', env), event);
    expect(res.body).toEqual({ sid: kx(2), outcome: 'stored' });
  });

  it('keeps Content that a JSON body carries as the value itself, and reads it back as sent', async () => {
    const values: unknown[] = [{ a: 1, b: [true, null] }, [1, 2], 42, null, 'plain text', '{"already":"json text"}'];
    for (const [i, value] of values.entries()) {
      const json = { ...body({ Sid: kx(200 + i), SequenceNumber: String(10 + i) }), Content: value } as Record<
        string,
        unknown
      >;
      const url = `${URL_FOR_LEG}&bodySHA256=${createHash('sha256').update(JSON.stringify(json)).digest('hex')}`;
      const event = eventFor(url, json as Record<string, string>, {
        'x-twilio-signature': twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, url, {}),
        'content-type': 'application/json',
      });
      expect((await invoke(handler, makeContext('/message-callback', env), event)).body).toEqual({
        sid: kx(200 + i),
        outcome: 'stored',
      });
    }
    const stored = (await store.readLeg(LEG))!.messages
      .filter((m) => (m.sequence ?? 0) >= 10)
      .map((m) => JSON.parse(m.content) as unknown);
    expect(stored).toEqual([{ a: 1, b: [true, null] }, [1, 2], 42, null, 'plain text', { already: 'json text' }]);
  });

  it('refuses an unsigned request with 403', async () => {
    expectError(
      await invoke(handler, makeContext('/message-callback', env), eventFor(URL_FOR_LEG, body())),
      403,
      'signature-invalid',
    );
    expect(await store.readLeg(LEG)).toBeUndefined();
  });

  it('refuses a wrong token with 403, even when signed', async () => {
    const url = `${LOCAL_BASE}/message-callback?cme_leg=${LEG}&cme_token=${'A'.repeat(32)}`;
    expectError(await post(body(), url), 403, 'callback-token-invalid');
    expect(await store.readLeg(LEG)).toBeUndefined();
  });

  it("refuses another leg's token with 403", async () => {
    const url = `${LOCAL_BASE}/message-callback?cme_leg=${LEG}&cme_token=${legToken(TEST_AUTH_TOKEN, OTHER_LEG)}`;
    expectError(await post(body(), url), 403, 'callback-token-invalid');
  });

  it('refuses a URL without the leg or token with 403', async () => {
    expectError(await post(body(), `${LOCAL_BASE}/message-callback`), 403, 'callback-token-invalid');
  });

  it('refuses a CallSid that is not the leg of the URL with 403', async () => {
    expectError(await post(body({ CallSid: OTHER_LEG })), 403, 'callback-token-invalid');
  });

  it('refuses another account with 403', async () => {
    expectError(await post(body({ AccountSid: 'AC' + 'f'.repeat(32) })), 403, 'account-mismatch');
  });

  it.each(['', '-1', 'abc', '1.5', '99999999999'])('refuses SequenceNumber %p with 400', async (seq) => {
    expectError(await post(body({ SequenceNumber: seq })), 400, 'sequence-invalid');
  });

  it('refuses a missing SequenceNumber with 400', async () => {
    const { SequenceNumber: _omitted, ...rest } = body();
    expectError(await post(rest), 400, 'sequence-invalid');
  });

  it('refuses a bad Sid with 400', async () => {
    expectError(await post(body({ Sid: 'KX123' })), 400, 'sid-invalid');
  });

  it('refuses content that is not JSON, or beyond any SDK message, with 400', async () => {
    expectError(await post(body({ Content: 'hello' })), 400, 'content-invalid');
    expectError(await post(body({ Content: JSON.stringify({ t: 'x'.repeat(20_000) }) })), 400, 'content-too-long');
    expectError(await post(body({ ContentType: 'text/plain' })), 400, 'content-type-invalid');
  });

  it('keeps any JSON value the SDK sent (arrays, strings, numbers), and 10 KB over 10,000 characters', async () => {
    for (const [i, content] of ['[1,2]', '"hi"', '42', JSON.stringify({ t: 'x'.repeat(10_100) })].entries()) {
      expect((await post(body({ Content: content, Sid: kx(100 + i) }))).body).toEqual({
        sid: kx(100 + i),
        outcome: 'stored',
      });
    }
    const stored = (await store.readLeg(LEG))!.messages.map((m) => m.content);
    expect(stored).toEqual(expect.arrayContaining(['[1,2]', '"hi"', '42']));
  });

  it('stores a 10,000-character multibyte message whole', async () => {
    const content = JSON.stringify({ t: '€'.repeat(9992) });
    expect(content.length).toBe(10_000);
    expect((await post(body({ Content: content, Sid: kx(5) }))).body).toEqual({ sid: kx(5), outcome: 'stored' });
    expect((await store.readLeg(LEG))?.messages[0].content).toBe(content);
  });
});
