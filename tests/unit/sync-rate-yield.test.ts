// Who gets a leg's Map under Sync's per-object rate (issue 20, Must 5): `yieldingOnRateLimit` (a
// send, which its caller can retry) stops retrying a 429 / 54009 after its patience, while the
// plain store (a message callback, which has only Twilio's 15 s of retries) keeps retrying.
import type express from 'express';
import { CallStore } from '../../lib/store/call-store';
import { isSyncRateLimited } from '../../lib/platform/errors';
import { callSid } from '../../testing/sids';
import { startSyncSandbox, type SyncSandbox } from '../support/sync-sandbox';

const LEG = callSid(0x51);
let sandbox: SyncSandbox;
let refusing = true;
let refusals = 0;

/** Every item write to LEG's Map is refused for Sync's rate while `refusing`. */
const rateLimitItemWrites = (app: express.Express) =>
  app.post(/\/Maps\/[^/]+\/Items$/, (req, res, next) => {
    if (!refusing || !req.path.toLowerCase().includes(LEG.toLowerCase())) return next();
    refusals++;
    res.status(429).json({ code: 54009, message: 'Rate limit exceeded', status: 429 });
  });

beforeAll(async () => {
  sandbox = await startSyncSandbox({}, rateLimitItemWrites);
});
afterAll(() => sandbox.close());
beforeEach(() => {
  refusing = true;
  refusals = 0;
});

const config = { syncServiceSid: 'default', finishedCallTtl: 600, activeCallTtl: 3600 };

it('gives up on Sync’s rate after its patience, not at the deadline', async () => {
  const store = new CallStore(sandbox.client, config, Date.now() + 8000).yieldingOnRateLimit(300);
  const started = Date.now();
  const err: unknown = await store.claimSend(LEG, 'key-1', new Date()).catch((e: unknown) => e);
  expect(isSyncRateLimited(err)).toBe(true);
  // One backoff (≤ 1 s) may start just before the patience ends.
  expect(Date.now() - started).toBeLessThan(1500);
  expect(refusals).toBeGreaterThanOrEqual(2);
});

it('without it, keeps retrying the rate limit while the deadline allows', async () => {
  const store = new CallStore(sandbox.client, config, Date.now() + 8000);
  const started = Date.now();
  setTimeout(() => (refusing = false), 1200);
  const claim = await store.claimSend(LEG, 'key-2', new Date());
  expect(claim.outcome).toBe('claimed');
  expect(Date.now() - started).toBeGreaterThanOrEqual(1200);
});

it('keeps its patience through withDeadline', async () => {
  const store = new CallStore(sandbox.client, config, Date.now() + 8000).yieldingOnRateLimit(300);
  const started = Date.now();
  const err: unknown = await store
    .withDeadline(Date.now() + 7000)
    .claimSend(LEG, 'key-3', new Date())
    .catch((e: unknown) => e);
  expect(err).toMatchObject({ status: 429, code: 54009 });
  expect(Date.now() - started).toBeLessThan(1500);
});
