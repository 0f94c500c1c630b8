import fc from 'fast-check';
import type express from 'express';
import {
  CallStore,
  CLAIM_STALE_MS,
  SEND_UNKNOWN_SETTLE_MS,
  inboundKey,
  legMapName,
  outboundKey,
  shortHash,
  splitForSync,
  type StoredMessage,
  type HistoryCursor,
  type HistoryPage,
} from '../../lib/store/call-store';
import type { SdkLeg } from '../../lib/calls/legs';
import { REQUEST_TIMEOUT_MS } from '../../lib/platform/retry';
import { sendClaimKey } from '../../lib/store/keys';
import { startSyncSandbox, type SyncSandbox } from '../support/sync-sandbox';
import { defined } from '../support/narrow';
import { createHash } from 'node:crypto';
import { callSid, messageSid } from '../../testing/sids';
import { CONSOLE_INDEX_MAPS, consoleIndexMapOf } from '../../lib/shared/sync-names';

const PARENT = callSid(0xa);
const CHILD = callSid(0xb);
const ACTIVE_TTL = 7200;
const FINISHED_TTL = 600;

/**
 * Sync's code for a missing Map is not reliable (20404 in production code, 54300 in Twilio's Sync SDK
 * tests, 54200 in the dictionary): every test here runs under each, rewritten on the way out.
 */
let missingMapCode = 54200;
const rewriteMissingMapCode = (app: express.Express) =>
  app.use((_req, res, next) => {
    const send = res.json.bind(res);
    res.json = (body: { code?: number; status?: number }) => {
      if (res.statusCode === 404 && body?.code === 54200) body = { ...body, code: missingMapCode };
      return send(body);
    };
    next();
  });

let sandbox: SyncSandbox;
let store: CallStore;

beforeAll(async () => {
  sandbox = await startSyncSandbox({}, rewriteMissingMapCode);
  store = new CallStore(sandbox.client, {
    syncServiceSid: 'default',
    finishedCallTtl: FINISHED_TTL,
    activeCallTtl: ACTIVE_TTL,
  });
});
afterAll(() => sandbox.close());
beforeEach(() => sandbox.reset());

const leg: SdkLeg = {
  callSid: PARENT,
  role: 'parent',
  identity: 'alice',
  peer: '+442071234567',
  parentCallSid: PARENT,
};
const map = (callSid: string) => sandbox.client.sync.v1.services('default').syncMaps(legMapName(callSid));

/** Seconds from now until the leg's Map expires. */
async function mapExpiresIn(callSid: string): Promise<number> {
  const fetched = await map(callSid).fetch();
  expect(fetched.dateExpires).toBeInstanceOf(Date);
  return (fetched.dateExpires.getTime() - sandbox.clock.now()) / 1000;
}

const inbound = (seq: number, over: Partial<Omit<StoredMessage, 'sid'>> = {}) => ({
  sid: messageSid(seq + 1),
  callSid: PARENT,
  direction: 'from-sdk' as const,
  sequence: seq,
  contentType: 'application/json',
  content: `{"n":"in${seq}"}`,
  timestamp: new Date(Date.UTC(2024, 0, 1, 0, 0, seq * 2)).toISOString(),
  ...over,
});

/** Sends a to-SDK message the way /send-message does: claim the key, then record at the claimed time. */
async function saveOutbound(n: number, atSeconds: number, content = `{"n":"out${n}"}`) {
  const idempotencyKey = `key-${n}`;
  const claim = await store.claimSend(PARENT, idempotencyKey, new Date(Date.UTC(2024, 0, 1, 0, 0, atSeconds)));
  if (claim.outcome !== 'claimed') throw new Error(`claim ${claim.outcome}`);
  const message = {
    sid: messageSid(1000 + n),
    callSid: PARENT,
    direction: 'to-sdk' as const,
    contentType: 'application/json',
    content,
    timestamp: new Date(claim.sentAtMs).toISOString(),
    idempotencyKey,
  };
  await store.saveOutbound(message, claim.sentAtMs);
  return message;
}

/** Every page of the history, with how many Sync requests each one cost. */
async function readAll(order: 'asc' | 'desc', pageSize: number) {
  const pages = [];
  let cursor: HistoryCursor | undefined = { order };
  while (cursor) {
    const before = sandbox.requestCount();
    const page = await store.readHistory(PARENT, cursor, pageSize);
    if (!page) throw new Error('no history');
    pages.push({ ...page, requests: sandbox.requestCount() - before });
    cursor = page.next;
  }
  return pages;
}

