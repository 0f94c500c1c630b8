import { createHash } from 'node:crypto';
import twilio from 'twilio';
import { handler } from '../../../functions/message-callback.protected';
import { legToken, messageCallbackQuery, messageCallbackUrl, RETRY_FRAGMENT } from '../../../lib/calls/callback-urls';
import { CallStore, type StoredMessage } from '../../../lib/store/call-store';
import type { SdkLeg } from '../../../lib/calls/legs';
import { CALLBACK_URL_GRACE_SECONDS, MAX_CALL_SECONDS } from '../../../lib/shared/limits';
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
import { defined, withoutFragment } from '../../support/narrow';
import { accountSid, callSid, messageSid } from '../../../testing/sids';

// A new leg per test: the route remembers legs it saw live (per warm container), as it should.
let legCounter = 0x100;
let LEG: string;
const OTHER_LEG = callSid(0xb);

let sandbox: SyncSandbox;
let env: Record<string, string>;
let store: CallStore;
let logs: string[];
/** Sync requests the functions made (method and path), for counting reads. */
let syncRequests: string[] = [];

beforeAll(async () => {
  installTwilioGlobal();
  sandbox = await startSyncSandbox({}, (app) =>
    app.use((req, _res, next) => {
      syncRequests.push(`${req.method} ${req.path}`);
      next();
    }),
  );
  env = {};
  store = new CallStore(sandbox.client, { syncServiceSid: 'default', finishedCallTtl: 600, activeCallTtl: 3600 });
});
afterAll(() => sandbox.close());
beforeEach(() => {
  sandbox.reset();
  syncRequests = [];
  logs = [];
  LEG = callSid(legCounter++);
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
  Sid: messageSid(1),
  ...over,
});

/** What reaches the function: Twilio never sends a URL's fragment. */
const urlFor = (leg = LEG, issuedAt = new Date()) => messageCallbackUrl(LOCAL_BASE, TEST_AUTH_TOKEN, leg, issuedAt);
const post = (b: Record<string, string>, url = urlFor(), envOver: Record<string, string> = {}) =>
  invoke(handler, makeContext('/message-callback', { ...env, ...envOver }), signedEvent(url, b));
const ago = (seconds: number) => new Date(Date.now() - seconds * 1000);

/** A JSON-bodied callback as Twilio sends it: bodySHA256 of the raw body in the URL, the URL signed. */
function jsonEvent(json: Record<string, unknown>, raw = JSON.stringify(json), url = urlFor()) {
  const hashed = `${withoutFragment(url)}&bodySHA256=${createHash('sha256').update(raw).digest('hex')}`;
  return eventFor(hashed, json as Record<string, string>, {
    'x-twilio-signature': twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, hashed, {}),
    'content-type': 'application/json',
  });
}
const postJson = (event: ReturnType<typeof jsonEvent>, envOver: Record<string, string> = {}) =>
  invoke(handler, makeContext('/message-callback', { ...env, ...envOver }), event);

async function stored(leg = LEG): Promise<StoredMessage[]> {
  const page = await store.readHistory(leg, { order: 'asc' }, 100);
  return page ? page.messages.map((m) => m.message) : [];
}

const sdkLeg = (): SdkLeg => ({
  callSid: LEG,
  parentCallSid: callSid(0xf),
  role: 'child',
  identity: 'bob',
  peer: '+15551234567',
});

