// Agents end to end through the Functions (in-process, over the sandbox's Sync): the operator adds,
// lists, disables and resets agents; agents sign in; /token mints for the signed-in agent only;
// wrong passwords are counted and locked out for a growing, capped time; unknown identities cost nothing.
import { handler as addHandler } from '../../../functions/operator-agents-add';
import { handler as listHandler } from '../../../functions/operator-agents';
import { handler as updateHandler } from '../../../functions/operator-agents-update';
import { handler as operatorSessionHandler } from '../../../functions/operator-session';
import { handler as signInHandler } from '../../../functions/agent-session';
import { handler as tokenHandler } from '../../../functions/token';
import { AGENTS_MAP, needsRehash, type AgentRecord } from '../../../lib/auth/agents';
import { SIGN_IN_SLOWING } from '../../../lib/auth/throttle';
import {
  eventFor,
  expectError,
  installTwilioGlobal,
  invoke,
  LOCAL_BASE,
  makeContext,
  type FakeResponse,
} from '../../support/function-harness';
import { startSyncSandbox, type SyncSandbox } from '../../support/sync-sandbox';
import { defined } from '../../support/narrow';
import { legacyPasswordHash } from '../../support/legacy-password';
import { sid } from '../../../testing/sids';

const OPERATOR_SECRET = 'operator-secret-for-unit-tests-0001';
const TOKEN_SECRET = 'token-secret-for-server-to-server-01';
const BASE_ENV = {
  OPERATOR_SECRET,
  TOKEN_SECRET,
  API_KEY_SID: sid('SK', 5),
  API_KEY_SECRET: 'api-key-secret',
  TWIML_APP_SID: sid('AP', 6),
};
const ALICE_PASSWORD = 'correct horse battery';

let sandbox: SyncSandbox;
let env: Record<string, string>;

type Handler = Parameters<typeof invoke>[0];
const call = (
  handler: Handler,
  path: string,
  body: Record<string, string>,
  headers: Record<string, string> = {},
  overrides: Record<string, string | undefined> = {},
) => invoke(handler, makeContext(path, { ...env, ...overrides }), eventFor(`${LOCAL_BASE}${path}`, body, headers));

const bearer = (session: string) => ({ authorization: `Bearer ${session}` });

async function operator(): Promise<Record<string, string>> {
  const res = await call(operatorSessionHandler, '/operator-session', { secret: OPERATOR_SECRET });
  expect(res.statusCode).toBe(200);
  return bearer((res.body as { session: string }).session);
}

async function addAgent(identity: string, password?: string, displayName?: string) {
  const body: Record<string, string> = { identity };
  if (password !== undefined) body.password = password;
  if (displayName !== undefined) body.displayName = displayName;
  return call(addHandler, '/operator-agents-add', body, await operator());
}

const signIn = (identity: string, password: string) => call(signInHandler, '/agent-session', { identity, password });

async function sessionOf(identity: string, password: string): Promise<string> {
  const res = await signIn(identity, password);
  expect(res.statusCode).toBe(200);
  return (res.body as { session: string }).session;
}

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(defined(jwt.split('.')[1]), 'base64url').toString('utf8'));
const tokenIdentity = (res: FakeResponse) => claimsOf((res.body as { token: string }).token).grants.identity as string;

beforeAll(async () => {
  installTwilioGlobal();
  sandbox = await startSyncSandbox();
  env = { ...BASE_ENV };
});
afterAll(() => sandbox.close());
beforeEach(() => {
  sandbox.reset();
  jest.spyOn(console, 'log').mockImplementation(() => {});
});
afterEach(() => jest.restoreAllMocks());

