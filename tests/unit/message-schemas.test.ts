// Message schemas (issue #14, optional, off by default): compiling the file, what a violation names
// (JSON path and rule), and the two routes: /message-callback stores (and forwards) a violating SDK
// message flagged, /send-message refuses one with a 400.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import twilio from 'twilio';
import { handler as messageCallback } from '../../functions/message-callback.protected';
import { handler as sendMessage } from '../../functions/send-message.protected';
import { inboundKey, legMapName } from '../../lib/store/call-store';
import { messageCallbackUrl } from '../../lib/calls/callback-urls';
import { compileMessageSchemas, messageSchemas, requireSchemaValid } from '../../lib/messages/schemas';
import {
  eventFor,
  expectError,
  installTwilioGlobal,
  invoke,
  LOCAL_BASE,
  makeContext,
  signedEvent,
} from '../support/function-harness';
import { startSyncSandbox, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type SyncSandbox } from '../support/sync-sandbox';
import { withoutFragment } from '../support/narrow';
import { callSid, messageSid } from '../../testing/sids';

const EXAMPLE = readFileSync(join(__dirname, '../../assets/message-schemas.example.private.json'), 'utf8');
const ASSET = '/message-schemas.example.json';
const schemas = compileMessageSchemas(EXAMPLE);

describe('compiling and checking', () => {
  it.each([
    '{"type":"chat","text":"hi"}',
    // additionalTypes true: a type without a schema, and content without a type, pass.
    '{"type":"other"}',
    '{"no":"type"}',
    '[1,2]',
  ])('%s passes', (content) => {
    expect(schemas.check(content)).toBeUndefined();
  });

  it.each([
    ['{"type":"chat","text":5}', { path: '/text', rule: 'type', message: '/text: must be string (type)' }],
    ['{"type":"chat"}', { path: '', rule: 'required' }],
    ['{"type":"chat","text":"x","extra":1}', { path: '', rule: 'additionalProperties' }],
    [
      '{"type":"order.update","orderId":"AB-12","status":"paid","items":[{"sku":"a","quantity":0}]}',
      { path: '/items/0/quantity', rule: 'minimum', message: '/items/0/quantity: must be >= 1 (minimum)' },
    ],
    ['{"type":"order.update","orderId":"x","status":"lost"}', { path: '/orderId', rule: 'pattern' }],
  ])('%s', (content, expected) => {
    expect(schemas.check(content)).toMatchObject(expected);
  });

  it('refuses unknown types when additionalTypes is false, naming the type field', () => {
    const strict = compileMessageSchemas(JSON.stringify({ ...JSON.parse(EXAMPLE), additionalTypes: false }));
    expect(strict.check('{"type":"other"}')).toMatchObject({ path: '/type', rule: 'type-unknown' });
    expect(strict.check('{"no":"type"}')).toMatchObject({ path: '/type', rule: 'type-unknown' });
    expect(strict.check('{"type":"chat","text":"ok"}')).toBeUndefined();
  });

  it('never hands ajv deeper nesting than the project ever parses', () => {
    const deep = `{"type":"chat","text":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    expect(schemas.check(deep)).toMatchObject({ path: '', rule: 'nesting' });
  });

  it.each([
    ['not json', /not a JSON object/],
    ['{"types":[]}', /"types"/],
    ['{"typeField":"","types":{}}', /typeField/],
    ['{"additionalTypes":"yes","types":{}}', /additionalTypes/],
    ['{"types":{"chat":{"type":"objekt"}}}', /"chat" do not compile/],
    ['{"types":{"chat":{"unknownKeyword":1}}}', /"chat" do not compile/],
  ])('refuses a broken schema file (%s) with 500 configuration-invalid', (text, why) => {
    expect(() => compileMessageSchemas(text)).toThrow(why);
    let thrown: unknown;
    try {
      compileMessageSchemas(text);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ status: 500, code: 'configuration-invalid' });
  });

  it('is off without MESSAGE_SCHEMAS_ASSET, and names a missing asset', () => {
    const read = jest.fn(() => EXAMPLE);
    expect(messageSchemas({ raw: {} }, read)).toBeUndefined();
    expect(read).not.toHaveBeenCalled();
    expect(() => messageSchemas({ raw: { MESSAGE_SCHEMAS_ASSET: '/nope.json' } }, () => undefined)).toThrow(
      /asset \/nope\.json does not exist/,
    );
    expect(() => requireSchemaValid({ raw: { MESSAGE_SCHEMAS_ASSET: ASSET } }, '{"type":"chat"}', read)).toThrow(
      expect.objectContaining({ status: 400, code: 'content-schema-invalid' }),
    );
  });
});

describe('the routes, with schemas on', () => {
  let sandbox: SyncSandbox;
  const LEG = callSid(0xd);
  const env = () => ({ MESSAGE_SCHEMAS_ASSET: ASSET });

  beforeAll(async () => {
    installTwilioGlobal();
    // The Functions runtime's Runtime.getAssets(), holding the example as a private asset.
    Object.assign(globalThis, { Runtime: { getAssets: () => ({ [ASSET]: { open: () => EXAMPLE } }) } });
    sandbox = await startSyncSandbox();
  });
  afterAll(async () => {
    delete (globalThis as { Runtime?: unknown }).Runtime;
    await sandbox.close();
  });
  beforeEach(() => {
    sandbox.reset();
    jest.spyOn(console, 'log').mockImplementation(() => {});
  });
  afterEach(() => jest.restoreAllMocks());

  const callback = (n: number, content: string) => {
    const url = withoutFragment(messageCallbackUrl(LOCAL_BASE, TEST_AUTH_TOKEN, LEG));
    const body = {
      ContentType: 'application/json',
      Content: content,
      SequenceNumber: String(n),
      CallSid: LEG,
      Timestamp: 'Wed, 1 Jan 2025 00:00:00 +0000',
      AccountSid: TEST_ACCOUNT_SID,
      Sid: messageSid(n),
    };
    return eventFor(url, body, { 'x-twilio-signature': twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, url, body) });
  };
  const stored = async (n: number) =>
    (
      await sandbox.client.sync.v1
        .services('default')
        .syncMaps(legMapName(LEG))
        .syncMapItems(inboundKey(n, messageSid(n)))
        .fetch()
    ).data as Record<string, unknown>;

  it('stores a violating SDK message flagged (valid: false, the first error), and a valid one unflagged', async () => {
    const bad = await invoke(messageCallback, makeContext('/message-callback', env()), callback(1, '{"type":"chat"}'));
    expect(bad.statusCode).toBe(200);
    expect(await stored(1)).toMatchObject({
      valid: false,
      validationError: "/: must have required property 'text' (required)",
    });
    const good = await invoke(
      messageCallback,
      makeContext('/message-callback', env()),
      callback(2, '{"type":"chat","text":"hi"}'),
    );
    expect(good.statusCode).toBe(200);
    const row = await stored(2);
    expect(row.valid).toBeUndefined();
    expect(row.validationError).toBeUndefined();
  });

  it('/send-message refuses violating content with 400 naming the path and rule, before any request to Twilio', async () => {
    const url = `${LOCAL_BASE}/send-message`;
    const res = await invoke(
      sendMessage,
      makeContext('/send-message', env()),
      signedEvent(url, { callSid: LEG, content: '{"type":"chat","text":7}' }),
    );
    const body = expectError(res, 400, 'content-schema-invalid') as unknown as Record<string, unknown>;
    expect(body).toMatchObject({ path: '/text', rule: 'type', message: 'content /text: must be string (type)' });
  });
});