describe('/message-callback', () => {
  it('stores a message once; a repeat delivery is a 200 duplicate', async () => {
    const first = await post(body());
    expect(first.statusCode).toBe(200);
    expect(first.body).toEqual({ sid: messageSid(1), outcome: 'stored', verification: 'signature' });
    const again = await post(body());
    expect(again.statusCode).toBe(200);
    expect(again.body).toEqual({ sid: messageSid(1), outcome: 'duplicate', verification: 'signature' });
    expect(await stored()).toEqual([
      expect.objectContaining({
        sid: messageSid(1),
        callSid: LEG,
        direction: 'from-sdk',
        sequence: 1,
        contentType: 'application/json',
        content: '{"key1":"This is a message from the SDK"}',
        timestamp: '2022-12-02T22:02:49.000Z',
      }),
    ]);
  });

  it('never logs the message content', async () => {
    await post(body({ Content: '{"secret":"hunter2"}' }));
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join('\n')).not.toContain('hunter2');
  });

  it('accepts a signature over the URL with or without the retry fragment', async () => {
    const url = urlFor();
    expect(url.endsWith(`#${RETRY_FRAGMENT}`)).toBe(true);
    const withFragment = signedEvent(url, body({ Sid: messageSid(3) }));
    const without = signedEvent(withoutFragment(url), body({ Sid: messageSid(4) }));
    for (const event of [withFragment, without]) {
      expect((await invoke(handler, makeContext('/message-callback', env), event)).statusCode).toBe(200);
    }
  });

  it('accepts a JSON body signed with bodySHA256, fully verified when the compact body matches', async () => {
    const res = await postJson(jsonEvent(body({ Sid: messageSid(2), SequenceNumber: '0' })));
    expect(res.body).toEqual({ sid: messageSid(2), outcome: 'stored', verification: 'signature' });
  });

  it('accepts a JSON body written another way, trusted for its URL and token only', async () => {
    const json = body({ Sid: messageSid(2), SequenceNumber: '0' });
    const res = await postJson(jsonEvent(json, JSON.stringify(json, null, 1)));
    expect(res.body).toEqual({ sid: messageSid(2), outcome: 'stored', verification: 'url-and-token' });
    expect(logs.join('\n')).toContain('"verification":"url-and-token"');
  });

  it('with REQUIRE_VERIFIED_JSON_CALLBACKS, refuses a JSON body it cannot verify, and nothing is written', async () => {
    const strict = { REQUIRE_VERIFIED_JSON_CALLBACKS: 'true' };
    const json = body({ Sid: messageSid(2), SequenceNumber: '0' });
    expectError(await postJson(jsonEvent(json, JSON.stringify(json, null, 1)), strict), 403, 'callback-unverified');
    // A replay: the signed URL of a real callback, another body.
    const replay = jsonEvent(json);
    replay.Content = '{"forged":true}';
    expectError(await postJson(replay, strict), 403, 'callback-unverified');
    expect(syncRequests.filter((r) => !r.startsWith('GET'))).toEqual([]);
    // Verified JSON and form callbacks still pass.
    expect((await postJson(jsonEvent(json), strict)).body).toMatchObject({ outcome: 'stored' });
    expect((await post(body({ Sid: messageSid(3) }), urlFor(), strict)).body).toMatchObject({ outcome: 'stored' });
    expectError(
      await post(body({ Sid: messageSid(4) }), urlFor(), { REQUIRE_VERIFIED_JSON_CALLBACKS: 'maybe' }),
      500,
      'configuration-invalid',
    );
  });

  it('keeps Content that a JSON body carries as the value itself, and reads it back as sent', async () => {
    const values: unknown[] = [{ a: 1, b: [true, null] }, [1, 2], 42, null, 'plain text', '{"already":"json text"}'];
    for (const [i, value] of values.entries()) {
      const json = { ...body({ Sid: messageSid(200 + i), SequenceNumber: String(10 + i) }), Content: value };
      expect((await postJson(jsonEvent(json))).body).toEqual({
        sid: messageSid(200 + i),
        outcome: 'stored',
        verification: 'signature',
      });
    }
    expect((await stored()).map((m) => JSON.parse(m.content) as unknown)).toEqual([
      { a: 1, b: [true, null] },
      [1, 2],
      42,
      null,
      'plain text',
      { already: 'json text' },
    ]);
  });

  it('stores hostile content as its text: a nesting bomb, __proto__ keys, lone surrogates', async () => {
    const bomb = '['.repeat(4_500) + ']'.repeat(4_500);
    const odd = '{"__proto__":{"polluted":true},"constructor":{"prototype":1},"s":"\\ud800 \\udfff"}';
    expect((await post(body({ Sid: messageSid(1), SequenceNumber: '1', Content: bomb }))).statusCode).toBe(200);
    expect((await post(body({ Sid: messageSid(2), SequenceNumber: '2', Content: odd }))).statusCode).toBe(200);
    // The same bomb already parsed, in a JSON body.
    const json = { ...body({ Sid: messageSid(3), SequenceNumber: '3' }), Content: JSON.parse(bomb) as unknown };
    const raw = JSON.stringify({ ...body({ Sid: messageSid(3), SequenceNumber: '3' }), Content: 'X' }).replace(
      '"X"',
      bomb,
    );
    expect((await postJson(jsonEvent(json, raw))).body).toMatchObject({ outcome: 'stored', verification: 'signature' });
    expect((await stored()).map((m) => m.content)).toEqual([bomb, odd, bomb]);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('refuses an unsigned request with 403', async () => {
    expectError(
      await invoke(handler, makeContext('/message-callback', env), eventFor(urlFor(), body())),
      403,
      'signature-invalid',
    );
    expect(await stored()).toEqual([]);
  });

  it('refuses a wrong token with 403, even when signed', async () => {
    const query = { ...messageCallbackQuery(TEST_AUTH_TOKEN, LEG), cme_token: 'A'.repeat(32) };
    expectError(
      await post(body(), `${LOCAL_BASE}/message-callback?${new URLSearchParams(query)}`),
      403,
      'callback-token-invalid',
    );
    expect(await stored()).toEqual([]);
  });

  it("refuses another leg's token, or a token moved to another issue time, with 403", async () => {
    const { cme_issued } = messageCallbackQuery(TEST_AUTH_TOKEN, LEG);
    const other = new URLSearchParams({
      cme_leg: LEG,
      cme_issued,
      cme_token: legToken(TEST_AUTH_TOKEN, OTHER_LEG, cme_issued),
    });
    expectError(await post(body(), `${LOCAL_BASE}/message-callback?${other}`), 403, 'callback-token-invalid');
    const moved = new URLSearchParams({
      cme_leg: LEG,
      cme_issued: String(Number(cme_issued) + 3600),
      cme_token: legToken(TEST_AUTH_TOKEN, LEG, cme_issued),
    });
    expectError(await post(body(), `${LOCAL_BASE}/message-callback?${moved}`), 403, 'callback-token-invalid');
  });

  it('refuses a URL without the leg, issue time or token with 403 (URLs issued before issue times existed)', async () => {
    expectError(await post(body(), `${LOCAL_BASE}/message-callback`), 403, 'callback-token-invalid');
    const { cme_issued: _dropped, ...legacy } = messageCallbackQuery(TEST_AUTH_TOKEN, LEG);
    expectError(
      await post(body(), `${LOCAL_BASE}/message-callback?${new URLSearchParams(legacy)}`),
      403,
      'callback-token-invalid',
    );
  });

  it('refuses a URL older than the longest call (4 h) plus the grace, and one issued in the future', async () => {
    const limit = MAX_CALL_SECONDS + CALLBACK_URL_GRACE_SECONDS;
    expectError(await post(body(), urlFor(LEG, ago(limit + 5))), 403, 'callback-expired');
    expectError(await post(body(), urlFor(LEG, ago(-CALLBACK_URL_GRACE_SECONDS - 60))), 403, 'callback-expired');
    expect(await stored()).toEqual([]);
    // 4 hours in, the call may still be going.
    expect((await post(body(), urlFor(LEG, ago(MAX_CALL_SECONDS)))).statusCode).toBe(200);
  });

  it('refuses a CallSid that is not the leg of the URL with 403', async () => {
    expectError(await post(body({ CallSid: OTHER_LEG })), 403, 'callback-token-invalid');
  });

  it('refuses another account with 403', async () => {
    expectError(await post(body({ AccountSid: accountSid(0xf) })), 403, 'account-mismatch');
  });

  it.each(['', '-1', 'abc', '1.5', '99999999999'])('refuses SequenceNumber %p with 400', async (seq) => {
    expectError(await post(body({ SequenceNumber: seq })), 400, 'sequence-invalid');
  });

  it('refuses a missing SequenceNumber with 400', async () => {
    const { SequenceNumber: _omitted, ...rest } = body();
    expectError(await post(rest), 400, 'sequence-invalid');
  });

  // Issue 20, Must 8: these three used to be refused with 400 (sid-invalid, content-invalid,
  // content-type-invalid). Twilio never retries a 4xx: a genuine message of the iOS or Android SDK
  // would be lost for good. They are stored, flagged, and read back.
  it.each([
    ['a Sid of another format', { Sid: 'KX123' }, ['sid']],
    ['an upper-case Sid', { Sid: `KX${'AB'.repeat(16)}` }, ['sid']],
    ['no Sid at all', { Sid: '' }, ['sid']],
    ['Content that is not JSON', { Content: 'hello' }, ['content']],
    ['no Content at all', { Content: '' }, ['content']],
    ['another ContentType', { ContentType: 'text/plain' }, ['content-type']],
    ['all three', { Sid: 'MX-1', Content: 'hi there', ContentType: 'text/plain' }, ['sid', 'content', 'content-type']],
  ])('stores %s, flagged, and answers 200', async (_what, over, irregular) => {
    const given = body(over);
    const res = await post(given);
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({ sid: given.Sid, outcome: 'stored', verification: 'signature', irregular });
    const [message] = await stored();
    expect(message).toMatchObject({
      sid: given.Sid,
      content: given.Content,
      contentType: given.ContentType,
      irregular,
    });
  });

  it('dedupes a redelivery of a message whose Sid it cannot parse, and keeps two such messages apart', async () => {
    const first = body({ Sid: 'CM-ios-0001', Content: 'one' });
    expect((await post(first)).body).toMatchObject({ outcome: 'stored' });
    expect((await post(first)).body).toMatchObject({ outcome: 'duplicate' });
    const second = body({ Sid: 'CM-ios-0002', Content: 'two', SequenceNumber: '2' });
    expect((await post(second)).body).toMatchObject({ outcome: 'stored' });
    const noSid = body({ Sid: '', Content: 'three', SequenceNumber: '3' });
    expect((await post(noSid)).body).toMatchObject({ outcome: 'stored' });
    expect((await post(noSid)).body).toMatchObject({ outcome: 'duplicate' });
    expect((await stored()).map((m) => [m.sid, m.content])).toEqual([
      ['CM-ios-0001', 'one'],
      ['CM-ios-0002', 'two'],
      ['', 'three'],
    ]);
  });

  it('keeps at most 128 characters of an odd Sid or ContentType (the head item stays under 16 KB)', async () => {
    const res = await post(body({ Sid: 'S'.repeat(5000), ContentType: 'T'.repeat(5000) }));
    expect(res.statusCode).toBe(200);
    const [message] = await stored();
    expect(message?.sid).toBe('S'.repeat(128));
    expect(message?.contentType).toBe('T'.repeat(128));
  });

  it('still refuses content beyond any SDK message with 400', async () => {
    expectError(await post(body({ Content: JSON.stringify({ t: 'x'.repeat(20_000) }) })), 400, 'content-too-long');
    expectError(await post(body({ Content: 'x'.repeat(20_001) })), 400, 'content-too-long');
  });

  it('flags nothing in a message as the JS SDK sends it', async () => {
    const res = await post(body());
    expect(res.body).not.toHaveProperty('irregular');
    expect(defined((await stored())[0])).not.toHaveProperty('irregular');
  });

  it('keeps any JSON value the SDK sent (arrays, strings, numbers), and 10 KB over 10,000 characters', async () => {
    for (const [i, content] of ['[1,2]', '"hi"', '42', JSON.stringify({ t: 'x'.repeat(10_100) })].entries()) {
      expect(
        (await post(body({ Content: content, Sid: messageSid(100 + i), SequenceNumber: String(i) }))).body,
      ).toEqual({
        sid: messageSid(100 + i),
        outcome: 'stored',
        verification: 'signature',
      });
    }
    expect((await stored()).map((m) => m.content)).toEqual(expect.arrayContaining(['[1,2]', '"hi"', '42']));
  });

  it('stores a 10,000-character multibyte message whole', async () => {
    const content = JSON.stringify({ t: '€'.repeat(9992) });
    expect(content.length).toBe(10_000);
    expect((await post(body({ Content: content, Sid: messageSid(5) }))).body).toMatchObject({
      sid: messageSid(5),
      outcome: 'stored',
    });
    expect(defined((await stored())[0]).content).toBe(content);
  });
});

describe('/message-callback for a leg that ended', () => {
  const stateReads = () => syncRequests.filter((r) => r.startsWith('GET') && r.endsWith('/Items/state')).length;

  it('refuses a callback for a leg final for more than a minute, and writes nothing', async () => {
    await store.markFinished(sdkLeg(), 'completed', ago(120));
    syncRequests = [];
    expectError(await post(body(), urlFor(LEG, ago(600))), 403, 'call-ended');
    expect(syncRequests.filter((r) => !r.startsWith('GET'))).toEqual([]);
    expect(await stored()).toEqual([]);
  });

  it('still stores a late delivery within the minute after the end', async () => {
    await store.markFinished(sdkLeg(), 'completed', ago(30));
    expect((await post(body(), urlFor(LEG, ago(600)))).body).toMatchObject({ outcome: 'stored' });
  });

  it('stores a message for a live leg whose Map is missing (its state write has not landed yet)', async () => {
    expect((await post(body(), urlFor(LEG, ago(600)))).body).toMatchObject({ outcome: 'stored' });
    expect(stateReads()).toBe(1);
  });

  it('reads no state in the first minute of a URL: one Sync write per message', async () => {
    await store.markFinished(sdkLeg(), 'completed', ago(120)); // cannot happen for a fresh URL; proves no read
    syncRequests = [];
    expect((await post(body(), urlFor(LEG, ago(30)))).statusCode).toBe(200);
    expect(stateReads()).toBe(0);
    expect(syncRequests.filter((r) => r.startsWith('POST'))).toHaveLength(1);
  });

  it('after one read finds the leg live, reads no state again for a minute', async () => {
    await store.ensureLegMap(LEG);
    await sandbox.client.sync.v1
      .services('default')
      .syncMaps(`cme.call.${LEG.toLowerCase()}`)
      .syncMapItems.create({ key: 'state', data: { ...sdkLeg(), status: 'in-progress', updatedAt: ago(600) } });
    syncRequests = [];
    const url = urlFor(LEG, ago(600));
    for (let i = 1; i <= 5; i++) {
      expect((await post(body({ Sid: messageSid(i), SequenceNumber: String(i) }), url)).statusCode).toBe(200);
    }
    expect(stateReads()).toBe(1);
  });
});
