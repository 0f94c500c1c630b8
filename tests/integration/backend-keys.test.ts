// Issue 22, Must 1: your backend with a key instead of the Auth Token, over real twilio-run, the
// sandbox's Functions gateway and Sync. The bundled client sends and reads with a key
// (/backend-send, /backend-messages); wrong, unknown and revoked keys get 401, a key without the
// scope 403, and wrong secrets for one key id are throttled like sign-ins (429, the right key too),
// while other keys go on working. Revocation by a new BACKEND_API_KEYS is also in
// tests/unit/routes/backend-keys.test.ts (the list is read on every request).
import { callMessages, keyPost, sendMessage } from '../../client/src';
import { SIGN_IN_SLOWING } from '../../lib/auth/throttle';
import { waitFor } from '../../testing/stack';
import { answeredLeg, useTestStack } from '../support/stack';

const FULL = `full.${'f'.repeat(40)}`;
const READER = `reader.${'r'.repeat(40)}`;
const SENDER = `sender.${'s'.repeat(40)}`;

const stack = useTestStack({
  env: { BACKEND_API_KEYS: `send+read:${FULL} read:${READER} send:${SENDER}` },
});
const as = (apiKey: string) => ({ baseUrl: stack.functionsUrl, apiKey });
let leg: string;

beforeAll(async () => {
  const ctl = stack.control;
  leg = await answeredLeg(ctl, 'alice', '+15551239022');
}, 60_000);

const received = async () => (await stack.control.phone('alice')).calls.find((c) => c.callSid === leg)?.received ?? [];

it('accepts a key with the scope: the client sends with it, the phone gets it, the history shows it', async () => {
  const sent = await sendMessage(as(FULL), { callSid: leg, content: { by: 'key' } });
  expect(sent.status).toBe(201);
  expect(sent.body).toMatchObject({ callSid: leg, outcome: 'sent' });
  await waitFor(async () => (await received()).find((m) => (m.content as { by?: string }).by === 'key'), 'the message');
  const sendOnly = await sendMessage(as(SENDER), { identity: 'alice', content: { by: 'sender' } });
  expect(sendOnly.status).toBe(201);
  for (const key of [FULL, READER]) {
    const page = await callMessages(as(key), leg, { pageSize: 100 });
    expect(page.status).toBe(200);
    expect(page.body.messages.map((m) => m.data)).toEqual(expect.arrayContaining([{ by: 'key' }, { by: 'sender' }]));
  }
});

it('refuses no key, a wrong secret, an unknown (or revoked) key id and a malformed header with 401', async () => {
  const params = { callSid: leg };
  for (const apiKey of [`full.${'x'.repeat(40)}`, `revoked.${'f'.repeat(40)}`, 'full', `${FULL}.extra`]) {
    const res = await keyPost(as(apiKey), '/backend-messages', params);
    expect({ apiKey, status: res.status, body: res.body }).toMatchObject({
      status: 401,
      body: { code: 'backend-key-invalid' },
    });
  }
  const none = await fetch(`${stack.functionsUrl}/backend-messages?callSid=${leg}`);
  expect(none.status).toBe(401);
  expect(await none.json()).toMatchObject({ code: 'backend-key-invalid' });
  // The Auth Token is not a key.
  const token = await keyPost(as(stack.sandbox.authToken), '/backend-messages', params);
  expect(token.status).toBe(401);
});

it('refuses a key without the scope with 403, and sends nothing', async () => {
  const before = (await received()).length;
  const res = await sendMessage(as(READER), { callSid: leg, content: { by: 'reader' } });
  expect(res).toMatchObject({ status: 403, body: { code: 'backend-key-scope' } });
  const read = await callMessages(as(SENDER), leg);
  expect(read).toMatchObject({ status: 403, body: { code: 'backend-key-scope' } });
  expect((await received()).length).toBe(before);
});

it('throttles wrong secrets for one key id: then 429 with Retry-After, even for the right key; other ids unaffected', async () => {
  const wrong = as(`sender.${'w'.repeat(40)}`);
  for (let i = 0; i < SIGN_IN_SLOWING.freeFailures; i++) {
    const res = await sendMessage(wrong, { callSid: leg, content: { n: i } });
    expect(res).toMatchObject({ status: 401, body: { code: 'backend-key-invalid' } });
  }
  const locked = await sendMessage(as(SENDER), { callSid: leg, content: { by: 'locked' } }, { maxTries: 1 });
  expect(locked).toMatchObject({ status: 429, body: { code: 'sign-in-throttled' } });
  expect(Number(locked.retryAfterSeconds)).toBeGreaterThan(0);
  expect(Number(locked.retryAfterSeconds)).toBeLessThanOrEqual(SIGN_IN_SLOWING.firstLockSeconds);
  // Other keys are their own accounts: the backend holding them goes on.
  const other = await sendMessage(as(FULL), { callSid: leg, content: { by: 'full-during-lock' } });
  expect(other.status).toBe(201);
});
