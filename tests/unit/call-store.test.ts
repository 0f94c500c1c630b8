import fc from 'fast-check';
import {
  CallStore,
  inboundKey,
  legMapName,
  orderMessages,
  outboundKey,
  splitForSync,
  type CallMessage,
} from '../../lib/call-store';
import type { SdkLeg } from '../../lib/call-legs';
import { startSyncSandbox, type SyncSandbox } from '../support/sync-sandbox';

const PARENT = 'CA' + 'a'.repeat(32);
const CHILD = 'CA' + 'b'.repeat(32);
const kx = (n: number) => 'KX' + n.toString(16).padStart(32, '0');
const ACTIVE_TTL = 7200;
const FINISHED_TTL = 600;

let sandbox: SyncSandbox;
let store: CallStore;

beforeAll(async () => {
  sandbox = await startSyncSandbox();
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
  return (fetched.dateExpires!.getTime() - sandbox.clock.now()) / 1000;
}

const message = (over: Partial<CallMessage> = {}): CallMessage => ({
  sid: kx(1),
  callSid: PARENT,
  direction: 'from-sdk',
  sequence: 0,
  contentType: 'application/json',
  content: '{"hello":"world"}',
  timestamp: '2024-01-01T00:00:00.000Z',
  ...over,
});

describe('keys', () => {
  it('names the Map after the leg (lower case: a unique name may not look like a SID) and messages by Sid', () => {
    expect(legMapName(PARENT)).toBe(`cme.call.${PARENT.toLowerCase()}`);
    expect(inboundKey(kx(1))).toBe(`in.${kx(1)}`);
    expect(outboundKey(kx(2))).toBe(`out.${kx(2)}`);
  });
});

describe('markInProgress', () => {
  it('starts a leg once, in a Map that lives for the active-call TTL', async () => {
    const at = new Date('2024-05-01T10:00:00Z');
    expect(await store.markInProgress(leg, at)).toBe('started');
    expect(await store.markInProgress(leg, new Date())).toBe('already-started');
    expect(await store.readState(PARENT)).toEqual({
      callSid: PARENT,
      parentCallSid: PARENT,
      role: 'parent',
      identity: 'alice',
      peer: '+442071234567',
      status: 'in-progress',
      updatedAt: at.toISOString(),
    });
    expect(await mapExpiresIn(PARENT)).toBeCloseTo(ACTIVE_TTL, -1);
  });

  it("reports 'ended' when the final status overtook the in-progress one, and keeps the final state", async () => {
    await store.markFinished(leg, 'completed', new Date('2024-05-01T10:05:00Z'), 42);
    expect(await store.markInProgress(leg, new Date('2024-05-01T10:00:00Z'))).toBe('ended');
    expect(await store.readState(PARENT)).toMatchObject({ status: 'completed', durationSeconds: 42 });
  });

  it("reports 'ended' after a normal end", async () => {
    await store.markInProgress(leg, new Date());
    await store.markFinished(leg, 'no-answer', new Date());
    expect(await store.markInProgress(leg, new Date())).toBe('ended');
  });

  it('works when the Map already exists (created at ringing)', async () => {
    await store.ensureLegMap(PARENT);
    await store.ensureLegMap(PARENT); // idempotent
    expect(await store.markInProgress(leg, new Date())).toBe('started');
  });
});

describe('markFinished', () => {
  it('records the final status and shortens the Map TTL to the finished-call TTL', async () => {
    await store.markInProgress(leg, new Date('2024-05-01T10:00:00Z'));
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

  it('creates the state (with the finished TTL) for a leg that never reached in-progress', async () => {
    await store.markFinished(leg, 'busy', new Date());
    const state = await store.readState(PARENT);
    expect(state?.status).toBe('busy');
    expect(state).not.toHaveProperty('durationSeconds');
    expect(await mapExpiresIn(PARENT)).toBeCloseTo(FINISHED_TTL, -1);
  });

  it('lets the leg expire with its messages after the TTL', async () => {
    await store.markInProgress(leg, new Date());
    await store.saveMessage(message());
    await store.markFinished(leg, 'completed', new Date());
    sandbox.clock.advance((FINISHED_TTL + 1) * 1000);
    expect(await store.readLeg(PARENT)).toBeUndefined();
    expect(await store.readState(PARENT)).toBeUndefined();
  });
});

describe('saveMessage / readLeg', () => {
  it('stores a message once; a repeat delivery is a duplicate', async () => {
    expect(await store.saveMessage(message())).toBe('stored');
    expect(await store.saveMessage(message())).toBe('duplicate');
    const read = await store.readLeg(PARENT);
    expect(read?.state).toBeUndefined();
    expect(read?.messages).toEqual([message()]);
  });

  it('stores messages to and from the SDK separately, even with the same sid', async () => {
    expect(await store.saveMessage(message())).toBe('stored');
    expect(
      await store.saveMessage(
        message({ direction: 'to-sdk', sequence: undefined, timestamp: '2024-01-01T00:00:01.000Z' }),
      ),
    ).toBe('stored');
    expect((await store.readLeg(PARENT))?.messages.map((m) => m.direction)).toEqual(['from-sdk', 'to-sdk']);
  });

  it('returns undefined for a leg with no Map', async () => {
    expect(await store.readLeg(CHILD)).toBeUndefined();
    expect(await store.readState(CHILD)).toBeUndefined();
  });

  it('keeps a 10,000-character message of 3-byte characters whole (≈30 KB > the 16 KB item limit)', async () => {
    const content = JSON.stringify({ text: '€'.repeat(9989) });
    expect(content.length).toBe(10_000);
    expect(Buffer.byteLength(content)).toBeGreaterThan(16_384);
    const big = message({ sid: kx(9), sequence: 3, content });
    expect(await store.saveMessage(big)).toBe('stored');

    const items = await map(PARENT).syncMapItems.list();
    const key = inboundKey(kx(9));
    expect(items.map((i) => i.key).sort()).toEqual([key, `${key}~1`, `${key}~2`]);
    for (const item of items) expect(Buffer.byteLength(JSON.stringify(item.data))).toBeLessThanOrEqual(16_384);

    const read = await store.readLeg(PARENT);
    expect(read?.messages).toHaveLength(1);
    expect(read?.messages[0].content).toBe(content);
    expect(read?.messages[0]).toEqual(big);
    expect(read?.messages[0]).not.toHaveProperty('parts');

    expect(await store.saveMessage(big)).toBe('duplicate');
    expect((await store.readLeg(PARENT))?.messages).toEqual([big]);
  });

  it('keeps a 10,000-character message of emoji whole', async () => {
    const content = JSON.stringify({ t: '😀'.repeat(4996) });
    expect(await store.saveMessage(message({ content }))).toBe('stored');
    expect((await store.readLeg(PARENT))?.messages[0].content).toBe(content);
  });

  it('returns the state and messages in order', async () => {
    await store.markInProgress(leg, new Date());
    await store.saveMessage(message({ sid: kx(3), sequence: 2, timestamp: '2024-01-01T00:00:05.000Z' }));
    await store.saveMessage(message({ sid: kx(1), sequence: 0, timestamp: '2024-01-01T00:00:01.000Z' }));
    await store.saveMessage(
      message({ sid: kx(4), direction: 'to-sdk', sequence: undefined, timestamp: '2024-01-01T00:00:03.000Z' }),
    );
    await store.saveMessage(message({ sid: kx(2), sequence: 1, timestamp: '2024-01-01T00:00:02.000Z' }));
    const read = await store.readLeg(PARENT);
    expect(read?.state?.status).toBe('in-progress');
    expect(read?.messages.map((m) => m.sid)).toEqual([kx(1), kx(2), kx(4), kx(3)]);
  });

  it('reads a leg with more messages than one Sync page', async () => {
    for (let i = 0; i < 105; i++) await store.saveMessage(message({ sid: kx(i + 1), sequence: i }));
    const read = await store.readLeg(PARENT);
    expect(read?.messages).toHaveLength(105);
    expect(read?.messages.map((m) => m.sequence)).toEqual([...Array(105).keys()]);
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
        for (const part of parts) {
          expect(jsonBytes(part)).toBeLessThanOrEqual(max);
          if (part.length) {
            expect(isLow(part.charCodeAt(0))).toBe(false);
            expect(isHigh(part.charCodeAt(part.length - 1))).toBe(false);
          }
        }
        if (text.length > 0) expect(parts.every((p) => p.length > 0)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('orderMessages', () => {
  const from = (seq: number, t: number): CallMessage =>
    message({ sid: kx(100 + seq), sequence: seq, timestamp: new Date(Date.UTC(2024, 0, 1, 0, 0, t)).toISOString() });
  const to = (n: number, t: number): CallMessage =>
    message({
      sid: kx(200 + n),
      direction: 'to-sdk',
      sequence: undefined,
      timestamp: new Date(Date.UTC(2024, 0, 1, 0, 0, t)).toISOString(),
    });

  it('merges both directions by time, keeping the SDK messages in SequenceNumber order', () => {
    const ordered = orderMessages([to(2, 4), from(2, 5), to(1, 2), from(0, 1), from(1, 3)]);
    expect(ordered.map((m) => m.sid)).toEqual([kx(100), kx(201), kx(101), kx(202), kx(102)]);
  });

  it('trusts SequenceNumber over timestamps for messages from the SDK', () => {
    const ordered = orderMessages([from(0, 10), from(1, 5), from(2, 1)]);
    expect(ordered.map((m) => m.sequence)).toEqual([0, 1, 2]);
  });

  it('orders messages to the SDK by time', () => {
    expect(orderMessages([to(2, 9), to(1, 3)]).map((m) => m.sid)).toEqual([kx(201), kx(202)]);
  });

  it('keeps every message', () => {
    const all = [from(1, 1), to(1, 1), from(0, 1), to(2, 0)];
    expect(orderMessages(all)).toHaveLength(4);
    expect(new Set(orderMessages(all))).toEqual(new Set(all));
    expect(orderMessages([])).toEqual([]);
  });
});
