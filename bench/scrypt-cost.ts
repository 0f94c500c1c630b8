// The cost of one password check, as a sign-in pays it (`npx tsx bench/scrypt-cost.ts [runs]`):
// hashing at today's parameters, verifying a right and a wrong password, the decoy an unknown
// identity runs, and a hash stored at the old parameters (N=2^14, r=8, p=1). One at a time, median.
import { randomBytes, scryptSync } from 'node:crypto';
import { hashPassword, verifyPassword, type PasswordHash } from '../lib/auth/agents';
import { median } from './stats';

const runs = Number(process.argv[2] ?? 15);
const password = 'a sign-in password';

async function timed(what: string, op: () => Promise<unknown>): Promise<void> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    await op();
    ms.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  const [min, max] = [Math.min(...ms), Math.max(...ms)].map((v) => v.toFixed(1));
  console.log(`${what.padEnd(40)} median ${median(ms).toFixed(1)} ms (min ${min}, max ${max})`);
}

async function main(): Promise<void> {
  const stored = await hashPassword(password);
  const salt = randomBytes(16);
  const old: PasswordHash = {
    scheme: 'scrypt',
    N: 16_384,
    r: 8,
    p: 1,
    salt: salt.toString('base64'),
    hash: scryptSync(password, salt, 32, { N: 16_384, r: 8, p: 1 }).toString('base64'),
  };
  const mib = (128 * stored.N * stored.r) / 2 ** 20;
  console.log(`scrypt N=${stored.N} r=${stored.r} p=${stored.p}: ${mib} MiB; ${runs} runs each`);
  await timed('hash (add an agent, reset, rehash)', () => hashPassword(password));
  await timed('verify: right password', () => verifyPassword(password, stored));
  await timed('verify: wrong password', () => verifyPassword('another password', stored));
  await timed('verify: unknown identity (the decoy)', () => verifyPassword(password, undefined));
  await timed('verify: old hash (N=2^14, r=8, p=1)', () => verifyPassword(password, old));
}

void main();