describe.each([20404, 54200, 54300])('with Sync answering a missing Map with 404 / %i', (code) => {
  beforeEach(() => {
    missingMapCode = code;
  });

  it('creates the Map when a message arrives before any state (the callback overtook initiated)', async () => {
    expect(await store.saveInbound(inbound(1))).toBe('stored');
    expect(await store.saveInbound(inbound(1))).toBe('duplicate');
    expect(await mapExpiresIn(PARENT)).toBeCloseTo(ACTIVE_TTL, -1);
  });

  it('claims a subscription on a leg with no Map yet', async () => {
    const claim = await store.claimSubscription(leg, 'in-progress', new Date());
    expect(claim.action).toBe('subscribe');
    expect((await store.readState(PARENT))?.subscription?.status).toBe('claimed');
  });

  it('records an end that overtook everything', async () => {
    await store.markFinished(leg, 'completed', new Date(), 3);
    expect(await store.readState(PARENT)).toMatchObject({ status: 'completed', durationSeconds: 3 });
  });

  it('reads an unknown leg as missing: no state, no history', async () => {
    expect(await store.readState(CHILD)).toBeUndefined();
    expect(await store.readHistory(CHILD, { order: 'asc' }, 10)).toBeUndefined();
  });

  it('claims a send on a leg with no Map yet', async () => {
    expect((await store.claimSend(CHILD, 'k', new Date())).outcome).toBe('claimed');
  });
});

describe('keys', () => {
  it('names the Map after the leg and orders messages by their keys', () => {
    expect(legMapName(PARENT)).toBe(`cme.call.${PARENT.toLowerCase()}`);
    expect(inboundKey(7, messageSid(1))).toBe(`from-sdk.0000000007.${messageSid(1)}`);
    expect(outboundKey(1_700_000_000_000, 'k')).toMatch(/^to-sdk-r\.8299999999999\.[0-9a-f]{24}$/);
    // Sync lists keys in lexicographic order: from-SDK oldest first < state < to-SDK newest first <
    // send claims (and the previous scheme's to-SDK keys, which are not read, after them all).
    const keys = [
      outboundKey(1, 'a'),
      outboundKey(2, 'b'),
      'state',
      inboundKey(10, messageSid(1)),
      inboundKey(9, messageSid(2)),
    ];
    expect([...keys, '~send.x'].sort()).toEqual([
      inboundKey(9, messageSid(2)),
      inboundKey(10, messageSid(1)),
      'state',
      outboundKey(2, 'b'),
      outboundKey(1, 'a'),
      '~send.x',
    ]);
    expect(['to-sdk.1700000000000.x', ...keys].sort().at(-1)).toBe('to-sdk.1700000000000.x');
  });
});

