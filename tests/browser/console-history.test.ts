// Issue #13: the operator console keeps up with a long history without reading it whole. A live SDK
// leg in the sandbox gets 299 messages straight into Sync (testing/fill.ts: the keys the functions
// write); the console (Chromium, the real bundle, the real functions) opens it, then refreshes.
import type { Browser, Route } from 'playwright-core';
import type { RequestRecord } from '../../sandbox/app';
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
/** How often the console refreshes (assets/src/console.ts). */
const POLL_MS = 2000;

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

/**
 * The sandbox's requests during each of the console's next `count` refreshes. A refresh starts with
 * the page asking for /operator-calls, and the console never starts one before the last is over
 * (assets/src/console/calls.ts): that request is held (page.route) while the sandbox's count is
 * taken, so every request of a refresh falls between its start and the next one's, whatever the
 * timing. (Counting over a wall-clock window cut a refresh in two at the window's edges.)
 */
async function sandboxRequestsPerRefresh(count: number): Promise<RequestRecord[][]> {
  const starts: number[] = [];
  let seen: () => void = () => undefined;
  const allSeen = new Promise<void>((resolve) => (seen = resolve));
  const hold = async (route: Route) => {
    starts.push(stack.sandbox.requests.length);
    if (starts.length === count + 1) seen();
    await route.continue();
  };
  const operatorCalls = '**/operator-calls?*';
  await operator.page.route(operatorCalls, hold);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      allSeen,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`saw ${Math.max(0, starts.length - 1)} of ${count} refreshes`)),
          (count + 2) * POLL_MS + 10_000,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
    await operator.page.unroute(operatorCalls, hold);
  }
  return starts.slice(0, count).map((from, i) => stack.sandbox.requests.slice(from, starts[i + 1]));
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

  it('refreshes an idle open call with one Sync read of its history', async () => {
    const items = `${legMapName(leg)}/Items`;
    const refreshes = await sandboxRequestsPerRefresh(3);
    for (const requests of refreshes) {
      const sync = requests.filter((r) => r.product === 'sync');
      // The calls list reads each call's state once a refresh; the open call's history is one read.
      expect(sync.filter((r) => r.route.endsWith(`${items}/state`))).toHaveLength(1);
      expect(sync.filter((r) => r.route.endsWith(items))).toHaveLength(1);
    }
  });

  it('shows a new message within one refresh, and one stored late (after a later one) in its place', async () => {
    await write(FILLED + 2); // to the SDK, sent at +301 s
    await operator.page
      .locator(`#history li[data-id="to-sdk:${filledMessageSid(FILLED + 2, leg)}"]`)
      .waitFor({ timeout: POLL_MS + 2000 });
    await write(FILLED); // to the SDK, sent at +299 s: before the one shown, stored after it
    await operator.page
      .locator(`#history li[data-id="to-sdk:${filledMessageSid(FILLED, leg)}"]`)
      .waitFor({ timeout: POLL_MS + 2000 });
    const order = await consoleOrder();
    expect(order).toHaveLength(FILLED + 2);
    expect(order).toEqual(await apiOrder());
    expect(order.slice(-2)).toEqual([
      `to-sdk:${filledMessageSid(FILLED, leg)}`,
      `to-sdk:${filledMessageSid(FILLED + 2, leg)}`,
    ]);
  });
});