describe('the operator manages agents', () => {
  it('adds an agent, stores only a salted scrypt hash, and lists it without credentials', async () => {
    const res = await addAgent('alice', ALICE_PASSWORD, 'Alice Liddell');
    expect(res.statusCode).toBe(201);
    expect(res.body).toEqual({
      agent: {
        identity: 'alice',
        displayName: 'Alice Liddell',
        enabled: true,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      },
    });
    const item = await sandbox.client.sync.v1.services('default').syncMaps(AGENTS_MAP).syncMapItems('alice').fetch();
    const stored = item.data as AgentRecord;
    expect(stored.password).toMatchObject({ scheme: 'scrypt', N: 32768, r: 8, p: 3 });
    expect(Buffer.from(stored.password.salt, 'base64')).toHaveLength(16);
    expect(JSON.stringify(stored)).not.toContain(ALICE_PASSWORD);

    await addAgent('bob', 'bob-password-long');
    const list = await call(listHandler, '/operator-agents', {}, await operator());
    expect(list.statusCode).toBe(200);
    const agents = (list.body as { agents: Record<string, unknown>[] }).agents;
    expect(agents.map((a) => [a.identity, a.displayName, a.enabled])).toEqual([
      ['alice', 'Alice Liddell', true],
      ['bob', 'bob', true],
    ]);
    expect(JSON.stringify(list.body)).not.toMatch(/scrypt|salt|hash|credential/);
  });

  it('generates a password when none is given, answers it once, and it signs in', async () => {
    const res = await addAgent('carol');
    const { password } = res.body as { password: string };
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect((await signIn('carol', password)).statusCode).toBe(200);
    const list = await call(listHandler, '/operator-agents', {}, await operator());
    expect(JSON.stringify(list.body)).not.toContain(password);
  });

  it.each(['al.ice', 'al-ice', 'al ice', 'ünï', '', 'x'.repeat(122)])(
    'refuses the identity %p (what every Voice SDK accepts: letters, digits, _)',
    async (identity) => {
      expect(expectError(await addAgent(identity, ALICE_PASSWORD), 400, 'identity-invalid').message).toMatch(
        /iOS and Android/,
      );
    },
  );

  it('refuses a short password, a taken identity and a bad display name', async () => {
    expectError(await addAgent('alice', 'short'), 400, 'password-invalid');
    expect((await addAgent('alice', ALICE_PASSWORD)).statusCode).toBe(201);
    expectError(await addAgent('alice', ALICE_PASSWORD), 409, 'agent-exists');
    expectError(await addAgent('dave', ALICE_PASSWORD, 'x'.repeat(65)), 400, 'display-name-invalid');
    expectError(await addAgent('dave', ALICE_PASSWORD, 'bad\u0007name'), 400, 'display-name-invalid');
  });

  it('every agent route needs an operator session', async () => {
    await addAgent('alice', ALICE_PASSWORD);
    const agentSession = await sessionOf('alice', ALICE_PASSWORD);
    for (const headers of [{}, bearer('nope'), bearer(agentSession), bearer(TOKEN_SECRET)]) {
      expectError(await call(listHandler, '/operator-agents', {}, headers), 401, 'operator-session-invalid');
      expectError(
        await call(addHandler, '/operator-agents-add', { identity: 'eve', password: ALICE_PASSWORD }, headers),
        401,
        'operator-session-invalid',
      );
      expectError(
        await call(updateHandler, '/operator-agents-update', { identity: 'alice', action: 'disable' }, headers),
        401,
        'operator-session-invalid',
      );
    }
    expect((await signIn('alice', ALICE_PASSWORD)).statusCode).toBe(200);
  });

  it('refuses an unknown action and an unknown agent', async () => {
    const op = await operator();
    await addAgent('alice', ALICE_PASSWORD);
    expectError(
      await call(updateHandler, '/operator-agents-update', { identity: 'alice', action: 'delete' }, op),
      400,
      'action-invalid',
    );
    expectError(
      await call(updateHandler, '/operator-agents-update', { identity: 'nobody', action: 'disable' }, op),
      404,
      'agent-not-found',
    );
  });
});

