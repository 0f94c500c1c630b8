// Issue #13: the operator console keeps up with a long history without reading it whole. A live SDK
// leg in the sandbox gets 299 messages straight into Sync (testing/fill.ts: the keys the functions
// write); the console (Chromium, the real bundle, the real functions) opens it, then hears of each
// new one on Sync's live channel (issue #23) and reads only what came after what it holds.
import type { Browser } from 'playwright-core';
import { callMessages } from '../../client/src';
import { legMapName } from '../../lib/store/call-store';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { fillLeg, filledMessageSid, sandboxStore, withoutWriteLimits } from '../../testing/fill';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';
import { launchBrowser, openPage, type WatchedPage } from '../../testing/browser';
import { describeWithChromium } from '../support/chromium';

jest.setTimeout(60_000);

const FILLED = 299;
/**
 * Issue #23 wants a stored message on screen within 1 s (p95, measured by bench/console-live.ts);
 * a test on a shared, loaded machine allows five times that before failing.
 */
const LIVE_MS = 5000;
/** How long an idle console is watched for requests. */
const IDLE_WATCH_MS = 8000;

const stack = useTestStack();
let browser: Browser;
let operator: WatchedPage;
let leg: string;
let fill: { firstSequence: number; startMs: number };

/** The history as the API gives it, in order: each message's direction and Sid. */
async function apiOrder(): Promise<string[]> {
  const ids: string[] = [];
  let pageToken: string | undefined;
  do {
    const page = await callMessages(stack.fn, leg, { pageSize: 100, pageToken });
    ids.push(...page.body.messages.map((m) => `${m.direction}:${m.sid ?? ''}`));
    pageToken = page.body.nextPageToken ?? undefined;
  } while (pageToken);
  return ids;
}

const consoleOrder = () =>
  operator.page.locator('#history li').evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.id ?? ''));

/** Writes message i of the fill (odd i: to the SDK, sent at startMs + i s). */
const write = (i: number) => fillLeg(sandboxStore(stack.sandbox), leg, { ...fill, count: 1, firstIndex: i });

/** The function requests the console makes from now until `until` settles. */
async function functionRequestsDuring(until: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (request: { url(): string }) => {
    const path = new URL(request.url()).pathname;
    if (!path.endsWith('.js') && !path.endsWith('.css') && !path.endsWith('.html')) seen.push(path);
  };
  operator.page.on('request', listener);
  try {
    await until();
  } finally {
    operator.page.off('request', listener);
  }
  return seen;
}

describeWithChromium('the operator console on a long history', () => {
  beforeAll(async () => {
    browser = await launchBrowser();
    await stack.control.registerPhone('alice', { autoAnswer: true });
    await stack.control.callIn('+15551239002');
    leg = (
      await waitFor(
        async () => (await stack.control.phone('alice')).calls.find((c) => c.state === 'open'),
        "alice's leg to open",
      )
    ).callSid;
    await waitFor(async () => (await stack.control.call(leg)).subscriptions.length > 0, 'the subscription', 15_000);
    // In the past, so that the messages written later follow it.
    fill = { firstSequence: 1, startMs: Date.now() - 400_000 };
    await withoutWriteLimits(stack.control, () =>
      fillLeg(sandboxStore(stack.sandbox), leg, { ...fill, count: FILLED, concurrency: 16 }),
    );

    operator = await openPage(browser, stack.functionsUrl, `${stack.functionsUrl}/console.html`);
    await operator.page.locator('#operator-secret').fill(SANDBOX_DEFAULTS.operatorSecret);
    await operator.page.keyboard.press('Enter');
    await operator.page.locator(`#calls tr[data-call-sid="${leg}"]`).getByRole('button').click();
    await operator.page.waitForFunction((n) => document.querySelectorAll('#history li').length === n, FILLED);
  }, 90_000);

  afterAll(async () => {
    await operator?.context.close().catch(() => undefined);
    await browser?.close();
  });

  it('shows the whole history in the order the API gives it', async () => {
    expect(await consoleOrder()).toEqual(await apiOrder());
  });

  it('makes no request while nothing is stored (live channel, no polling)', async () => {
    await operator.page.waitForFunction(() => document.body.dataset.live === 'connected');
    const before = stack.sandbox.requests.length;
    // Four of the former 2 s polls: the old console made 8 function requests and 2 Sync reads a poll.
    const seen = await functionRequestsDuring(() => new Promise((resolve) => setTimeout(resolve, IDLE_WATCH_MS)));
    expect(seen).toEqual([]);
    // Nor does the Sync SDK ask anything through its socket (the functions', if any, are not the page's).
    expect(stack.sandbox.requests.slice(before).filter((r) => r.product === 'sync-client')).toEqual([]);
  });

  it('reads only what came after the last few messages when one is stored: one Sync read of the history', async () => {
    const before = stack.sandbox.requests.length;
    await write(FILLED + 1); // from the SDK
    await operator.page
      .locator(`#history li[data-id="from-sdk:${filledMessageSid(FILLED + 1, leg)}"]`)
      .waitFor({ timeout: LIVE_MS });
    await operator.page.waitForFunction((n) => document.querySelectorAll('#history li').length === n, FILLED + 1);
    const items = `${legMapName(leg)}/Items`;
    await waitFor(
      async () =>
        stack.sandbox.requests
          .slice(before)
          .some((r) => r.product === 'sync' && r.route.endsWith(items) && r.method === 'GET'),
      'the catch-up read',
    );
    const reads = stack.sandbox.requests
      .slice(before)
      .filter((r) => r.product === 'sync' && r.method === 'GET' && r.route.endsWith(items));
    expect(reads).toHaveLength(1);
  });

  it('shows a new message as it is stored, and one stored late (after a later one) in its place', async () => {
    await write(FILLED + 2); // to the SDK, sent at +301 s
    await operator.page
      .locator(`#history li[data-id="to-sdk:${filledMessageSid(FILLED + 2, leg)}"]`)
      .waitFor({ timeout: LIVE_MS });
    await write(FILLED); // to the SDK, sent at +299 s: before the one shown, stored after it
    await operator.page
      .locator(`#history li[data-id="to-sdk:${filledMessageSid(FILLED, leg)}"]`)
      .waitFor({ timeout: LIVE_MS });
    const order = await consoleOrder();
    expect(order).toHaveLength(FILLED + 3);
    expect(order).toEqual(await apiOrder());
    expect(order.slice(-3)).toEqual([
      `to-sdk:${filledMessageSid(FILLED, leg)}`,
      `from-sdk:${filledMessageSid(FILLED + 1, leg)}`,
      `to-sdk:${filledMessageSid(FILLED + 2, leg)}`,
    ]);
  });
});
