// lib/auth/agents.ts and lib/auth/throttle.ts on their own: password hashing, agent sessions, and the sign-in
// counters against the sandbox's Sync (parallel bursts, the growing lock and its cap, Sync's approximate TTL).
import {
  hashPassword,
  issueAgentSession,
  needsRehash,
  newAgentRecord,
  verifyAgentSession,
  verifyPassword,
} from '../../lib/auth/agents';
import { HttpError } from '../../lib/shared/error-catalogue';
import { issueSession, verifySession } from '../../lib/auth/sessions';
import { counterName, lockSecondsAfter, SIGN_IN_SLOWING, SignInThrottle } from '../../lib/auth/throttle';
import { startSyncSandbox, type SyncSandbox } from '../support/sync-sandbox';
import { defined } from '../support/narrow';
import { legacyPasswordHash } from '../support/legacy-password';

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

describe('password hashing parameters', () => {
  it("writes a row of OWASP's scrypt table, within 64 MiB", async () => {
    const { N, r, p } = await hashPassword('a long enough password');
    const owasp = [
      [2 ** 17, 8, 1],
      [2 ** 16, 8, 2],
      [2 ** 15, 8, 3],
      [2 ** 14, 8, 5],
      [2 ** 13, 8, 10],
    ];
    expect(owasp).toContainEqual([N, r, p]);
    expect(128 * N * r).toBeLessThanOrEqual(64 * 1024 * 1024);
  });

  it("verifies a hash with its own parameters and asks for a rehash when they are not today's", async () => {
    const today = await hashPassword('a long enough password');
    expect(needsRehash(today)).toBe(false);
    // What earlier versions wrote: N=2^14, r=8, p=1.
    const old = legacyPasswordHash('a long enough password');
    expect(await verifyPassword('a long enough password', old)).toBe(true);
    expect(await verifyPassword('another long password', old)).toBe(false);
    expect(needsRehash(old)).toBe(true);
  });

  it('refuses a stored hash that would ask for more than 64 MiB', async () => {
    const stored = await hashPassword('a long enough password');
    expect(await verifyPassword('a long enough password', { ...stored, N: 2 ** 17 })).toBe(false);
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

describe('counter names', () => {
  it('are digests: short, valid Sync unique names whatever the account', () => {
    expect(counterName('agent.alice')).toMatch(/^cme\.throttle\.identity\.[0-9a-f]{40}$/);
    expect(counterName('agent.alice')).not.toBe(counterName('agent.bob'));
    expect(counterName('operator')).not.toBe(counterName('agent.operator'));
  });
});

describe('the slowing', () => {
  const { freeFailures, firstLockSeconds, maxLockSeconds } = SIGN_IN_SLOWING;

  it('locks nothing for the free failures, then doubles the lock up to its cap', () => {
    const locks = Array.from({ length: freeFailures + 8 }, (_, i) => lockSecondsAfter(i + 1));
    expect(locks.slice(0, freeFailures - 1)).toEqual(Array(freeFailures - 1).fill(0));
    expect(locks.slice(freeFailures - 1)).toEqual([60, 120, 240, 480, 900, 900, 900, 900, 900]);
    expect(lockSecondsAfter(freeFailures)).toBe(firstLockSeconds);
    expect(lockSecondsAfter(1e9)).toBe(maxLockSeconds);
  });

  it('lets one account be guessed 11 times in the first hour and at most 4 times an hour after', () => {
    // A guesser who tries again the moment each lock ends.
    let at = 0;
    const times: number[] = [];
    for (let failures = 0; at < 24 * 3600;) {
      times.push(at);
      failures++;
      at += lockSecondsAfter(failures);
    }
    expect(times.filter((t) => t < 3600)).toHaveLength(11);
    for (let hour = 1; hour < 24; hour++)
      expect(times.filter((t) => t >= hour * 3600 && t < (hour + 1) * 3600).length).toBeLessThanOrEqual(4);
    expect(times.length).toBeLessThanOrEqual(11 + 23 * 4);
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
  const retryAfterOf = (p: Promise<unknown>) =>
    p.then(
      () => 'counted',
      (err: unknown) => (err instanceof HttpError && err.status === 429 ? Number(err.headers?.['Retry-After']) : err),
    );

  it('counts a parallel burst as it arrives: no more than the free failures get through', async () => {
    // Every read is held back 30 ms, so all the attempts read the same count before any of them writes.
    const slow = await startSyncSandbox({}, (app) =>
      app.use((req, _res, next) => (req.method === 'GET' ? setTimeout(next, 30) : next())),
    );
    try {
      const t = () => new SignInThrottle(slow.client, { syncServiceSid: 'default' });
      const results = await Promise.all(Array.from({ length: 15 }, () => outcome(t().begin('agent.alice'))));
      const counted = results.filter((r) => r === 'counted').length;
      expect(results.filter((r) => r !== 'counted' && r !== 'throttled')).toEqual([]);
      expect(counted).toBeGreaterThan(0);
      expect(counted).toBeLessThanOrEqual(SIGN_IN_SLOWING.freeFailures);
      const doc = await slow.client.sync.v1.services('default').documents(counterName('agent.alice')).fetch();
      expect(doc.data.count).toBe(counted);
    } finally {
      await slow.close();
    }
  });

  it('costs a successful sign-in 1 Sync read and 2 writes (a fresh counter); a failed one 1 read and 1 write', async () => {
    const requests: string[] = [];
    const counting = await startSyncSandbox({}, (app) =>
      app.use((req, _res, next) => {
        requests.push(req.method);
        next();
      }),
    );
    try {
      const t = new SignInThrottle(counting.client, { syncServiceSid: 'default' });
      await (await t.begin('agent.alice')).succeeded();
      expect(requests).toEqual(['GET', 'POST', 'DELETE']);
      requests.length = 0;
      await t.begin('agent.bob'); // a failure keeps its count: nothing to give back
      await t.begin('agent.bob');
      expect(requests).toEqual(['GET', 'POST', 'GET', 'POST']);
      requests.length = 0;
      // A locked account is refused after the read alone: no write.
      for (let i = 2; i < SIGN_IN_SLOWING.freeFailures; i++) await t.begin('agent.bob');
      requests.length = 0;
      await expect(t.begin('agent.bob')).rejects.toMatchObject({ status: 429 });
      expect(requests).toEqual(['GET']);
    } finally {
      await counting.close();
    }
  });

  it('clears the account on success: its failures start again from none', async () => {
    const t = throttle();
    await t.begin('agent.alice');
    await t.begin('agent.alice');
    const ok = await t.begin('agent.alice');
    await ok.succeeded();
    await expect(documents()(counterName('agent.alice')).fetch()).rejects.toMatchObject({ status: 404 });
    for (let i = 0; i < SIGN_IN_SLOWING.freeFailures; i++) await t.begin('agent.alice');
    await expect(t.begin('agent.alice')).rejects.toMatchObject({ status: 429 });
  });

  it('locks longer after each failure past the free ones, up to the cap, and refuses without counting while locked', async () => {
    let now = Date.now();
    const t = throttle(() => now);
    for (let i = 0; i < SIGN_IN_SLOWING.freeFailures - 1; i++)
      expect(await outcome(t.begin('operator'))).toBe('counted');
    const waits: unknown[] = [];
    for (let failure = SIGN_IN_SLOWING.freeFailures; failure < SIGN_IN_SLOWING.freeFailures + 7; failure++) {
      expect(await outcome(t.begin('operator'))).toBe('counted');
      // Refused all through the lock, the last second too; the refusals do not lengthen it.
      waits.push(await retryAfterOf(t.begin('operator')));
      now += (lockSecondsAfter(failure) - 1) * 1000;
      expect(await retryAfterOf(t.begin('operator'))).toBe(1);
      now += 1000;
    }
    expect(waits).toEqual([60, 120, 240, 480, 900, 900, 900]);
    const doc = await documents()(counterName('operator')).fetch();
    expect(doc.data.count).toBe(SIGN_IN_SLOWING.freeFailures + 6);
  });

  it('never locks for longer than the cap, whatever the counter says', async () => {
    const now = Date.now();
    await documents().create({
      uniqueName: counterName('operator'),
      data: {
        count: 50,
        lockedUntil: new Date(now + 30 * 24 * 3600_000).toISOString(),
        forgetAt: new Date(now + 3600_000).toISOString(),
      },
    });
    expect(await retryAfterOf(throttle(() => now).begin('operator'))).toBe(SIGN_IN_SLOWING.maxLockSeconds);
  });

  it('forgets the failures a day after the last one, even while Sync still holds the counter', async () => {
    let now = Date.now();
    const t = throttle(() => now);
    for (let i = 0; i < SIGN_IN_SLOWING.freeFailures; i++) await t.begin('operator');
    await expect(t.begin('operator')).rejects.toMatchObject({ status: 429 });
    // Our clock passes the day; Sync's TTL (approximate) has not removed the document yet.
    now += SIGN_IN_SLOWING.forgetAfterSeconds * 1000 + 1000;
    await t.begin('operator');
    const doc = await documents()(counterName('operator')).fetch();
    expect(doc.data.count).toBe(1);
    expect(Date.parse(doc.data.forgetAt as string)).toBe(now + SIGN_IN_SLOWING.forgetAfterSeconds * 1000);
  });
});