describe('agent sign-in and /token', () => {
  beforeEach(async () => {
    await addAgent('alice', ALICE_PASSWORD, 'Alice');
    await addAgent('bob', 'bob-password-long');
  });

  it('signs in with the right password and gets a token for its own identity only', async () => {
    const res = await signIn('alice', ALICE_PASSWORD);
    expect(res.statusCode).toBe(200);
    const body = res.body as { session: string; identity: string; displayName: string; expiresAt: string };
    expect(body).toMatchObject({ identity: 'alice', displayName: 'Alice' });
    const hours = (Date.parse(body.expiresAt) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(7.9);
    expect(hours).toBeLessThanOrEqual(8);

    const token = await call(tokenHandler, '/token', {}, bearer(body.session));
    expect(token.statusCode).toBe(200);
    expect((token.body as { identity: string }).identity).toBe('alice');
    expect(tokenIdentity(token)).toBe('alice');
    // Naming its own identity is fine; anyone else's (CLIENT_IDENTITY included) is not.
    expect(tokenIdentity(await call(tokenHandler, '/token', { identity: 'alice' }, bearer(body.session)))).toBe(
      'alice',
    );
    for (const identity of ['bob', 'support', 'alice.x']) {
      expectError(await call(tokenHandler, '/token', { identity }, bearer(body.session)), 403, 'identity-not-yours');
    }
  });

  it('answers a wrong password and an unknown identity the same way', async () => {
    const wrong = expectError(await signIn('alice', 'not the password'), 401, 'sign-in-invalid');
    const unknown = expectError(await signIn('mallory', ALICE_PASSWORD), 401, 'sign-in-invalid');
    expect(unknown).toEqual(wrong);
    expectError(await signIn('alice', ''), 400, 'password-invalid');
    expectError(await signIn('al.ice', ALICE_PASSWORD), 400, 'identity-invalid');
  });

  it('refuses /token without a session, with a forged or foreign one, and with a bad secret', async () => {
    const session = await sessionOf('alice', ALICE_PASSWORD);
    const [payload, signature] = session.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(defined(payload), 'base64url').toString()), sub: 'bob' }),
    ).toString('base64url');
    for (const headers of [
      {},
      bearer(`${forged}.${signature}`),
      bearer(`${session}x`),
      bearer(TOKEN_SECRET.slice(0, -1)),
      { authorization: session },
    ]) {
      expectError(await call(tokenHandler, '/token', { identity: 'alice' }, headers), 403, 'token-auth-invalid');
    }
    // A session signed under another Auth Token (another account, or a rotated token) is not valid here.
    expectError(
      await call(tokenHandler, '/token', {}, bearer(session), { AUTH_TOKEN: 'another-auth-token-000000000000' }),
      403,
      'token-auth-invalid',
    );
  });

  it('keeps TOKEN_SECRET for server-to-server minting (any identity), and without it that path is off', async () => {
    const res = await call(tokenHandler, '/token', { identity: 'support' }, bearer(TOKEN_SECRET));
    expect(tokenIdentity(res)).toBe('support');
    expectError(
      await call(tokenHandler, '/token', { identity: 'support' }, bearer(TOKEN_SECRET), { TOKEN_SECRET: undefined }),
      403,
      'token-auth-invalid',
    );
    // Agents still sign in without TOKEN_SECRET.
    const session = await sessionOf('alice', ALICE_PASSWORD);
    expect(tokenIdentity(await call(tokenHandler, '/token', {}, bearer(session), { TOKEN_SECRET: undefined }))).toBe(
      'alice',
    );
  });

  it('a disabled agent cannot sign in or get a new token, and can again once enabled', async () => {
    const session = await sessionOf('bob', 'bob-password-long');
    const op = await operator();
    const disabled = await call(updateHandler, '/operator-agents-update', { identity: 'bob', action: 'disable' }, op);
    expect(disabled.statusCode).toBe(200);
    expect((disabled.body as { agent: { enabled: boolean } }).agent.enabled).toBe(false);
    expectError(await call(tokenHandler, '/token', {}, bearer(session)), 403, 'agent-disabled');
    expectError(await signIn('bob', 'bob-password-long'), 403, 'agent-disabled');
    // Only the right password learns that the agent is disabled.
    expectError(await signIn('bob', 'wrong-password-x'), 401, 'sign-in-invalid');
    await call(updateHandler, '/operator-agents-update', { identity: 'bob', action: 'enable' }, op);
    expect(tokenIdentity(await call(tokenHandler, '/token', {}, bearer(session)))).toBe('bob');
  });

  it('a password reset ends older sessions; the new password signs in, the old one does not', async () => {
    const session = await sessionOf('alice', ALICE_PASSWORD);
    const op = await operator();
    const reset = await call(
      updateHandler,
      '/operator-agents-update',
      { identity: 'alice', action: 'reset-password' },
      op,
    );
    const { password } = reset.body as { password: string };
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expectError(await call(tokenHandler, '/token', {}, bearer(session)), 403, 'token-auth-invalid');
    expectError(await signIn('alice', ALICE_PASSWORD), 401, 'sign-in-invalid');
    const fresh = await sessionOf('alice', password);
    expect(tokenIdentity(await call(tokenHandler, '/token', {}, bearer(fresh)))).toBe('alice');
    // A password the operator chooses is not echoed back.
    const chosen = await call(
      updateHandler,
      '/operator-agents-update',
      { identity: 'alice', action: 'reset-password', password: 'a-chosen-password' },
      op,
    );
    expect(chosen.body).not.toHaveProperty('password');
    expect((await signIn('alice', 'a-chosen-password')).statusCode).toBe(200);
  });
});

