// Backend keys (issue 22, Must 1), in-process over the Sync sandbox: /backend-messages and
// /backend-send take `Authorization: Bearer <id>.<secret>` for a key of BACKEND_API_KEYS with the
// scope the route needs; a wrong, unknown, malformed or revoked key is 401, a key without the scope
// 403, and wrong secrets for a key id are throttled as sign-ins are (then 429, the right key too).
// What each costs in Sync requests. The whole stack: tests/integration/backend-keys.test.ts.
import { handler as messagesHandler } from '../../../functions/backend-messages';
import { handler as sendHandler } from '../../../functions/backend-send';
import { parseBackendKeys, MIN_BACKEND_KEY_SECRET_CHARS } from '../../../lib/auth/backend-keys';
import { SIGN_IN_SLOWING } from '../../../lib/auth/throttle';
import {
  eventFor,
  expectError,
  installTwilioGlobal,
  invoke,
  LOCAL_BASE,
  makeContext,
} from '../../support/function-harness';
import { startSyncSandbox, type SyncSandbox } from '../../support/sync-sandbox';
import { callSid } from '../../../testing/sids';

const FULL = `full.${'F'.repeat(43)}=`;
const READER = `reader.${'r'.repeat(64)}`;
const SENDER = `sender.${'s0-_'.repeat(8)}`;
const KEYS = `send+read:${FULL}, read:${READER} send:${SENDER}`;

let sandbox: SyncSandbox;
let env: Record<string, string>;

type Handler = Parameters<typeof invoke>[0];
const call = (handler: Handler, path: string, body: Record<string, string>, key?: string, keys = KEYS) =>
  invoke(
    handler,
    makeContext(path, { ...env, BACKEND_API_KEYS: keys }),
    eventFor(`${LOCAL_BASE}${path}`, body, key === undefined ? {} : { authorization: `Bearer ${key}` }),
  );
/** A history read of a leg no one called: 404 call-not-found once the key is accepted. */
const read = (key?: string, keys?: string) =>
  call(messagesHandler, '/backend-messages', { callSid: callSid(77) }, key, keys);
/** A send whose content is not JSON: 400 content-invalid once the key is accepted (before any Twilio request). */
const send = (key?: string) =>
  call(sendHandler, '/backend-send', { callSid: callSid(77), content: 'not json', idempotencyKey: 'k-1' }, key);

beforeAll(async () => {
  installTwilioGlobal();
  sandbox = await startSyncSandbox();
  env = {};
});
afterAll(() => sandbox.close());
beforeEach(() => {
  sandbox.reset();
  jest.spyOn(console, 'log').mockImplementation(() => {});
});
afterEach(() => jest.restoreAllMocks());

describe('BACKEND_API_KEYS', () => {
  it('lists keys with their scopes, comma- or space-separated', () => {
    expect(parseBackendKeys(KEYS)).toEqual([
      { id: 'full', scopes: ['send', 'read'], key: FULL },
      { id: 'reader', scopes: ['read'], key: READER },
      { id: 'sender', scopes: ['send'], key: SENDER },
    ]);
    expect(parseBackendKeys('')).toEqual([]);
  });

  it.each([
    ['a key without a scope', FULL],
    ['an unknown scope', `admin:${FULL}`],
    ['a scope named after an Object property', `constructor:${FULL}`],
    ['a secret one character short', `read:short.${'x'.repeat(MIN_BACKEND_KEY_SECRET_CHARS - 1)}`],
    ['a key without an id', `read:${'x'.repeat(40)}`],
    ['an id listed twice', `read:${READER},send:${READER}`],
  ])('refuses %s (500 configuration-invalid naming the variable)', async (_name, keys) => {
    expect(() => parseBackendKeys(keys)).toThrow(/BACKEND_API_KEYS/);
    const res = await read(FULL, keys);
    expect(expectError(res, 500, 'configuration-invalid').message).toMatch(/BACKEND_API_KEYS/);
  });

  it('unset, the key routes answer 500 configuration-missing naming it', async () => {
    const res = await read(FULL, '');
    expect(expectError(res, 500, 'configuration-missing').message).toMatch(/BACKEND_API_KEYS/);
  });
});

