// lib/auth/agents.ts and lib/auth/throttle.ts on their own: password hashing, agent sessions, and the sign-in
// counters against the sandbox's Sync (parallel bursts, windows, Sync's approximate TTL).
import {
  hashPassword,
  issueAgentSession,
  newAgentRecord,
  verifyAgentSession,
  verifyPassword,
} from '../../lib/auth/agents';
import { HttpError } from '../../lib/shared/error-catalogue';
import { issueSession, verifySession } from '../../lib/auth/sessions';
import { counterName, requestSource, SignInThrottle, THROTTLE_LIMITS } from '../../lib/auth/throttle';
import { startSyncSandbox, type SyncSandbox } from '../support/sync-sandbox';
import { defined } from '../support/narrow';

describe('passwords', () => {
  it('hashes with a fresh salt each time and verifies only the same password', async () => {
    const a = await hashPassword('a long enough password');
    const b = await hashPassword('a long enough password');
    expect(a.salt).not.toBe(b.salt);
    expect(a.hash).not.toBe(b.hash);
    expect(await verifyPassword('a long enough password', a)).toBe(true);
    expect(await verifyPassword('a long enough password', b)).toBe(true);
    expect(await verifyPassword('a long enough passworD', a)).toBe(false);
    expect(await verifyPassword('', a)).toBe(false);
  });

  it('treats composed and decomposed accents as the same password (NFC)', async () => {
    const stored = await hashPassword('caf\u00e9-caf\u00e9-caf\u00e9');
    expect(await verifyPassword('cafe\u0301-cafe\u0301-cafe\u0301', stored)).toBe(true);
  });

  it('fails without a record (the decoy) and for a hash it did not write', async () => {
    expect(await verifyPassword('anything', undefined)).toBe(false);
    const stored = await hashPassword('a long enough password');
    expect(await verifyPassword('a long enough password', { ...stored, N: 3 })).toBe(false);
    expect(await verifyPassword('a long enough password', { ...stored, scheme: 'md5' as 'scrypt' })).toBe(false);
  });
});

describe('agent sessions', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  let record: Awaited<ReturnType<typeof newAgentRecord>>;
  beforeAll(async () => {
    record = await newAgentRecord('alice', 'Alice', 'a long enough password');
  });

  it('carry the identity and credential, for 8 hours, under this Auth Token only', () => {
    const s = issueAgentSession('auth-a', record, now);
    expect(s).toMatchObject({ identity: 'alice', displayName: 'Alice', expiresAt: '2030-01-01T08:00:00.000Z' });
    expect(verifyAgentSession(s.session, 'auth-a', now + 8 * 3600_000 - 1000)).toEqual({
      identity: 'alice',
      credentialId: record.credentialId,
    });
    expect(verifyAgentSession(s.session, 'auth-a', now + 8 * 3600_000)).toBeUndefined();
    expect(verifyAgentSession(s.session, 'auth-b', now)).toBeUndefined();
  });

  it('are not operator sessions, and operator sessions are not agent sessions', () => {
    const agent = issueAgentSession('auth-a', record, now).session;
    const op = issueSession('auth-a', 'operator-secret', now).session;
    expect(verifySession(agent, 'auth-a', 'operator-secret', now)).toBeUndefined();
    expect(verifyAgentSession(op, 'auth-a', now)).toBeUndefined();
  });

  it('refuse a changed payload, extra parts and non-strings', () => {
    const { session } = issueAgentSession('auth-a', record, now);
    const [payload, signature] = session.split('.');
    const claims = JSON.parse(Buffer.from(defined(payload), 'base64url').toString());
    const forge = (c: object) => `${Buffer.from(JSON.stringify(c)).toString('base64url')}.${signature}`;
    expect(verifyAgentSession(forge({ ...claims, sub: 'bob' }), 'auth-a', now)).toBeUndefined();
    expect(verifyAgentSession(forge({ ...claims, exp: claims.exp + 3600 }), 'auth-a', now)).toBeUndefined();
    expect(verifyAgentSession(`${session}.x`, 'auth-a', now)).toBeUndefined();
    for (const v of [undefined, 42, [session], 'x'.repeat(2000)])
      expect(verifyAgentSession(v, 'auth-a', now)).toBeUndefined();
  });
});

describe('requestSource', () => {
  it.each([
    [{ 'x-forwarded-for': '203.0.113.7, 10.0.0.1' }, '203.0.113.7'],
    [{ 'x-forwarded-for': ' 2001:DB8::1 ' }, '2001:db8::1'],
    [{ 'x-forwarded-for': ['198.51.100.2', '10.0.0.1'] }, '198.51.100.2'],
    [{ 'x-forwarded-for': 'evil/../x' }, 'unknown'],
    [{ 'x-forwarded-for': 'a'.repeat(100) }, 'unknown'],
    [{}, 'unknown'],
  ])('%p → %p', (headers, source) => {
    expect(requestSource(headers)).toBe(source);
  });

  it('names counters by digest: short, valid Sync unique names whatever the input', () => {
    const name = counterName('source', '2001:db8::1');
    expect(name).toMatch(/^cme\.throttle\.source\.[0-9a-f]{40}$/);
    expect(counterName('identity', 'agent.alice')).not.toBe(counterName('identity', 'agent.bob'));
    expect(counterName('identity', 'x')).not.toBe(counterName('source', 'x'));
  });
});