describe('throttling sign-ins', () => {
  const { freeFailures, firstLockSeconds, maxLockSeconds } = SIGN_IN_SLOWING;
  /** Moves the functions' clock (Date.now) and the sandbox's (Sync's TTLs) forward together. */
  let offsetMs = 0;
  const advance = (ms: number) => {
    offsetMs += ms;
    sandbox.clock.advance(ms);
  };
  beforeEach(async () => {
    offsetMs = 0;
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + offsetMs);
    await addAgent('alice', ALICE_PASSWORD);
  });

  it('locks an identity out after 5 failures (429, Retry-After), even for the right password, until the lock ends', async () => {
    for (let i = 0; i < freeFailures; i++) {
      expectError(await signIn('alice', `wrong-${i}`), 401, 'sign-in-invalid');
    }
    const locked = await signIn('alice', ALICE_PASSWORD);
    expectError(locked, 429, 'sign-in-throttled');
    const retryAfter = Number(locked.headers['Retry-After']);
    expect(retryAfter).toBeGreaterThan(firstLockSeconds - 5);
    expect(retryAfter).toBeLessThanOrEqual(firstLockSeconds);
    expect((locked.body as { retryAfter: number }).retryAfter).toBe(retryAfter);
    // Another agent is not affected.
    await addAgent('bob', 'bob-password-long');
    expect((await signIn('bob', 'bob-password-long')).statusCode).toBe(200);

    // The lock ends: the right password works again.
    advance((firstLockSeconds + 1) * 1000);
    expect((await signIn('alice', ALICE_PASSWORD)).statusCode).toBe(200);
  });

  it('locks longer after each further failure, never longer than the cap', async () => {
    const waits: number[] = [];
    for (let i = 0; i < freeFailures + 6; i++) {
      const res = await signIn('alice', `wrong-${i}`);
      if (i < freeFailures - 1) expectError(res, 401, 'sign-in-invalid');
      // Each guess past the free ones is answered only once the lock of the one before has ended.
      if (i >= freeFailures - 1) {
        expectError(res, 401, 'sign-in-invalid');
        const locked = await signIn('alice', ALICE_PASSWORD);
        expectError(locked, 429, 'sign-in-throttled');
        waits.push(Number(locked.headers['Retry-After']));
        advance((Number(locked.headers['Retry-After']) + 1) * 1000);
      }
    }
    expect(waits.map((w) => Math.ceil(w / 60))).toEqual([1, 2, 4, 8, 15, 15, 15]);
    expect(Math.max(...waits)).toBeLessThanOrEqual(maxLockSeconds);
    expect((await signIn('alice', ALICE_PASSWORD)).statusCode).toBe(200);
  }, 30_000);

  it('a successful sign-in clears the identity failures', async () => {
    for (let i = 0; i < freeFailures - 1; i++) expectError(await signIn('alice', `wrong-${i}`), 401, 'sign-in-invalid');
    expect((await signIn('alice', ALICE_PASSWORD)).statusCode).toBe(200);
    for (let i = 0; i < freeFailures - 1; i++) expectError(await signIn('alice', `wrong-${i}`), 401, 'sign-in-invalid');
    expect((await signIn('alice', ALICE_PASSWORD)).statusCode).toBe(200);
  }, 30_000);

  it('failures at identities that do not exist lock no one out and write nothing to Sync', async () => {
    const writes = sandbox.writeCount();
    // Ten strangers' guesses each at made-up identities and at one identity that does not exist
    // (scrypt runs for each: 20 keep the test short; the integration suite sends 1,000).
    for (let i = 0; i < 10; i++) {
      expectError(await signIn(`guess${i}`, 'whatever-password'), 401, 'sign-in-invalid');
      expectError(await signIn('nobody', `whatever-${i}`), 401, 'sign-in-invalid');
    }
    expect(sandbox.writeCount()).toBe(writes);
    expect((await signIn('alice', ALICE_PASSWORD)).statusCode).toBe(200);
    expect((await call(operatorSessionHandler, '/operator-session', { secret: OPERATOR_SECRET })).statusCode).toBe(200);
  }, 30_000);

  it('throttles the operator sign-in the same way, for the capped time only', async () => {
    for (let i = 0; i < freeFailures; i++) {
      expectError(
        await call(operatorSessionHandler, '/operator-session', { secret: `wrong-${i}` }),
        403,
        'operator-secret-invalid',
      );
    }
    const locked = await call(operatorSessionHandler, '/operator-session', { secret: OPERATOR_SECRET });
    expectError(locked, 429, 'sign-in-throttled');
    expect(Number(locked.headers['Retry-After'])).toBeGreaterThan(0);
    expect(Number(locked.headers['Retry-After'])).toBeLessThanOrEqual(maxLockSeconds);
    advance((firstLockSeconds + 1) * 1000);
    expect((await call(operatorSessionHandler, '/operator-session', { secret: OPERATOR_SECRET })).statusCode).toBe(200);
  });
});

