// History pages are cut by bytes as well as by count (issue 20, Must 7): a page of 100 messages at
// their largest is ~24 MB of JSON, and Twilio answers at most 4 MB.
import { jsonBytes, readCallHistory } from '../../lib/messages/history';
import type { CallMessagePageItem } from '../../lib/shared/api-types';
import { CallStore } from '../../lib/store/call-store';
import { ANSWER_BUDGET_BYTES, MAX_ANSWER_BYTES } from '../../lib/shared/limits';
import { fillLeg } from '../../testing/fill';
import { largeContent } from '../../testing/large-history';
import { callSid } from '../../testing/sids';
import { startSyncSandbox, type SyncSandbox } from '../support/sync-sandbox';

const COUNT = 24;
let sandbox: SyncSandbox;
let store: CallStore;
const LEG = callSid(0x4b);
let ids: string[];

beforeAll(async () => {
  sandbox = await startSyncSandbox();
  store = new CallStore(sandbox.client, { syncServiceSid: 'default', finishedCallTtl: 600, activeCallTtl: 3600 });
  jest.spyOn(console, 'log').mockImplementation(() => {});
  ids = await fillLeg(store, LEG, {
    count: COUNT,
    firstSequence: 1,
    startMs: Date.now() - 60_000,
    content: largeContent,
  });
}, 60_000);
afterAll(async () => {
  jest.restoreAllMocks();
  await sandbox.close();
});

const idOf = (m: CallMessagePageItem) => (m.direction === 'from-sdk' ? m.sid : m.idempotencyKey);

async function readAll(order: 'asc' | 'desc') {
  const pages: { bytes: number; messages: CallMessagePageItem[] }[] = [];
  let pageToken: string | undefined;
  do {
    const page = await readCallHistory(
      { store: () => store },
      { callSid: LEG, pageSize: '100', order, ...(pageToken ? { pageToken } : {}) },
    );
    pages.push({ bytes: Buffer.byteLength(JSON.stringify(page)), messages: page.messages });
    pageToken = page.nextPageToken ?? undefined;
  } while (pageToken && pages.length < 50);
  return pages;
}

describe('the byte cut, with a budget of its own', () => {
  // 30 messages of ~2.3 KB each way, read with a 10 KB budget: pages end for their bytes long
  // before pageSize (100) in both orders, whatever a Sync range read returns.
  const SMALL_LEG = callSid(0x4c);
  const BUDGET = 10_000;
  let smallIds: string[];
  beforeAll(async () => {
    smallIds = await fillLeg(store, SMALL_LEG, {
      count: 30,
      firstSequence: 1,
      startMs: Date.now() - 60_000,
      content: (i) => JSON.stringify({ i, pad: 'é'.repeat(1000) }),
    });
  });

  it.each(['asc', 'desc'] as const)(
    'ends each page before the message that would pass the budget, and loses none (%s)',
    async (order) => {
      const pages: CallMessagePageItem[][] = [];
      let pageToken: string | undefined;
      do {
        const page = await readCallHistory(
          { store: () => store, answerBudgetBytes: BUDGET },
          { callSid: SMALL_LEG, pageSize: '100', order, ...(pageToken ? { pageToken } : {}) },
        );
        pages.push(page.messages);
        pageToken = page.nextPageToken ?? undefined;
      } while (pageToken && pages.length < 40);
      const sizes = pages.map((messages) => messages.reduce((sum, m) => sum + jsonBytes(m) + 1, 0));
      for (const size of sizes) expect(size).toBeLessThanOrEqual(BUDGET);
      // Every page but the last was full: its next page's first message would not have fitted.
      pages.slice(0, -1).forEach((messages, i) => {
        const next = pages[i + 1]?.[0];
        expect(next && (sizes[i] ?? 0) + jsonBytes(next) + 1).toBeGreaterThan(BUDGET);
      });
      expect(pages.length).toBeGreaterThan(5);
      expect(pages.flat().map(idOf)).toEqual(order === 'asc' ? smallIds : [...smallIds].reverse());
    },
  );

  it('still answers a message larger than the whole budget, alone on its page', async () => {
    const page = await readCallHistory(
      { store: () => store, answerBudgetBytes: 100 },
      { callSid: SMALL_LEG, pageSize: '100' },
    );
    expect(page.messages).toHaveLength(1);
    expect(page.nextPageToken).not.toBeNull();
  });
});

describe('a history of the largest messages', () => {
  // Read newest first, the two directions' reads reach the budget before Sync's 100-item reads end:
  // a page ends for its bytes. (Oldest first, messages stored in ~10 KB parts fill a range read's
  // 100 items with 15 messages, 2.8 MB, before the budget; both orders stay under it, below.)
  it("ends a page for its bytes: its next page's first message would have passed the budget", async () => {
    const pages = await readAll('desc');
    const cutByBytes = pages.map((page, i) => {
      const first = pages[i + 1]?.messages[0];
      return first !== undefined && page.bytes + jsonBytes(first) > ANSWER_BUDGET_BYTES;
    });
    expect(cutByBytes).toContain(true);
  });

  it.each(['asc', 'desc'] as const)(
    'reads in pages under the budget, every message once, in order (%s)',
    async (order) => {
      const pages = await readAll(order);
      const total = pages.reduce((sum, page) => sum + page.bytes, 0);
      // The history is more than one answer may carry: counts alone would pass 4 MB.
      expect(total).toBeGreaterThan(MAX_ANSWER_BYTES);
      for (const page of pages) expect(page.bytes).toBeLessThan(ANSWER_BUDGET_BYTES + 10_000);
      const read = pages.flatMap((page) => page.messages.map(idOf));
      expect(read).toEqual(order === 'asc' ? ids : [...ids].reverse());
      // Whole: each message's content comes back exactly as written.
      for (const message of pages.flatMap((page) => page.messages)) {
        expect(message.content.length).toBe(message.direction === 'from-sdk' ? 20_000 : 10_000);
      }
    },
  );
});