describe('SignInThrottle over Sync', () => {
  let sandbox: SyncSandbox;
  const throttle = (now?: () => number) =>
    new SignInThrottle(sandbox.client, { syncServiceSid: 'default' }, undefined, now);
  const documents = () => sandbox.client.sync.v1.services('default').documents;

  beforeAll(async () => {
    sandbox = await startSyncSandbox();
  });
  afterAll(() => sandbox.close());
  beforeEach(() => sandbox.reset());

  const outcome = (p: Promise<unknown>) =>
    p.then(
      () => 'counted',
      (err: unknown) => (err instanceof HttpError && err.status === 429 ? 'throttled' : `error ${String(err)}`),
    );

  it('counts a parallel burst as it arrives: no more than the limit get through', async () => {
    // Every read is held back 30 ms, so all the attempts read the same count before any of them writes.
    const slow = await startSyncSandbox({}, (app) =>
      app.use((req, _res, next) => (req.method === 'GET' ? setTimeout(next, 30) : next())),
    );
    try {
      const t = () => new SignInThrottle(slow.client, { syncServiceSid: 'default' });
      const results = await Promise.all(
        Array.from({ length: 15 }, (_, i) => outcome(t().begin('agent.alice', `192.0.2.${i}`))),
      );
      const counted = results.filter((r) => r === 'counted').length;
      expect(results.filter((r) => r !== 'counted' && r !== 'throttled')).toEqual([]);
      expect(counted).toBeGreaterThan(0);
      expect(counted).toBeLessThanOrEqual(THROTTLE_LIMITS.identity.attempts);
      const doc = await slow.client.sync.v1
        .services('default')
        .documents(counterName('identity', 'agent.alice'))
        .fetch();
      expect(doc.data.count).toBe(counted);
    } finally {
      await slow.close();
    }
  });

  it('costs a successful sign-in 4 Sync writes and no read (fresh counters); a failed one 2 writes', async () => {
    const requests: string[] = [];
    const counting = await startSyncSandbox({}, (app) =>
      app.use((req, _res, next) => {
        requests.push(req.method);
        next();
      }),
    );
    try {
      const t = new SignInThrottle(counting.client, { syncServiceSid: 'default' });
      await (await t.begin('agent.alice', 'src-1')).succeeded();
      expect(requests.sort()).toEqual(['DELETE', 'POST', 'POST', 'POST']);
      requests.length = 0;
      await t.begin('agent.bob', 'src-2'); // a failure keeps its count: nothing to give back
      expect(requests).toEqual(['POST', 'POST']);
    } finally {
      await counting.close();
    }
  });

  it('gives a successful attempt back: the identity is cleared, the source keeps earlier failures', async () => {
    const t = throttle();
    await t.begin('agent.alice', 'src');
    await t.begin('agent.alice', 'src');
    const ok = await t.begin('agent.alice', 'src');
    await ok.succeeded();
    await expect(documents()(counterName('identity', 'agent.alice')).fetch()).rejects.toMatchObject({ status: 404 });
    expect((await documents()(counterName('source', 'src')).fetch()).data.count).toBe(2);
  });

  it('refuses with the longer wait of the two counters', async () => {
    let now = Date.now();
    const t = throttle(() => now);
    for (let i = 0; i < THROTTLE_LIMITS.source.attempts; i++) await t.begin(`agent.u${i}`, 'busy-source');
    now += 60_000;
    const err = await t.begin('agent.fresh', 'busy-source').catch((e: HttpError) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).headers).toEqual({ 'Retry-After': String(THROTTLE_LIMITS.source.windowSeconds - 60) });
  });

  it('starts a new window once the old one has ended, even while Sync still holds the expired counter', async () => {
    let now = Date.now();
    const t = throttle(() => now);
    for (let i = 0; i < THROTTLE_LIMITS.identity.attempts; i++) await t.begin('operator', `s${i}`);
    await expect(t.begin('operator', 'sX')).rejects.toMatchObject({ status: 429 });
    // Our clock passes the window; Sync's TTL (approximate) has not removed the document yet.
    now += THROTTLE_LIMITS.identity.windowSeconds * 1000 + 1000;
    await t.begin('operator', 'sY');
    const doc = await documents()(counterName('identity', 'operator')).fetch();
    expect(doc.data.count).toBe(1);
    expect(Date.parse(doc.data.until as string)).toBe(now + THROTTLE_LIMITS.identity.windowSeconds * 1000);
  });
});