describe('a password hash from older parameters', () => {
  it("signs in with it, then stores it again at today's parameters (same credential, sessions still valid)", async () => {
    await addAgent('alice', ALICE_PASSWORD);
    const items = sandbox.client.sync.v1.services('default').syncMaps(AGENTS_MAP).syncMapItems;
    const before = (await items('alice').fetch()).data as AgentRecord;
    // What earlier versions wrote: N=2^14, r=8, p=1.
    const old = legacyPasswordHash(ALICE_PASSWORD);
    await items('alice').update({ data: { ...before, password: old } });
    const session = await sessionOf('alice', ALICE_PASSWORD);
    const after = (await items('alice').fetch()).data as AgentRecord;
    expect(after.password).not.toEqual(old);
    expect(needsRehash(after.password)).toBe(false);
    expect(after.credentialId).toBe(before.credentialId);
    expect(tokenIdentity(await call(tokenHandler, '/token', {}, bearer(session)))).toBe('alice');
    // Signs in with the new hash; a wrong password still fails; nothing is rewritten again.
    expect((await signIn('alice', ALICE_PASSWORD)).statusCode).toBe(200);
    expectError(await signIn('alice', 'not the password'), 401, 'sign-in-invalid');
    expect(((await items('alice').fetch()).data as AgentRecord).password).toEqual(after.password);
  });
});

describe('shared secrets', () => {
  it.each(['TOKEN_SECRET', 'OPERATOR_SECRET', 'WEBHOOK_SHARED_KEY_SECRET'])(
    'refuses a %s shorter than 32 characters at start, naming it and not echoing it',
    async (name) => {
      const short = 'x'.repeat(31);
      for (const [handler, path] of [
        [signInHandler, '/agent-session'],
        [tokenHandler, '/token'],
      ] as const) {
        const res = await call(handler, path, { identity: 'alice', password: ALICE_PASSWORD }, {}, { [name]: short });
        const body = expectError(res, 500, 'configuration-invalid');
        expect(body.message).toContain(name);
        expect(body.message).not.toContain(short);
      }
      const ok = await call(
        operatorSessionHandler,
        '/operator-session',
        { secret: OPERATOR_SECRET },
        {},
        {
          [name]: name === 'OPERATOR_SECRET' ? OPERATOR_SECRET : 'y'.repeat(32),
        },
      );
      expect(ok.statusCode).toBe(200);
    },
  );
});
