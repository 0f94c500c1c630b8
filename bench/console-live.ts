// Table 11 (issue #23): what an open operator console costs per hour, and how soon what is stored
// reaches its screen. The console (Debian's Chromium, the real bundle and functions, the real
// twilio-sync SDK on the sandbox's Sync client channel) is logged in with 20 live SDK legs listed,
// then left idle; then messages are stored on the open call and new calls placed, each timed from
// its Sync write (the sandbox's answer to it) to its element on the page (a MutationObserver's
// clock: same machine, same epoch).
import { CONSOLE_INDEX_SHARDS } from '../lib/shared/sync-names';
import { SANDBOX_DEFAULTS } from '../sandbox/defaults';
import { hasChromium, launchBrowser, openPage } from '../testing/browser';
import { waitFor } from '../testing/stack';
import { fillLeg, filledMessageSid, sandboxStore } from '../testing/fill';
import { startBenchStack, type BenchStack } from './stack';
import { int, markdownTable, percentile } from './stats';

/** Issue #23's measure of today's console (2 s polls, 20 legs listed), per console-hour. */
export const BEFORE = { invocations: 3_600, syncRequests: 37_800 };

export interface LiveResult {
  idleSeconds: number;
  /** Once an hour (the operator session lasts one): log in, token, first reads. */
  startup: { invocations: number; syncRest: number; syncClient: number };
  /** The functions the console called at login, in order. */
  loginPaths: string[];
  /** Over the idle window. */
  idle: { invocations: number; syncRest: number; syncClient: number; notifications: number };
  connectionSecondsPerHour: number;
  messageMs: number[];
  callMs: number[];
}

interface Seen {
  id: string;
  at: number;
}

export async function measureConsoleLive(
  b: BenchStack,
  opts: { legs: number; idleSeconds: number; messages: number; calls: number },
): Promise<LiveResult | undefined> {
  if (!hasChromium) return undefined;
  // Calls from the phone network to alice (CLIENT_IDENTITY), through /voice and the status callbacks
  // as on Twilio: each SDK leg claimed, subscribed and in the console's index.
  await b.control.registerPhone(SANDBOX_DEFAULTS.clientIdentity, { autoAnswer: true });
  let caller = 0;
  const callIn = async (): Promise<string> => {
    const { callSid } = await b.control.callIn(`+1555300${String(caller++).padStart(4, '0')}`);
    const leg = await waitFor(
      async () => (await b.control.calls()).calls.find((c) => c.parentCallSid === callSid),
      'the SDK leg',
    );
    await waitFor(async () => (await b.control.call(leg.sid)).subscriptions.length > 0, 'its subscription', 15_000);
    return leg.sid;
  };
  const legs: string[] = [];
  for (let i = 0; i < opts.legs; i++) legs.push(await callIn());
  const store = sandboxStore(b.sandbox);
  const browser = await launchBrowser();
  try {
    const { page, context } = await openPage(browser, b.stack.functionsUrl, `${b.stack.functionsUrl}/console.html`);
    const invocations: string[] = [];
    page.on('request', (r) => {
      const path = new URL(r.url()).pathname;
      if (!/\.(js|css|html|wav)$/.test(path)) invocations.push(path);
    });
    // What appears on the page, and when (epoch ms): rows by their legs, messages by their id.
    await page.evaluate(() => {
      const w = window as unknown as { seen: Seen[] };
      w.seen = [];
      new MutationObserver((records) => {
        const at = performance.timeOrigin + performance.now();
        for (const r of records)
          for (const n of r.addedNodes) {
            if (!(n instanceof HTMLElement)) continue;
            if (n.dataset.id) w.seen.push({ id: n.dataset.id, at });
            if (n.dataset.call) w.seen.push({ id: `row:${n.dataset.call}`, at });
          }
        for (const tr of document.querySelectorAll<HTMLElement>('#calls tr[data-legs]'))
          for (const leg of (tr.dataset.legs ?? '').split(' ')) {
            if (!w.seen.some((s) => s.id === `leg:${leg}`)) w.seen.push({ id: `leg:${leg}`, at });
          }
      }).observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-legs'] });
    });
    const seenAt = async (id: string) => {
      await page.waitForFunction(
        (want) => (window as unknown as { seen: Seen[] }).seen.some((s) => s.id === want),
        id,
        { timeout: 15_000, polling: 50 },
      );
      return page.evaluate((want) => (window as unknown as { seen: Seen[] }).seen.find((s) => s.id === want)!.at, id);
    };

    const counts = () => ({
      invocations: invocations.length,
      syncRest: b.sandbox.requests.filter((r) => r.product === 'sync').length,
      syncClient: b.sandbox.requests.filter((r) => r.product === 'sync-client').length,
      notifications: b.sandbox.twilsock.stats().notifications,
    });
    const zero = counts();
    await page.locator('#operator-secret').fill(SANDBOX_DEFAULTS.operatorSecret);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.body.dataset.live === 'connected');
    await page.waitForFunction((n) => document.querySelectorAll('#calls tr').length >= n, opts.legs);
    await page.locator(`#calls tr[data-legs~="${legs[0]!}"]`).getByRole('button').click();
    await page.locator('#history-status', { hasText: 'No messages yet.' }).waitFor();
    // Settled: nothing in flight (every cme.calls.<n> shard and every listed live leg's Map subscribed, the reads
    // done, every row's message count shown).
    await waitFor(
      // One subscription answer per object (the SDK batches its requests): each index shard and each leg.
      async () => b.sandbox.twilsock.stats().notifications - zero.notifications >= opts.legs + CONSOLE_INDEX_SHARDS,
      'the subscriptions',
    );
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#calls tr')].every((tr) =>
        /^\d+\+?$/.test(tr.children.item(4)?.textContent ?? ''),
      ),
    );
    await page.locator('#history-status', { hasText: 'No messages yet.' }).waitFor();
    const ready = counts();
    const loginPaths = invocations.slice(zero.invocations, ready.invocations);
    const connectedBefore = b.sandbox.twilsock.stats().connectedMs;
    const idleStart = Date.now();
    await new Promise((resolve) => setTimeout(resolve, opts.idleSeconds * 1000));
    const idleEnd = counts();
    const connectedSeconds = (b.sandbox.twilsock.stats().connectedMs - connectedBefore) / 1000;
    const windowSeconds = (Date.now() - idleStart) / 1000;

    // A message stored on the open call: from the end of its Sync write to its element.
    const messageMs: number[] = [];
    const startMs = Date.now() - 60_000;
    for (let i = 0; i < opts.messages; i++) {
      const before = b.sandbox.requests.length;
      await fillLeg(store, legs[0]!, { count: 1, firstIndex: 2 * i, firstSequence: 1, startMs });
      const write = b.sandbox.requests.slice(before).find((r) => r.product === 'sync' && r.method === 'POST')!;
      const shown = await seenAt(`from-sdk:${filledMessageSid(2 * i, legs[0]!)}`);
      messageMs.push(shown - (write.at + write.ms));
    }

    // A new call: from the end of its index write (its cme.calls.<n> shard) to its row.
    const callMs: number[] = [];
    for (let i = 0; i < opts.calls; i++) {
      const before = b.sandbox.requests.length;
      const leg = await callIn();
      const shown = await seenAt(`leg:${leg}`);
      const write = await waitFor(
        () =>
          b.sandbox.requests
            .slice(before)
            .find(
              (r) => r.product === 'sync' && r.method === 'POST' && /\/Maps\/cme\.calls\.\d+\/Items$/.test(r.route),
            ),
        'the index write',
      );
      callMs.push(shown - (write.at + write.ms));
    }
    await context.close();
    const diff = (a: ReturnType<typeof counts>, z: ReturnType<typeof counts>) => ({
      invocations: a.invocations - z.invocations,
      syncRest: a.syncRest - z.syncRest,
      syncClient: a.syncClient - z.syncClient,
      notifications: a.notifications - z.notifications,
    });
    return {
      idleSeconds: windowSeconds,
      startup: diff(ready, zero),
      loginPaths,
      idle: diff(idleEnd, ready),
      connectionSecondsPerHour: (connectedSeconds / windowSeconds) * 3600,
      messageMs,
      callMs,
    };
  } finally {
    await browser.close();
  }
}