describe('the key routes', () => {
  it('accept a listed key with the scope, writing nothing to Sync', async () => {
    const before = sandbox.requestCount();
    expectError(await read(FULL), 404, 'call-not-found');
    expect(sandbox.writeCount()).toBe(0);
    // The key's counter (none), then the history's own reads.
    expect(sandbox.requestCount() - before).toBeGreaterThanOrEqual(2);
    expectError(await read(READER), 404, 'call-not-found');
    // A send passes the key check and reaches the send's own checks.
    expectError(await send(SENDER), 400, 'content-invalid');
    expectError(await send(FULL), 400, 'content-invalid');
  });

  it('refuse no key, a malformed one and an unknown key id with 401 and no Sync request', async () => {
    const before = sandbox.requestCount();
    for (const key of [undefined, '', 'nonsense', `nobody.${'x'.repeat(40)}`, `${FULL} extra`]) {
      expectError(await read(key), 401, 'backend-key-invalid');
    }
    const basic = await invoke(
      messagesHandler,
      makeContext('/backend-messages', { ...env, BACKEND_API_KEYS: KEYS }),
      eventFor(`${LOCAL_BASE}/backend-messages`, { callSid: callSid(77) }, { authorization: `Basic ${FULL}` }),
    );
    expectError(basic, 401, 'backend-key-invalid');
    expect(sandbox.requestCount() - before).toBe(0);
    // The scheme is case-insensitive (RFC 7235): a library that writes `bearer` is let in.
    const lower = await invoke(
      messagesHandler,
      makeContext('/backend-messages', { ...env, BACKEND_API_KEYS: KEYS }),
      eventFor(`${LOCAL_BASE}/backend-messages`, { callSid: callSid(77) }, { authorization: `bearer  ${FULL}` }),
    );
    expectError(lower, 404, 'call-not-found');
  });

  it('refuse a revoked key (no longer listed) and a rotated-out secret of a listed id', async () => {
    expectError(await read(READER), 404, 'call-not-found');
    const revoked = `send+read:${FULL}`;
    expectError(await read(READER, revoked), 401, 'backend-key-invalid');
    const rotated = `read:reader.${'n'.repeat(40)}`;
    expectError(await read(READER, rotated), 401, 'backend-key-invalid');
  });

  it('refuse a key without the scope with 403', async () => {
    expectError(await send(READER), 403, 'backend-key-scope');
    expectError(await read(SENDER), 403, 'backend-key-scope');
  });

  it('throttle wrong secrets per key id: free ones, then 429 with Retry-After, the right key too; other ids unaffected', async () => {
    let offsetMs = 0;
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + offsetMs);
    // As long as SENDER's secret: a guess that could have been right.
    const wrong = `sender.${'w'.repeat(SENDER.length - 'sender.'.length)}`;
    const writes = sandbox.writeCount();
    for (let i = 0; i < SIGN_IN_SLOWING.freeFailures; i++) {
      expectError(await send(wrong), 401, 'backend-key-invalid');
    }
    // Each wrong secret is counted (1 write each).
    expect(sandbox.writeCount() - writes).toBe(SIGN_IN_SLOWING.freeFailures);
    const locked = await send(SENDER);
    expectError(locked, 429, 'sign-in-throttled');
    expect(Number(locked.headers['Retry-After'])).toBe(SIGN_IN_SLOWING.firstLockSeconds);
    expectError(await send(wrong), 429, 'sign-in-throttled');
    // Another key id is its own account.
    expectError(await send(FULL), 400, 'content-invalid');
    // Once the lock has passed, the right key works and clears the failures.
    offsetMs += (SIGN_IN_SLOWING.firstLockSeconds + 1) * 1000;
    sandbox.clock.advance((SIGN_IN_SLOWING.firstLockSeconds + 1) * 1000);
    expectError(await send(SENDER), 400, 'content-invalid');
    for (let i = 0; i < SIGN_IN_SLOWING.freeFailures - 1; i++) {
      expectError(await send(wrong), 401, 'backend-key-invalid');
    }
    expectError(await send(SENDER), 400, 'content-invalid');
  });

  it("never count a secret of another length than the key's: 401 with no Sync request, however many", async () => {
    const before = sandbox.requestCount();
    for (const secret of ['w'.repeat(31), 'w'.repeat(33), 'w'.repeat(40), 'w'.repeat(512)]) {
      for (let i = 0; i <= SIGN_IN_SLOWING.freeFailures; i++) {
        expectError(await send(`sender.${secret}`), 401, 'backend-key-invalid');
      }
    }
    expect(sandbox.requestCount() - before).toBe(0);
    // The key id was never locked: its owner goes on.
    expectError(await send(SENDER), 400, 'content-invalid');
  });
});
