// Table 9 (issue #13): what the operator console costs in the browser (Debian's Chromium) and in
// Sync as it keeps up with an open call (since issue #23: an update per new message, none while idle). Live SDK legs get their history straight into Sync
// (testing/fill.ts); the console's own measure of each render (`cme.console.render`, User Timing) is
// collected by an observer installed before the page loads.
import { legMapName } from '../lib/store/call-store';
import { MAX_DISPLAY_CHARS } from '../lib/shared/json-text';
import { SANDBOX_DEFAULTS } from '../sandbox/defaults';
import { hasChromium, launchBrowser, openPage } from '../testing/browser';
import { fillLeg, sandboxStore, withoutWriteLimits } from '../testing/fill';
import { heldSdkLegs, startBenchStack, type BenchStack } from './stack';
import { markdownTable, percentile } from './stats';

/** A JSON object of `chars` characters with many short members: what pretty-printing expands most. */
function wideJson(chars: number, seed: number): string {
  const members: string[] = [];
  let size = 2;
  for (let k = 0; size < chars - 20; k++) {
    const member = `"k${seed}_${k}":${k % 3 ? `"v${k}"` : k}`;
    members.push(member);
    size += member.length + 1;
  }
  const text = `{${members.join(',')}}`;
  return text.length < chars ? `${text.slice(0, -1)},"pad":"${'x'.repeat(chars - text.length - 9)}"}` : text;
}

export interface RenderRow {
  scenario: string;
  messages: number;
  renders: number;
  p50Ms: number;
  maxMs: number;
  /** Characters on screen for the scenario's messages (pretty-printing is capped per message). */
  shownChars: number;
  /** Sync reads of the leg's history per console refresh (an idle one: the catch-up). */
  historyReads?: number;
}

interface Render {
  ms: number;
  shown: number;
}

export async function measureConsoleRender(b: BenchStack, opts: { repeats: number }): Promise<RenderRow[]> {
  if (!hasChromium) return [];
  const [big, long] = await heldSdkLegs(b, 'bench_console', 2);
  const store = sandboxStore(b.sandbox);
  const startMs = Date.now() - 3_600_000;
  await withoutWriteLimits(b.control, async () => {
    await fillLeg(store, big!, { count: 3, firstSequence: 1, startMs, content: (i) => wideJson(6000, i) });
    await fillLeg(store, long!, { count: 1000, firstSequence: 1, startMs, concurrency: 16 });
  });

  const browser = await launchBrowser();
  try {
    const { page, context } = await openPage(browser, b.stack.functionsUrl, `${b.stack.functionsUrl}/console.html`);
    await page.evaluate(() => {
      const w = window as unknown as { renders: Render[] };
      w.renders = [];
      new PerformanceObserver((list) => {
        for (const entry of list.getEntriesByName('cme.console.render'))
          w.renders.push({ ms: entry.duration, shown: document.querySelectorAll('#history li').length });
      }).observe({ entryTypes: ['measure'] });
    });
    await page.locator('#operator-secret').fill(SANDBOX_DEFAULTS.operatorSecret);
    await page.keyboard.press('Enter');
    const renders = () => page.evaluate(() => (window as unknown as { renders: Render[] }).renders.slice());
    const waitRenders = async (after: number, shown: number) => {
      await page.waitForFunction(
        ([n, count]) => (window as unknown as { renders: Render[] }).renders.slice(n).some((r) => r.shown === count),
        [after, shown] as const,
        { timeout: 30_000 },
      );
      return (await renders()).slice(after).filter((r) => r.shown === shown);
    };
    const shownChars = () =>
      page.locator('#history li pre').evaluateAll((pres) => pres.reduce((n, p) => n + (p.textContent ?? '').length, 0));
    const open = async (callSid: string, count: number) => {
      const before = (await renders()).length;
      await page.locator(`#calls tr[data-call-sid="${callSid}"]`).getByRole('button').click();
      return (await waitRenders(before, count))[0]!;
    };
    const row = (scenario: string, messages: number, samples: Render[], chars: number): RenderRow => ({
      scenario,
      messages,
      renders: samples.length,
      p50Ms: percentile(
        samples.map((r) => r.ms),
        50,
      ),
      maxMs: Math.max(...samples.map((r) => r.ms)),
      shownChars: chars,
    });

    const rows: RenderRow[] = [];
    const bigOpens: Render[] = [];
    for (let i = 0; i < opts.repeats; i++) bigOpens.push(await open(big!, 3));
    rows.push(
      row('open a call: 3 messages of 6,000 characters (wide JSON, pretty-printed)', 3, bigOpens, await shownChars()),
    );
    const longOpens: Render[] = [];
    for (let i = 0; i < opts.repeats; i++) longOpens.push(await open(long!, 1000));
    rows.push(row('open a call: 1,000 messages (10 pages)', 1000, longOpens, await shownChars()));

    // Nothing is re-read while nothing is stored (issue #23: Sync's live channel says when to read):
    // each new message is one update, and its Sync reads of the history are counted.
    const items = `${legMapName(long!)}/Items`;
    const since = b.sandbox.requests.length;
    const fresh: Render[] = [];
    for (let i = 0; i < opts.repeats; i++) {
      const before = (await renders()).length;
      await fillLeg(store, long!, { count: 1, firstIndex: 1000 + i, firstSequence: 1, startMs });
      fresh.push(...(await waitRenders(before, 1001 + i)));
    }
    const reads = b.sandbox.requests
      .slice(since)
      .filter((r) => r.product === 'sync' && r.method === 'GET' && r.route.endsWith(items)).length;
    rows.push({
      ...row('one new message, heard on the live channel (1,000+ on screen)', 1001, fresh, await shownChars()),
      historyReads: reads / opts.repeats,
    });
    await context.close();
    return rows;
  } finally {
    await browser.close();
  }
}

export function consoleRenderTable(rows: RenderRow[]): string {
  if (!rows.length) return 'Not measured: no Chromium at /usr/bin/chromium (set CHROMIUM_PATH).';
  return markdownTable(
    [
      'scenario',
      'renders',
      'p50 ms',
      'max ms',
      `characters on screen (cap ${MAX_DISPLAY_CHARS.toLocaleString('en-US')} a message)`,
      'Sync reads of the history per update',
    ],
    rows.map((r) => [
      r.scenario,
      r.renders,
      r.p50Ms.toFixed(1),
      r.maxMs.toFixed(1),
      r.shownChars.toLocaleString('en-US'),
      r.historyReads === undefined ? '' : r.historyReads.toFixed(2),
    ]),
  );
}

// Alone: `npm run build && tsx bench/console-render.ts` (REPEATS, default 5).
if (require.main === module) {
  void (async () => {
    const b = await startBenchStack(false);
    try {
      process.stdout.write(
        `${consoleRenderTable(await measureConsoleRender(b, { repeats: Number(process.env.REPEATS ?? 5) }))}\n`,
      );
    } finally {
      await b.stack.stop();
    }
  })().catch((err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
