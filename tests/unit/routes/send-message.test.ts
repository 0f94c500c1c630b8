// Validation and refusal paths only: a message that passes them goes to the REST Calls API
// (UserDefinedMessages, calls.list), which the in-process sandbox does not serve — the happy path
// is covered by the integration suite.
import { handler } from '../../../functions/send-message.protected';
import {
  eventFor,
  expectError,
  installTwilioGlobal,
  invoke,
  LOCAL_BASE,
  makeContext,
  signedEvent,
} from '../../support/function-harness';
import { callSid, messageSid } from '../../../testing/sids';

const CALL = callSid(0xc);
const URL_SEND = `${LOCAL_BASE}/send-message`;
// No sandbox running: if validation let anything through, the route would try twilio.com and fail differently.
const context = () => makeContext('/send-message');
const send = (body: Record<string, string>) => invoke(handler, context(), signedEvent(URL_SEND, body));
const CONTENT = '{"hello":"sdk"}';

beforeAll(installTwilioGlobal);
beforeEach(() => jest.spyOn(console, 'log').mockImplementation(() => {}));
afterEach(() => jest.restoreAllMocks());

describe('/send-message validation', () => {
  it('refuses an unsigned request with 403', async () => {
    expectError(
      await invoke(handler, context(), eventFor(URL_SEND, { callSid: CALL, content: CONTENT })),
      403,
      'signature-invalid',
    );
  });

  it('refuses a request signed with another token with 403', async () => {
    expectError(
      await invoke(handler, context(), signedEvent(URL_SEND, { callSid: CALL, content: CONTENT }, 'wrong')),
      403,
      'signature-invalid',
    );
  });

  it('needs exactly one target: not both callSid and identity', async () => {
    expectError(await send({ callSid: CALL, identity: 'alice', content: CONTENT }), 400, 'target-invalid');
  });

  it('needs exactly one target: not neither', async () => {
    expectError(await send({ content: CONTENT }), 400, 'target-invalid');
  });

  it.each(['CA123', 'ca' + 'c'.repeat(32), messageSid(0xc), ''])('refuses callSid %p', async (callSid) => {
    expectError(await send({ callSid, content: CONTENT }), 400, 'call-sid-invalid');
  });

  it.each(['alice smith', 'client:alice', 'a'.repeat(122), ''])('refuses identity %p', async (identity) => {
    expectError(await send({ identity, content: CONTENT }), 400, 'identity-invalid');
  });

  it('refuses missing content', async () => {
    expectError(await send({ callSid: CALL }), 400, 'content-missing');
  });

  it.each(['not json', '[1,2,3]', '"text"', '12'])('refuses content %p', async (content) => {
    expectError(await send({ callSid: CALL, content }), 400, 'content-invalid');
  });

  it('refuses content over 10,000 characters', async () => {
    const content = JSON.stringify({ t: '€'.repeat(9993) });
    expect(content.length).toBe(10_001);
    const body = expectError(await send({ callSid: CALL, content }), 400, 'content-too-long');
    expect(body.message).toContain('10001');
  });

  it('refuses an idempotencyKey over 128 characters', async () => {
    expectError(
      await send({ callSid: CALL, content: CONTENT, idempotencyKey: 'k'.repeat(129) }),
      400,
      'idempotency-key-invalid',
    );
  });
});