export function consoleLiveTable(r: LiveResult | undefined): string {
  if (!r) return 'Not measured: no Chromium at /usr/bin/chromium (set CHROMIUM_PATH).';
  const perHour = (startup: number, idle: number) => startup + (idle / r.idleSeconds) * 3600;
  const invocations = perHour(r.startup.invocations, r.idle.invocations);
  const sync = perHour(r.startup.syncRest + r.startup.syncClient, r.idle.syncRest + r.idle.syncClient);
  const p = (samples: number[], q: number) => `${percentile(samples, q).toFixed(0)} ms`;
  return markdownTable(
    ['per idle console-hour, 20 calls listed', 'before (2 s polls)', 'after (Sync live channel)', 'after / before'],
    [
      [
        'Function invocations',
        int(BEFORE.invocations),
        `${int(invocations)} (${r.startup.invocations} at login, ${r.idle.invocations} in ${r.idleSeconds.toFixed(0)} s idle)`,
        `1/${(BEFORE.invocations / Math.max(invocations, 1)).toFixed(0)}`,
      ],
      [
        'Sync requests (REST by the functions + the SDK’s through Twilsock)',
        int(BEFORE.syncRequests),
        `${int(sync)} (${r.startup.syncRest} + ${r.startup.syncClient} at login, ${r.idle.syncRest + r.idle.syncClient} idle)`,
        `1/${(BEFORE.syncRequests / Math.max(sync, 1)).toFixed(0)}`,
      ],
      ['Sync connection time', '0', `${(r.connectionSecondsPerHour / 60).toFixed(1)} min (one socket)`, ''],
      [
        `message stored → on screen (${r.messageMs.length} messages), p50 / p95`,
        'up to a 2 s poll + its reads (by construction, not measured)',
        `${p(r.messageMs, 50)} / ${p(r.messageMs, 95)}`,
        '',
      ],
      [
        `new call indexed → its row on screen (${r.callMs.length} calls), p50 / p95`,
        'up to a 2 s poll + its reads (by construction, not measured)',
        `${p(r.callMs, 50)} / ${p(r.callMs, 95)}`,
        '',
      ],
    ],
  );
}

// Alone: `npm run build && npx tsx bench/console-live.ts` (IDLE_SECONDS, default 120).
if (require.main === module) {
  void (async () => {
    const b = await startBenchStack(false);
    try {
      const result = await measureConsoleLive(b, {
        legs: 20,
        idleSeconds: Number(process.env.IDLE_SECONDS ?? 120),
        messages: Number(process.env.MESSAGES ?? 40),
        calls: Number(process.env.CALLS ?? 20),
      });
      process.stdout.write(`${consoleLiveTable(result)}\n`);
      if (result) process.stderr.write(`${JSON.stringify(result)}\n`);
    } finally {
      await b.stack.stop();
    }
  })().catch((err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