describe('claimSubscription', () => {
  it('lets exactly one of many concurrent callbacks subscribe a leg', async () => {
    const at = new Date();
    const claims = await Promise.all(
      (['initiated', 'ringing', 'ringing', 'in-progress', 'in-progress', 'in-progress'] as const).map((s) =>
        store.claimSubscription(leg, s, at),
      ),
    );
    expect(claims.filter((c) => c.action === 'subscribe')).toHaveLength(1);
  });

  it('starts the leg at ringing in a Map that lives for the active-call TTL, then moves it to in-progress', async () => {
    const at = new Date('2024-05-01T10:00:00Z');
    const claim = await store.claimSubscription(leg, 'ringing', at);
    if (claim.action !== 'subscribe') throw new Error('expected a claim');
    await store.recordSubscription(leg, claim.claimed, {
      status: 'subscribed',
      at: at.toISOString(),
      by: 'ringing',
      sid: 'ZY1',
    });
    expect(await store.claimSubscription(leg, 'in-progress', new Date())).toEqual({
      action: 'none',
      reason: 'subscribed',
    });
    expect(await store.readState(PARENT)).toMatchObject({
      callSid: PARENT,
      role: 'parent',
      identity: 'alice',
      status: 'in-progress',
      subscription: { status: 'subscribed', sid: 'ZY1', by: 'ringing' },
    });
    expect(await mapExpiresIn(PARENT)).toBeCloseTo(ACTIVE_TTL, -1);
  });

  it('never moves a status back: a late ringing after in-progress changes nothing', async () => {
    const claim = await store.claimSubscription(leg, 'in-progress', new Date());
    if (claim.action !== 'subscribe') throw new Error('expected a claim');
    await store.recordSubscription(leg, claim.claimed, { status: 'subscribed', at: '', by: 'in-progress' });
    expect(await store.claimSubscription(leg, 'ringing', new Date())).toEqual({ action: 'none', reason: 'subscribed' });
    expect((await store.readState(PARENT))?.status).toBe('in-progress');
  });

  it('lets a callback that found a claim in flight wait for its outcome, or for its own time to run out', async () => {
    const claim = await store.claimSubscription(leg, 'ringing', new Date());
    if (claim.action !== 'subscribe') throw new Error('expected a claim');
    expect(await store.claimSubscription(leg, 'ringing', new Date())).toEqual({ action: 'none', reason: 'in-flight' });
    // No time for a read to end before `until`: nothing is read.
    const before = sandbox.requestCount();
    expect(await store.awaitSubscription(PARENT, Date.now() + REQUEST_TIMEOUT_MS, 50)).toBeUndefined();
    expect(sandbox.requestCount()).toBe(before);
    // Time for a few reads, and the claim still in flight: it says so.
    expect(
      (await store.awaitSubscription(PARENT, Date.now() + REQUEST_TIMEOUT_MS + 300, 50))?.subscription?.status,
    ).toBe('claimed');
    const waiting = store.awaitSubscription(PARENT, Date.now() + REQUEST_TIMEOUT_MS + 5_000, 50);
    await new Promise((resolve) => setTimeout(resolve, 150));
    await store.recordSubscription(leg, claim.claimed, { status: 'subscribed', at: '', by: 'ringing', sid: 'ZY1' });
    expect((await waiting)?.subscription).toMatchObject({ status: 'subscribed', sid: 'ZY1' });
  });

  it('stops waiting on a claim once the leg has ended', async () => {
    const claim = await store.claimSubscription(leg, 'ringing', new Date());
    if (claim.action !== 'subscribe') throw new Error('expected a claim');
    const waiting = store.awaitSubscription(PARENT, Date.now() + REQUEST_TIMEOUT_MS + 5_000, 50);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const started = Date.now();
    await store.markFinished(leg, 'completed', new Date());
    expect((await waiting)?.status).toBe('completed');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('lets a later callback take over a refused or failed claim, but not a fresh one in flight', async () => {
    const first = await store.claimSubscription(leg, 'ringing', new Date());
    if (first.action !== 'subscribe') throw new Error('expected a claim');
    expect(await store.claimSubscription(leg, 'ringing', new Date())).toEqual({ action: 'none', reason: 'in-flight' });
    await store.recordSubscription(leg, first.claimed, { status: 'refused', at: '', by: 'ringing' });
    const second = await store.claimSubscription(leg, 'in-progress', new Date());
    expect(second.action).toBe('subscribe');
  });

  it('takes over a claim abandoned for longer than one invocation', async () => {
    const t0 = new Date('2024-05-01T10:00:00Z');
    expect((await store.claimSubscription(leg, 'ringing', t0)).action).toBe('subscribe');
    const later = new Date(t0.getTime() + CLAIM_STALE_MS + 1);
    expect((await store.claimSubscription(leg, 'in-progress', later)).action).toBe('subscribe');
  });

  it('never claims a finished leg, whichever callback came first', async () => {
    await store.markFinished(leg, 'completed', new Date('2024-05-01T10:05:00Z'), 42);
    for (const s of ['initiated', 'ringing', 'in-progress'] as const) {
      expect(await store.claimSubscription(leg, s, new Date())).toEqual({ action: 'none', reason: 'ended' });
    }
    expect(await store.readState(PARENT)).toMatchObject({ status: 'completed', durationSeconds: 42 });
  });

  it('keeps a final state final when the subscription outcome is recorded after it', async () => {
    const claim = await store.claimSubscription(leg, 'ringing', new Date());
    if (claim.action !== 'subscribe') throw new Error('expected a claim');
    await store.markFinished(leg, 'canceled', new Date());
    await store.recordSubscription(leg, claim.claimed, { status: 'subscribed', at: '', by: 'ringing', sid: 'ZY1' });
    expect((await store.readState(PARENT))?.status).toBe('canceled');
  });
});

describe("an identity's legs (its own Map)", () => {
  const child: SdkLeg = {
    callSid: CHILD,
    role: 'child',
    identity: 'alice',
    peer: '+15550001111',
    parentCallSid: PARENT,
  };

  it('lists the legs its callbacks reported live; an ended one is taken out as it is found', async () => {
    expect(await store.liveLegsOf('alice')).toEqual([]);
    await store.claimSubscription(leg, 'initiated', new Date());
    await store.addIdentityLeg(leg, new Date());
    await store.claimSubscription(child, 'ringing', new Date());
    await store.addIdentityLeg(child, new Date());
    await store.addIdentityLeg(child, new Date()); // again: no change
    expect((await store.liveLegsOf('alice')).map((s) => s.callSid).sort()).toEqual([PARENT, CHILD].sort());
    expect(await store.liveLegsOf('bob')).toEqual([]);
    // Its end raced its start: the state is final, the item still there.
    await store.markFinished(child, 'completed', new Date());
    expect((await store.liveLegsOf('alice')).map((s) => s.callSid)).toEqual([PARENT]);
    const items = await sandbox.client.sync.v1.services('default').syncMaps('cme.identity.alice').syncMapItems.list();
    expect(items.map((i) => i.key)).toEqual([PARENT]);
    await store.removeIdentityLeg('alice', PARENT);
    await store.removeIdentityLeg('alice', PARENT); // gone already: fine
    expect(await store.liveLegsOf('alice')).toEqual([]);
  });

  it('expires the Map with the active-call TTL from its latest leg', async () => {
    await store.addIdentityLeg(leg, new Date());
    const fetched = await sandbox.client.sync.v1.services('default').syncMaps('cme.identity.alice').fetch();
    expect((fetched.dateExpires.getTime() - sandbox.clock.now()) / 1000).toBeCloseTo(ACTIVE_TTL, -1);
  });
});

describe("the console's index of live legs (cme.calls.<n>)", () => {
  const shard = (name: string) => sandbox.client.sync.v1.services('default').syncMaps(name);

  it('adds a leg once (its shard made when missing), lists it, and takes it out at its end', async () => {
    const at = new Date();
    await store.indexLeg(leg, at);
    await store.indexLeg(leg, new Date(at.getTime() + 1000)); // again (a copy of the callback): no change
    expect(await store.indexedLegs(50)).toEqual([{ callSid: PARENT, at: at.toISOString() }]);
    const [item] = await shard(consoleIndexMapOf(PARENT)).syncMapItems.list();
    expect(item?.data).toEqual({ callSid: PARENT, role: 'parent', at: at.toISOString(), identity: 'alice' });
    // Each item ends with the active-call TTL: a leg whose end is never reported leaves by itself.
    expect((item!.dateExpires.getTime() - sandbox.clock.now()) / 1000).toBeCloseTo(ACTIVE_TTL, -1);
    await store.unindexLeg(PARENT);
    await store.unindexLeg(PARENT); // gone already: fine
    expect(await store.indexedLegs(50)).toEqual([]);
  });

  it('spreads legs over its shards and lists them across all of them, newest first, up to the limit', async () => {
    const legs = Array.from({ length: 40 }, (_, i) => callSid(0x1d0000 + i));
    const start = Date.parse('2024-05-01T10:00:00Z');
    for (const [i, sid] of legs.entries()) await store.indexLeg({ ...leg, callSid: sid }, new Date(start + i * 1000));
    const used = new Set(legs.map(consoleIndexMapOf));
    expect(used.size).toBeGreaterThan(4);
    for (const name of used) expect((await shard(name).syncMapItems.list()).length).toBeGreaterThan(0);
    const newest = legs.slice(-25).reverse();
    expect((await store.indexedLegs(25)).map((l) => l.callSid)).toEqual(newest);
    for (const sid of legs) await store.unindexLeg(sid);
    expect(await store.indexedLegs(50)).toEqual([]);
  });

  it('reads nothing from shards that do not exist yet', async () => {
    for (const name of CONSOLE_INDEX_MAPS)
      await shard(name)
        .remove()
        .catch(() => undefined);
    expect(await store.indexedLegs(50)).toEqual([]);
  });
});

describe('consoleIndexMapOf', () => {
  it('is one of the shards, the same for any case of a CallSid, and even over many calls', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 8000; i++) {
      // Twilio's CallSids are random hex: a fixed stream of them, the same on every run.
      const name = consoleIndexMapOf(`CA${createHash('sha256').update(String(i)).digest('hex').slice(0, 32)}`);
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([...CONSOLE_INDEX_MAPS].sort());
    // 1,000 expected a shard; a hash this uneven would bring back the hot object it exists to avoid.
    for (const n of counts.values()) {
      expect(n).toBeGreaterThan(850);
      expect(n).toBeLessThan(1150);
    }
    expect(consoleIndexMapOf(PARENT.toUpperCase())).toBe(consoleIndexMapOf(PARENT.toLowerCase()));
    fc.assert(fc.property(fc.string(), (s) => CONSOLE_INDEX_MAPS.includes(consoleIndexMapOf(s))));
  });
});

describe('markFinished', () => {
  it('records the final status and shortens the Map TTL to the finished-call TTL', async () => {
    await store.claimSubscription(leg, 'in-progress', new Date('2024-05-01T10:00:00Z'));
    expect(await mapExpiresIn(PARENT)).toBeGreaterThan(ACTIVE_TTL - 60);
    const end = new Date('2024-05-01T10:01:30Z');
    await store.markFinished(leg, 'completed', end, 90);
    expect(await store.readState(PARENT)).toEqual({
      callSid: PARENT,
      parentCallSid: PARENT,
      role: 'parent',
      identity: 'alice',
      peer: '+442071234567',
      status: 'completed',
      updatedAt: end.toISOString(),
      endedAt: end.toISOString(),
      durationSeconds: 90,
    });
    expect(await mapExpiresIn(PARENT)).toBeCloseTo(FINISHED_TTL, -1);
  });

  it('creates the state (with the finished TTL) for a leg that never got further', async () => {
    await store.markFinished(leg, 'busy', new Date());
    const state = await store.readState(PARENT);
    expect(state?.status).toBe('busy');
    expect(state).not.toHaveProperty('durationSeconds');
    expect(await mapExpiresIn(PARENT)).toBeCloseTo(FINISHED_TTL, -1);
  });

  it('lets the leg expire with its messages after the TTL', async () => {
    await store.claimSubscription(leg, 'in-progress', new Date());
    await store.saveInbound(inbound(1));
    await store.markFinished(leg, 'completed', new Date());
    sandbox.clock.advance((FINISHED_TTL + 1) * 1000);
    expect(await store.readHistory(PARENT, { order: 'asc' }, 10)).toBeUndefined();
    expect(await store.readState(PARENT)).toBeUndefined();
  });
});

describe('claimSend', () => {
  it('claims a key once; a retry after the record finds the message, a concurrent one is told it is in flight', async () => {
    const now = new Date('2024-05-01T10:00:00Z');
    const claims = await Promise.all([1, 2, 3].map(() => store.claimSend(PARENT, 'k1', now)));
    expect(claims.filter((c) => c.outcome === 'claimed')).toHaveLength(1);
    expect(claims.filter((c) => c.outcome === 'in-flight')).toHaveLength(2);
    const message = {
      sid: messageSid(5),
      callSid: PARENT,
      direction: 'to-sdk' as const,
      contentType: 'application/json',
      content: '{}',
      timestamp: now.toISOString(),
      idempotencyKey: 'k1',
    };
    await store.saveOutbound(message, now.getTime());
    expect(await store.claimSend(PARENT, 'k1', new Date(now.getTime() + 1000))).toEqual({
      outcome: 'already-sent',
      message,
    });
  });

  it('lets a claim whose message was never recorded be sent again once it is stale, at the same time key', async () => {
    const now = new Date('2024-05-01T10:00:00Z');
    await store.claimSend(PARENT, 'k2', now);
    expect((await store.claimSend(PARENT, 'k2', new Date(now.getTime() + 1000))).outcome).toBe('in-flight');
    expect(await store.claimSend(PARENT, 'k2', new Date(now.getTime() + 60_000))).toEqual({
      outcome: 'claimed',
      sentAtMs: now.getTime(),
    });
  });

  it('finds a send recorded under the previous key scheme (to-sdk.<ms>) before sending it again', async () => {
    const now = new Date('2024-05-01T10:00:00Z');
    await store.claimSend(PARENT, 'k3', now);
    const recorded = { sid: messageSid(6), callSid: PARENT, direction: 'to-sdk', contentType: 'application/json' };
    await map(PARENT).syncMapItems.create({
      key: `to-sdk.${now.getTime()}.${shortHash('k3')}`,
      data: { ...recorded, content: '{"before":"the upgrade"}', timestamp: now.toISOString(), parts: 1 },
    });
    expect(await store.claimSend(PARENT, 'k3', new Date(now.getTime() + 60_000))).toEqual({
      outcome: 'already-sent',
      message: { ...recorded, content: '{"before":"the upgrade"}', timestamp: now.toISOString() },
    });
  });
});

describe('claimSend after a failed attempt', () => {
  const now = new Date('2024-05-01T10:00:00Z');
  const at = (ms: number) => new Date(now.getTime() + ms);
  const claimData = async (key: string) =>
    (await map(PARENT).syncMapItems(sendClaimKey(key)).fetch()).data as Record<string, unknown>;

  it('tells a twin under way to ask again within a second, and never later than the claim is abandoned', async () => {
    await store.claimSend(PARENT, 'w1', now);
    expect(await store.claimSend(PARENT, 'w1', at(200))).toEqual({ outcome: 'in-flight', retryAfterMs: 1000 });
    expect(await store.claimSend(PARENT, 'w1', at(9_600))).toEqual({ outcome: 'in-flight', retryAfterMs: 400 });
  });

  it('takes over at once a claim whose attempt Twilio did not take, at its place in the history', async () => {
    await store.claimSend(PARENT, 'e1', now, { contentHash: 'h' });
    await store.endSendAttempt(PARENT, 'e1', { sentAtMs: now.getTime(), contentHash: 'h' });
    expect(await store.claimSend(PARENT, 'e1', at(100), { contentHash: 'h' })).toEqual({
      outcome: 'claimed',
      sentAtMs: now.getTime(),
    });
    // The claim is the new attempt's now: the next twin is told it is under way.
    expect(await claimData('e1')).toEqual({
      sentAtMs: now.getTime(),
      contentHash: 'h',
      attemptAtMs: at(100).getTime(),
    });
    expect((await store.claimSend(PARENT, 'e1', at(200), { contentHash: 'h' })).outcome).toBe('in-flight');
  });

  it('lets one of two concurrent retries take an ended claim over, the other told it is in flight', async () => {
    await store.claimSend(PARENT, 'e2', now);
    await store.endSendAttempt(PARENT, 'e2', { sentAtMs: now.getTime() });
    const retries = await Promise.all([store.claimSend(PARENT, 'e2', at(50)), store.claimSend(PARENT, 'e2', at(50))]);
    expect(retries.map((r) => r.outcome).sort()).toEqual(['claimed', 'in-flight']);
  });

  it('holds a claim whose attempt got no answer until that attempt can no longer be under way, then takes it over', async () => {
    await store.claimSend(PARENT, 'u1', now);
    const settled = await store.markOutcomeUnknown(PARENT, 'u1', { sentAtMs: now.getTime() }, at(3_000));
    expect(settled).toBe(at(3_000 + SEND_UNKNOWN_SETTLE_MS).getTime());
    expect(await claimData('u1')).toEqual({ sentAtMs: now.getTime(), outcomeUnknownAtMs: at(3_000).getTime() });
    expect(await store.claimSend(PARENT, 'u1', at(3_500))).toEqual({
      outcome: 'in-flight',
      retryAfterMs: SEND_UNKNOWN_SETTLE_MS - 500,
    });
    expect(await store.claimSend(PARENT, 'u1', new Date(settled))).toEqual({
      outcome: 'claimed',
      sentAtMs: now.getTime(),
    });
  });

  it('never takes over a claim marked sent, nor one whose message is recorded', async () => {
    await store.claimSend(PARENT, 's1', now);
    await store.markSent(PARENT, 's1', { sentAtMs: now.getTime() }, messageSid(9));
    expect(await store.claimSend(PARENT, 's1', at(60_000))).toEqual({
      outcome: 'sent-unrecorded',
      sentAtMs: now.getTime(),
      sid: messageSid(9),
    });
  });
});

describe('saveInbound / readHistory', () => {
  it('stores a message once; a repeat delivery is a duplicate', async () => {
    expect(await store.saveInbound(inbound(0))).toBe('stored');
    expect(await store.saveInbound(inbound(0))).toBe('duplicate');
    const page = await store.readHistory(PARENT, { order: 'asc' }, 10);
    expect(page?.state).toBeUndefined();
    expect(page?.messages.map((m) => m.message)).toEqual([inbound(0)]);
    expect(page?.next).toBeUndefined();
  });

  it('keeps a 10,000-character message of 3-byte characters whole (≈30 KB > the 16 KB item limit)', async () => {
    const content = JSON.stringify({ text: '€'.repeat(9989) });
    expect(content.length).toBe(10_000);
    expect(Buffer.byteLength(content)).toBeGreaterThan(16_384);
    const big = inbound(3, { content });
    expect(await store.saveInbound(big)).toBe('stored');
    const items = await map(PARENT).syncMapItems.list();
    const key = inboundKey(3, big.sid);
    expect(items.map((i) => i.key).sort()).toEqual([key, `${key}~1`, `${key}~2`]);
    for (const item of items) expect(Buffer.byteLength(JSON.stringify(item.data))).toBeLessThanOrEqual(16_384);
    expect(await store.saveInbound(big)).toBe('duplicate');
    const page = await store.readHistory(PARENT, { order: 'asc' }, 10);
    expect(page?.messages.map((m) => m.message)).toEqual([big]);
    expect(page?.messages[0]?.message).not.toHaveProperty('parts');
  });

  it.each([
    ['ASCII', 'x'],
    ['3-byte', '漢'],
    ['4-byte', '😀'],
    ['escaped', '\\"'],
  ])(
    "keeps each write of a 10,000-character %s message under 10 KiB (Sync's strictest limit starts there)",
    async (_script, char) => {
      const head = '{"t":"';
      const content = `${head}${char.repeat(Math.floor((10_000 - head.length - 2) / char.length))}"}`;
      const message = inbound(5, { content });
      await store.saveInbound(message);
      const items = await map(PARENT).syncMapItems.list();
      for (const item of items) expect(Buffer.byteLength(JSON.stringify(item.data))).toBeLessThan(10 * 1024);
      const page = await store.readHistory(PARENT, { order: 'asc' }, 10);
      expect(page?.messages.map((m) => m.message.content)).toEqual([content]);
    },
  );

  it('keeps a 10,000-character message of emoji whole, both ways', async () => {
    const content = JSON.stringify({ t: '😀'.repeat(4996) });
    await store.saveInbound(inbound(1, { content }));
    await saveOutbound(1, 10, content);
    for (const order of ['asc', 'desc'] as const) {
      const page = await store.readHistory(PARENT, { order }, 10);
      expect(page?.messages.map((m) => m.message.content)).toEqual([content, content]);
    }
  });

  it('merges both directions by time, keeping the SDK messages in SequenceNumber order, with the state', async () => {
    await store.claimSubscription(leg, 'in-progress', new Date());
    await store.saveInbound(inbound(2)); // t = 4 s
    await store.saveInbound(inbound(0)); // t = 0 s
    await saveOutbound(0, 3);
    await store.saveInbound(inbound(1)); // t = 2 s
    // SequenceNumber wins over a Timestamp that disagrees.
    await store.saveInbound(inbound(3, { timestamp: new Date(Date.UTC(2024, 0, 1)).toISOString() }));
    const page = await store.readHistory(PARENT, { order: 'asc' }, 50);
    expect(page?.state?.status).toBe('in-progress');
    expect(page?.messages.map((m) => JSON.parse(m.message.content).n)).toEqual(['in0', 'in1', 'out0', 'in2', 'in3']);
  });

  it.each([
    [1, 'asc'],
    [7, 'asc'],
    [50, 'asc'],
    [3, 'desc'],
    [50, 'desc'],
  ] as const)(
    'pages %i at a time (%s): nothing missing or doubled, at most 2 Sync requests a page',
    async (size, order) => {
      const expected: string[] = [];
      for (let i = 0; i < 40; i++) {
        await store.saveInbound(inbound(i));
        expected.push(`in${i}`);
        if (i % 3 === 0) {
          await saveOutbound(i, i * 2 + 1, `{"n":"out${i}","pad":"${'é'.repeat(i === 9 ? 9000 : 1)}"}`);
          expected.push(`out${i}`);
        }
      }
      const pages = await readAll(order, size);
      const seen = pages.flatMap((p) => p.messages.map((m) => JSON.parse(m.message.content).n as string));
      expect(seen).toEqual(order === 'asc' ? expected : [...expected].reverse());
      for (const page of pages) {
        expect(page.requests).toBeLessThanOrEqual(2);
        expect(page.messages.length).toBeLessThanOrEqual(size);
      }
    },
  );

  it('gives the state with the page that reaches the newest messages: the first descending, the last ascending', async () => {
    await store.claimSubscription(leg, 'in-progress', new Date());
    for (let i = 0; i < 120; i++) {
      await store.saveInbound(inbound(i));
      await saveOutbound(i, i * 2 + 1);
    }
    const asc = await readAll('asc', 50);
    expect(asc).toHaveLength(5);
    expect(asc[0]?.state).toBeUndefined(); // 100 items each way from the oldest: the state is not in reach
    expect(asc.at(-1)?.state?.status).toBe('in-progress');
    const desc = await readAll('desc', 50);
    expect(desc[0]?.state?.status).toBe('in-progress');
  });

  it('resumes after any message from its cursor, and finds what came later', async () => {
    for (let i = 0; i < 5; i++) await store.saveInbound(inbound(i));
    const first = await store.readHistory(PARENT, { order: 'asc' }, 50);
    const third = first?.messages[2];
    if (!third) throw new Error('expected messages');
    await saveOutbound(1, 100);
    await store.saveInbound(inbound(5));
    const later = await store.readHistory(PARENT, third.cursor, 50);
    expect(later?.messages.map((m) => JSON.parse(m.message.content).n)).toEqual(['in3', 'in4', 'in5', 'out1']);
    const caughtUp = later?.messages.at(-1)?.cursor;
    if (!caughtUp) throw new Error('expected a cursor');
    expect((await store.readHistory(PARENT, caughtUp, 50))?.messages).toEqual([]);
  });
});

describe('readHistory catching up (after=)', () => {
  /** The history as written so far, oldest first: every message's name and cursor. */
  async function everything() {
    const pages = await readAll('asc', 100);
    return pages.flatMap((p) =>
      p.messages.map((m) => ({ n: JSON.parse(m.message.content).n as string, cursor: m.cursor })),
    );
  }
  async function catchUp(cursor: HistoryCursor, pageSize = 50) {
    const before = sandbox.requestCount();
    const page = await store.readHistory(PARENT, cursor, pageSize, { catchUp: true });
    if (!page) throw new Error('no history');
    return { page, requests: sandbox.requestCount() - before };
  }

  it('costs one Sync request when nothing is new, however long the history, and brings the state', async () => {
    await store.claimSubscription(leg, 'in-progress', new Date());
    for (let i = 0; i < 150; i++) {
      await store.saveInbound(inbound(i));
      if (i % 2) await saveOutbound(i, i * 2 + 1);
    }
    const last = (await everything()).at(-1);
    if (!last) throw new Error('expected messages');
    const { page, requests } = await catchUp(last.cursor);
    expect(page.messages).toEqual([]);
    expect(page.next).toBeUndefined();
    expect(page.state?.status).toBe('in-progress');
    expect(requests).toBe(1);
  });

  it('finds what is new both ways in one request while it fits, in two when it does not', async () => {
    await store.claimSubscription(leg, 'in-progress', new Date());
    for (let i = 0; i < 30; i++) {
      await store.saveInbound(inbound(i));
      await saveOutbound(i, i * 2 + 1);
    }
    const seen = await everything();
    const cursor = defined(seen.at(-1)).cursor;
    await store.saveInbound(inbound(30)); // t = 60 s
    await saveOutbound(30, 61);
    await store.saveInbound(inbound(31)); // t = 62 s
    const few = await catchUp(cursor);
    expect(few.page.messages.map((m) => JSON.parse(m.message.content).n)).toEqual(['in30', 'out30', 'in31']);
    expect(few.requests).toBe(1);
    for (let i = 32; i < 60; i++) await saveOutbound(i, i * 2 + 1);
    const many = await catchUp(cursor, 10);
    expect(many.requests).toBe(2);
    expect(many.page.messages.map((m) => JSON.parse(m.message.content).n)).toEqual([
      'in30',
      'out30',
      'in31',
      'out32',
      'out33',
      'out34',
      'out35',
      'out36',
      'out37',
      'out38',
    ]);
  });

  it('from any cursor, follows its pages to the same messages a page token gives, each page at most 2 requests', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }),
        fc.nat(),
        fc.integer({ min: 1, max: 30 }),
        async (fromSdk, pick, pageSize) => {
          sandbox.reset();
          let seq = 0;
          for (const [i, isFromSdk] of fromSdk.entries()) {
            if (isFromSdk)
              await store.saveInbound(
                inbound(seq++, { timestamp: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString() }),
              );
            else await saveOutbound(i, i);
          }
          const all = await everything();
          const from = defined(all[pick % all.length]);
          const expected = all.slice(all.indexOf(from) + 1).map((m) => m.n);
          const names = (page: HistoryPage) => page.messages.map((m) => JSON.parse(m.message.content).n as string);
          const caughtUp = await catchUp(from.cursor, pageSize);
          expect(caughtUp.requests).toBeLessThanOrEqual(2);
          const got = names(caughtUp.page);
          for (let cursor = caughtUp.page.next; cursor;) {
            const page: HistoryPage = defined(await store.readHistory(PARENT, cursor, pageSize));
            got.push(...names(page));
            cursor = page.next;
          }
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('splitForSync', () => {
  const jsonBytes = (s: string) => Buffer.byteLength(JSON.stringify(s));
  const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
  const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

  it('returns one part when the text fits', () => {
    expect(splitForSync('{"a":1}')).toEqual(['{"a":1}']);
    expect(splitForSync('')).toEqual(['']);
  });

  it('never splits a surrogate pair and keeps each part within the limit', () => {
    const text = '😀'.repeat(50); // 4 bytes each
    const parts = splitForSync(text, 2 + 4 * 3 + 2); // room for 3 emoji, not 4
    expect(parts.join('')).toBe(text);
    for (const part of parts) {
      expect(jsonBytes(part)).toBeLessThanOrEqual(16);
      expect(isLow(part.charCodeAt(0))).toBe(false);
      expect(isHigh(part.charCodeAt(part.length - 1))).toBe(false);
      expect(part).toBe('😀'.repeat(3).slice(0, part.length));
    }
    expect(parts).toHaveLength(17);
  });

  it('counts JSON escapes: quotes and control characters take more room', () => {
    const parts = splitForSync('""""', 6); // each " is \" (2 bytes) + 2 for the quotes
    expect(parts).toEqual(['""', '""']);
    const controls = splitForSync('\u0001\u0002', 8); // \u0001 is 6 bytes
    expect(controls).toEqual(['\u0001', '\u0002']);
  });

  it('splits any text into in-limit parts that rejoin exactly, without breaking code points (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), fc.integer({ min: 10, max: 64 }), (text, max) => {
        const parts = splitForSync(text, max);
        expect(parts.join('')).toBe(text);
        for (const part of parts) expect(jsonBytes(part)).toBeLessThanOrEqual(max);
        // A part never starts with the low half of a surrogate pair nor ends with the high half.
        for (const part of parts.filter((p) => p.length > 0)) {
          expect(isLow(part.charCodeAt(0))).toBe(false);
          expect(isHigh(part.charCodeAt(part.length - 1))).toBe(false);
        }
        // Only the empty text may give an empty part.
        expect(text.length === 0 || parts.every((p) => p.length > 0)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('countMessages', () => {
  it('counts each message once, both ways: a long one in parts once, the state and send claims not', async () => {
    await store.claimSubscription(leg, 'initiated', new Date());
    await store.saveInbound(inbound(1));
    await store.saveInbound(inbound(2, { content: JSON.stringify({ long: 'x'.repeat(25_000) }) }));
    await saveOutbound(1, 10);
    await saveOutbound(2, 11, JSON.stringify({ long: 'é'.repeat(12_000) }));
    // A claim whose message was never recorded is no message.
    await store.claimSend(PARENT, 'never-recorded', new Date());
    const keys = (await map(PARENT).syncMapItems.list()).map((i) => i.key);
    expect(keys.filter((k) => k.includes('~') && !k.startsWith('~')).length).toBeGreaterThanOrEqual(3);
    expect(keys.filter((k) => k.startsWith('~send.')).length).toBe(3);
    const before = sandbox.requestCount();
    expect(await store.countMessages(PARENT)).toEqual({ count: 4, complete: true });
    expect(sandbox.requestCount() - before).toBe(1);
  });

  it('reads past 100 items, 100 a read', async () => {
    for (let seq = 1; seq <= 130; seq++) await store.saveInbound(inbound(seq));
    const before = sandbox.requestCount();
    expect(await store.countMessages(PARENT)).toEqual({ count: 130, complete: true });
    expect(sandbox.requestCount() - before).toBe(2);
  });

  it('counts none on a leg with no Map', async () => {
    expect(await store.countMessages(CHILD)).toEqual({ count: 0, complete: true });
  });

  it('answers what it counted so far when the deadline leaves no time for the next read', async () => {
    for (let seq = 1; seq <= 130; seq++) await store.saveInbound(inbound(seq));
    const late = new CallStore(
      sandbox.client,
      { syncServiceSid: 'default', finishedCallTtl: FINISHED_TTL, activeCallTtl: ACTIVE_TTL },
      Date.now() + REQUEST_TIMEOUT_MS - 1,
    );
    expect(await late.countMessages(PARENT)).toEqual({ count: 0, complete: false });
    // Time for one read, not two: the clock jumps past the deadline once the first read is answered.
    const start = Date.now();
    const before = sandbox.requestCount();
    const spy = jest
      .spyOn(Date, 'now')
      .mockImplementation(() => start + (sandbox.requestCount() > before ? 10_000 : 0));
    try {
      const timed = new CallStore(
        sandbox.client,
        { syncServiceSid: 'default', finishedCallTtl: FINISHED_TTL, activeCallTtl: ACTIVE_TTL },
        start + REQUEST_TIMEOUT_MS + 1,
      );
      expect(await timed.countMessages(PARENT)).toEqual({ count: 100, complete: false });
      expect(sandbox.requestCount() - before).toBe(1);
    } finally {
      spy.mockRestore();
    }
  });
});
