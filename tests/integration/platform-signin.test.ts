// Issue #20, Must 2: sign-in throttling when the functions never learn the client's address
// (Twilio strips X-Forwarded-For and X-Real-IP before a Function runs: TWILIO-FACTS §9). A
// stranger's failed sign-ins at identities that are not theirs lock no one else out and cost no
// Sync write; guessing one agent's password is slowed by that agent's own counter; an unknown
// identity is answered no faster than a wrong password. Over real twilio-run and the sandbox.
import { lockSecondsAfter, SIGN_IN_SLOWING } from '../../lib/auth/throttle';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import type { SeedAgent } from '../../sandbox/agents-seed';
import { useTestStack } from '../support/stack';

/** The sandbox's two agents and twenty more: every one must sign in at the first try. */
const AGENTS: readonly SeedAgent[] = [
  ...SANDBOX_DEFAULTS.agents,
  ...Array.from({ length: 20 }, (_, i) => ({
    identity: `agent${i}`,
    displayName: `Agent ${i}`,
    password: `agent-${i}-sandbox-password`,
  })),
];
const STRANGERS_FAILURES = 1000;
/** Requests in flight at once: as a script from one client would send them. */
const IN_FLIGHT = 8;

const stack = useTestStack({ agents: AGENTS });

async function post(path: string, body: Record<string, string>) {
  const started = performance.now();
  const res = await fetch(`${stack.functionsUrl}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body).toString(),
  });
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  return {
    status: res.status,
    body: json,
    retryAfter: res.headers.get('retry-after'),
    ms: performance.now() - started,
  };
}
const signIn = (identity: string, password: string) => post('/agent-session', { identity, password });
const operatorSignIn = (secret: string) => post('/operator-session', { secret });

/** Sync writes the sandbox has answered from `from` on (its request log). */
const syncWritesSince = (from: number) =>
  stack.sandbox.requests.slice(from).filter((r) => r.product === 'sync' && r.method !== 'GET');

/** Runs `count` tasks, `IN_FLIGHT` at a time. */
async function inParallel<T>(count: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

const randomIdentity = () => `u${Math.random().toString(36).slice(2, 12)}`;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};

describe('sign-in with no client address', () => {
  it(`${STRANGERS_FAILURES} failed sign-ins at random identities: then every agent and the operator sign in at the first try, and the failures wrote nothing to Sync`, async () => {
    const from = stack.sandbox.requests.length;
    const failures = await inParallel(STRANGERS_FAILURES, (i) =>
      // Half at made-up identities, half at one made-up identity guessed again and again.
      signIn(i % 2 ? randomIdentity() : 'nobody_here', `guess-${i}-password`),
    );
    expect(failures.filter((f) => f.status !== 401)).toEqual([]);
    expect(new Set(failures.map((f) => f.body.code))).toEqual(new Set(['sign-in-invalid']));
    // The bound: an identity that does not exist costs no Sync write (its reads: the agent and
    // its counter, both missing).
    const writes = syncWritesSince(from);
    expect(writes.map((w) => `${w.method} ${w.route}`)).toEqual([]);

    // Every agent at once, and the operator: each at the first try.
    const [operator, ...agents] = await Promise.all([
      operatorSignIn(SANDBOX_DEFAULTS.operatorSecret),
      ...AGENTS.map((a) => signIn(a.identity, a.password)),
    ]);
    expect(operator?.status).toBe(200);
    expect(agents.map((a) => a.status)).toEqual(AGENTS.map(() => 200));
    expect(agents.map((a) => a.body.identity)).toEqual(AGENTS.map((a) => a.identity));
  }, 900_000);

  it("guessing one agent's password: one write per counted guess, then locked (the owner too) for the designed time", async () => {
    const bob = AGENTS[1];
    if (!bob) throw new Error('the agents include bob');
    const from = stack.sandbox.requests.length;
    for (let i = 0; i < SIGN_IN_SLOWING.freeFailures; i++)
      expect((await signIn(bob.identity, `wrong-guess-${i}`)).status).toBe(401);
    expect(syncWritesSince(from)).toHaveLength(SIGN_IN_SLOWING.freeFailures);

    // Locked: the guesser and the owner alike, for the first lock; the refusals write nothing.
    const refusedFrom = stack.sandbox.requests.length;
    const guess = await signIn(bob.identity, 'wrong-guess-again');
    const owner = await signIn(bob.identity, bob.password);
    for (const res of [guess, owner]) {
      expect(res.status).toBe(429);
      expect(res.body.code).toBe('sign-in-throttled');
      const retryAfter = Number(res.retryAfter);
      expect(retryAfter).toBeGreaterThan(lockSecondsAfter(SIGN_IN_SLOWING.freeFailures) - 10);
      expect(retryAfter).toBeLessThanOrEqual(lockSecondsAfter(SIGN_IN_SLOWING.freeFailures));
    }
    expect(syncWritesSince(refusedFrom)).toEqual([]);

    // Alice, the other agents and the operator are not affected.
    expect((await signIn('alice', 'alice-sandbox-password')).status).toBe(200);
    expect((await operatorSignIn(SANDBOX_DEFAULTS.operatorSecret)).status).toBe(200);
  }, 120_000);

  it('an identity that does not exist is answered no faster than a wrong password', async () => {
    const unknown: number[] = [];
    const wrong: number[] = [];
    // Alternated, one at a time, so both see the same machine; two wrong guesses per agent stay
    // below the free failures.
    for (const [i, agent] of AGENTS.slice(2).entries()) {
      for (let guess = 0; guess < 2; guess++) {
        const u = await signIn(randomIdentity(), `guess-${i}-password`);
        const w = await signIn(agent.identity, `guess-${i}-password`);
        expect([u.status, w.status]).toEqual([401, 401]);
        unknown.push(u.ms);
        wrong.push(w.ms);
      }
    }
    const [unknownMs, wrongMs] = [median(unknown), median(wrong)];
    console.log(
      `sign-in timing: unknown identity median ${unknownMs.toFixed(0)} ms, wrong password ${wrongMs.toFixed(0)} ms`,
    );
    // The decoy runs scrypt at today's cost; the counter's write runs alongside the real one.
    expect(unknownMs).toBeGreaterThan(wrongMs * 0.75);
  }, 300_000);
});
