// Table 7 (issue #13): what one `/call-messages` page costs as a leg's history grows. Each leg is
// filled straight into Sync through the store (testing/fill.ts), then read through real twilio-run:
// every page once (order and completeness), then the first, a middle and the last page again and
// again for their latency and the Sync requests the sandbox served for each.
import { performance } from 'node:perf_hooks';
import { callMessages } from '../client/src';
import { legMapName } from '../lib/store/call-store';
import { fillLeg, sandboxStore, withoutWriteLimits } from '../testing/fill';
import { mean, percentile } from './stats';
import type { BenchStack } from './stack';
import { randomCallSid } from '../testing/sids';

export interface PageCost {
  /** Sync requests per read of this page: fewest and most over the samples. */
  syncMin: number;
  syncMax: number;
  p50Ms: number;
  /** The sandbox's own time per Sync request of this page (mean, ms). */
  sandboxMs: number;
}

export interface HistoryRow {
  messages: number;
  pageSize: number;
  pages: number;
  fillMs: number;
  first: PageCost;
  middle: PageCost;
  last: PageCost;
  /** One read after the last message's cursor (`after=`, what a console polls with). */
  caughtUp: PageCost;
  /** Sync requests per page over the whole walk: most. */
  walkSyncMax: number;
  /** Every message once, in order, across the walk. */
  complete: boolean;
}

export interface HistoryOptions {
  lengths: number[];
  pageSize: number;
  /** Reads of each of the first, middle and last page. */
  samples: number;
}

type Page = {
  cursors: string[];
  next: string | null;
  is: number[];
  syncRequests: number;
  ms: number;
  syncMs: number[];
};

export async function measureHistory(b: BenchStack, opts: HistoryOptions): Promise<HistoryRow[]> {
  const store = sandboxStore(b.sandbox);
  const rows: HistoryRow[] = [];
  for (const n of opts.lengths) {
    const callSid = randomCallSid();
    const mapName = legMapName(callSid);
    const filled = performance.now();
    await withoutWriteLimits(b.control, () =>
      fillLeg(store, callSid, { count: n, firstSequence: 1, startMs: Date.UTC(2026, 0, 1), concurrency: 16 }),
    );
    const fillMs = performance.now() - filled;

    // One page read: its messages' numbers, and the Sync requests this leg's Map got meanwhile.
    const read = async (params: { pageToken?: string | undefined; after?: string | undefined }): Promise<Page> => {
      const before = b.sandbox.requests.length;
      const t = performance.now();
      const res = await callMessages(b.fn, callSid, { pageSize: opts.pageSize, ...params });
      const ms = performance.now() - t;
      if (res.status !== 200) throw new Error(`/call-messages answered ${res.status}: ${JSON.stringify(res.body)}`);
      const sync = b.sandbox.requests.slice(before).filter((r) => r.product === 'sync' && r.route.includes(mapName));
      return {
        cursors: res.body.messages.map((m) => m.cursor),
        next: res.body.nextPageToken,
        is: res.body.messages.map((m) => (JSON.parse(m.content) as { i: number }).i),
        syncRequests: sync.length,
        ms,
        syncMs: sync.map((r) => r.ms),
      };
    };

    // The walk: every page once, with the token that starts each.
    const tokens: (string | undefined)[] = [];
    const seen: number[] = [];
    let walkSyncMax = 0;
    let lastCursor = '';
    let token: string | undefined;
    for (;;) {
      tokens.push(token);
      const page = await read({ pageToken: token });
      seen.push(...page.is);
      walkSyncMax = Math.max(walkSyncMax, page.syncRequests);
      lastCursor = page.cursors.at(-1) ?? lastCursor;
      if (!page.next) break;
      token = page.next;
    }
    const complete = seen.length === n && seen.every((v, i) => v === i);

    const cost = async (params: { pageToken?: string | undefined; after?: string | undefined }): Promise<PageCost> => {
      const pages: Page[] = [];
      for (let s = 0; s < opts.samples; s++) pages.push(await read(params));
      const counts = pages.map((p) => p.syncRequests);
      return {
        syncMin: Math.min(...counts),
        syncMax: Math.max(...counts),
        p50Ms: percentile(
          pages.map((p) => p.ms),
          50,
        ),
        sandboxMs: mean(pages.flatMap((p) => p.syncMs)),
      };
    };
    rows.push({
      messages: n,
      pageSize: opts.pageSize,
      pages: tokens.length,
      fillMs,
      first: await cost({ pageToken: tokens[0] }),
      middle: await cost({ pageToken: tokens[Math.floor(tokens.length / 2)] }),
      last: await cost({ pageToken: tokens[tokens.length - 1] }),
      caughtUp: await cost({ after: lastCursor }),
      walkSyncMax,
      complete,
    });
  }
  return rows;
}
