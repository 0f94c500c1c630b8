// Issue #23: the operator console for a shift, in Chromium (the real bundle, the real functions,
// the real twilio-sync SDK on the sandbox's Sync client channel). Live: a new call and a stored
// message reach the page without polling. One row per call, a detail beside the list, agents in
// their own tab, Send off with its reason, confirmations, rename, copy; 390 px; forms that never
// put a secret in a URL; keyboard use and axe-core's rules.
import type { Browser, Page } from 'playwright-core';
import twilio from 'twilio';
import { sendMessage } from '../../client/src';
import { SandboxRequestClient } from '../../sandbox/request-client';
import { legMapName } from '../../lib/shared/sync-names';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';
import { axeViolations, launchBrowser, openPage, type WatchedPage } from '../../testing/browser';
import { describeWithChromium } from '../support/chromium';

jest.setTimeout(60_000);

/**
 * Issue #23 wants a new call on screen within 2 s and a message within 1 s (p95: bench/console-live.ts
 * measures them, table 11). A test on a shared, loaded machine only proves they come live (no
 * poll is left to bring them), allowing a few times that before failing.
 */
const NEW_CALL_MS = 6000;
const MESSAGE_MS = 5000;

const stack = useTestStack();
let browser: Browser;
const pages: WatchedPage[] = [];
let wide: Page;
let aliceLeg: string;
let bobLeg: string;

async function consolePage(viewport: { width: number; height: number }): Promise<Page> {
  const p = await openPage(browser, stack.functionsUrl, `${stack.functionsUrl}/console.html`, viewport);
  pages.push(p);
  await p.page.locator('#operator-secret').fill(SANDBOX_DEFAULTS.operatorSecret);
  await p.page.keyboard.press('Enter');
  await p.page.waitForFunction(() => document.body.dataset.live === 'connected');
  return p.page;
}

const row = (page: Page, leg: string) => page.locator(`#calls tr[data-legs~="${leg}"]`);

describeWithChromium('the operator console for a shift', () => {
  beforeAll(async () => {
    browser = await launchBrowser();
    await stack.control.registerPhone('alice', { autoAnswer: true });
    await stack.control.registerPhone('bob', { autoAnswer: true });
    wide = await consolePage({ width: 1280, height: 900 });
  }, 90_000);

  afterAll(async () => {
    for (const p of pages) await p.context.close().catch(() => undefined);
    await browser?.close();
  });

  it('shows a new call live, as one row for its two SDK legs, with start date, duration and status', async () => {
    const started = Date.now();
    aliceLeg = (await stack.control.placeCall('alice', 'bob')).callSid;
    await wide.locator(`#calls tr[data-legs~="${aliceLeg}"]`).waitFor({ timeout: NEW_CALL_MS });
    const shownMs = Date.now() - started;
    bobLeg = (
      await waitFor(
        async () => (await stack.control.phone('bob')).calls.find((c) => c.state === 'open'),
        "bob's leg to open",
      )
    ).callSid;
    const call = row(wide, aliceLeg);
    await wide.locator(`#calls tr[data-legs~="${aliceLeg}"][data-legs~="${bobLeg}"][data-live="true"]`).waitFor();
    expect(await wide.locator('#calls tr').count()).toBe(1);
    const cells = await call.locator('td').allTextContents();
    expect(cells[0]).toBe('alice → bob (2 legs)');
    expect(cells[1]).toMatch(/^(ringing|in-progress) \(live\)$/);
    expect(cells[2]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(cells[3]).toMatch(/^\d+:\d{2}$/);
    // Counted once its legs' Maps are open on the live channel (no message yet).
    await call.locator('td').nth(4).filter({ hasText: /^0$/ }).waitFor({ timeout: MESSAGE_MS });
    console.log(`new call on screen after ${shownMs} ms`);
  });

  it('opens the call beside the list without moving it, and announces a new message', async () => {
    const call = row(wide, aliceLeg);
    const before = await call.boundingBox();
    const scroll = await wide.evaluate(() => window.scrollY);
    await call.getByRole('button', { name: /^Open the call alice → bob/ }).click();
    await wide.locator('#call-detail').waitFor();
    const after = await call.boundingBox();
    expect(after?.y).toBe(before?.y);
    expect(await wide.evaluate(() => window.scrollY)).toBe(scroll);
    const list = await wide.locator('.calls-pane').boundingBox();
    const detail = await wide.locator('#call-card').boundingBox();
    expect(detail!.x).toBeGreaterThanOrEqual(list!.x + list!.width);
    await wide.locator('#history-status', { hasText: 'No messages yet.' }).waitFor();

    const { voiceEventSid } = await stack.control.sendFromPhone('alice', aliceLeg, { hello: 'live' });
    const stored = Date.now();
    await wide.locator(`#history li[data-sid="${voiceEventSid}"]`).waitFor({ timeout: MESSAGE_MS });
    console.log(`message on screen ${Date.now() - stored} ms after its callback was answered`);
    expect(await wide.locator('#history-announce').getAttribute('aria-live')).toBe('polite');
    await wide.locator('#history-announce', { hasText: '1 new message, the last from the softphone.' }).waitFor();
    // Both legs read: the row counts the call's messages.
    await wide.locator('#leg-select').selectOption(bobLeg);
    await wide.locator('#history-status', { hasText: 'No messages yet.' }).waitFor();
    await call.locator('td').nth(4).filter({ hasText: /^1$/ }).waitFor();
  });

  it("counts a listed call's messages both ways, each once, live on a console that has not opened it", async () => {
    const watcher = await consolePage({ width: 1280, height: 900 });
    const count = row(watcher, aliceLeg).locator('td').nth(4);
    await count.filter({ hasText: /^1$/ }).waitFor({ timeout: MESSAGE_MS }); // alice's one, read at login
    // To alice's SDK, long enough to be stored in parts (18 KB of UTF-8); from bob's SDK, on the other leg.
    const sent = await sendMessage(stack.fn, { callSid: aliceLeg, content: { long: 'é'.repeat(9_000) } });
    expect(sent.status).toBe(201);
    const { accountSid, authToken, url } = stack.sandbox;
    const sync = twilio(accountSid, authToken, { lazyLoading: true, httpClient: new SandboxRequestClient(url) }).sync
      .v1;
    const keys = (await sync.services('default').syncMaps(legMapName(aliceLeg)).syncMapItems.list()).map((i) => i.key);
    expect(keys.filter((k) => /^to-sdk-r\.[^~]+~1$/.test(k))).toHaveLength(1); // stored in parts
    await count.filter({ hasText: /^2$/ }).waitFor({ timeout: MESSAGE_MS });
    await stack.control.sendFromPhone('bob', bobLeg, { from: 'bob' });
    await count.filter({ hasText: /^3$/ }).waitFor({ timeout: MESSAGE_MS });
    expect(await watcher.locator('#call-detail').isHidden()).toBe(true);
    // The open console counts the same.
    await row(wide, aliceLeg).locator('td').nth(4).filter({ hasText: /^3$/ }).waitFor({ timeout: MESSAGE_MS });
  });

  it('has no axe-core violations with a call open', async () => {
    expect(await axeViolations(wide)).toEqual([]);
  });

  it('fits 390 px: the detail above the list, nothing overflowing', async () => {
    const narrow = await consolePage({ width: 390, height: 844 });
    await row(narrow, aliceLeg).waitFor();
    const overflow = () => narrow.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await row(narrow, aliceLeg).getByRole('button').click();
    await narrow.locator('#call-detail').waitFor();
    const detail = await narrow.locator('#call-card').boundingBox();
    const list = await narrow.locator('.calls-pane').boundingBox();
    expect(detail!.y + detail!.height).toBeLessThanOrEqual(list!.y);
    expect(await overflow()).toBeLessThanOrEqual(0);
    for (const button of await narrow.locator('#calls button').all()) {
      const box = await button.boundingBox();
      expect(box!.x + box!.width).toBeLessThanOrEqual(390);
    }
    expect(await axeViolations(narrow)).toEqual([]);
  });

  it('turns Send off with its reason when the call ends, and filters live and ended calls', async () => {
    expect(await wide.locator('#send').isDisabled()).toBe(false);
    await stack.control.hangup('alice', aliceLeg);
    await row(wide, aliceLeg).and(wide.locator('[data-live="false"]')).waitFor({ timeout: NEW_CALL_MS });
    await wide.locator('#send:disabled').waitFor();
    expect(await wide.locator('#send-disabled-reason').textContent()).toMatch(/this call has ended/);
    expect(await wide.locator('#send-content').getAttribute('aria-describedby')).toContain('send-disabled-reason');
    await wide.getByRole('radio', { name: 'Live' }).check();
    expect(await row(wide, aliceLeg).isHidden()).toBe(true);
    expect(await wide.locator('#calls-status').textContent()).toBe('No live calls.');
    await wide.getByRole('radio', { name: 'Ended' }).check();
    expect(await row(wide, aliceLeg).isVisible()).toBe(true);
    await wide.getByRole('radio', { name: 'All' }).check();
  });

  it('works by keyboard: tabs with the arrow keys, a call opened with Enter, focus visible', async () => {
    await wide.locator('#tab-calls').focus();
    await wide.keyboard.press('ArrowRight');
    expect(await wide.evaluate(() => document.activeElement?.id)).toBe('tab-agents');
    await wide.locator('#agents-view').waitFor();
    expect(await wide.locator('#calls-view').isHidden()).toBe(true);
    await wide.keyboard.press('ArrowLeft');
    await wide.locator('#calls-view').waitFor();
    await row(wide, aliceLeg).getByRole('button').focus();
    await wide.keyboard.press('Enter');
    expect(await wide.evaluate(() => document.activeElement?.id)).toBe('call-heading');
    await wide.keyboard.press('Tab');
    const outline = await wide.evaluate(() => {
      const style = getComputedStyle(document.activeElement!);
      return `${style.outlineStyle} ${style.outlineWidth}`;
    });
    expect(outline).toBe('solid 3px');
  });

  it('asks before a password reset, copies the new one, and renames an agent', async () => {
    await wide.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.functionsUrl });
    await wide.getByRole('tab', { name: 'Agents' }).click();
    const alice = wide.locator('#agents tr[data-identity="alice"]');
    await alice.getByRole('button', { name: 'Reset password of alice' }).click();
    const dialog = wide.locator('#confirm-dialog');
    await dialog.waitFor();
    // Cancel has the focus: Enter alone changes nothing.
    expect(await wide.evaluate(() => document.activeElement?.id)).toBe('confirm-cancel');
    expect(await axeViolations(wide)).toEqual([]);
    await wide.keyboard.press('Enter');
    await wide.locator('#agents-status', { hasText: 'Nothing changed for alice.' }).waitFor();

    await alice.getByRole('button', { name: 'Reset password of alice' }).click();
    await dialog.getByRole('button', { name: 'Reset password' }).click();
    const status = wide.locator('#agents-status', { hasText: /New password for alice: \S{24} / });
    await status.waitFor();
    const password = /: (\S{24}) /.exec((await status.textContent()) ?? '')![1];
    await wide.getByRole('button', { name: 'Copy password of alice' }).click();
    await wide.locator('#agents-status', { hasText: 'Password copied to the clipboard.' }).waitFor();
    expect(await wide.evaluate(() => navigator.clipboard.readText())).toBe(password);

    await alice.getByRole('button', { name: 'Rename alice' }).click();
    await wide.getByLabel('New display name').fill('Alice on nights');
    await dialog.getByRole('button', { name: 'Rename' }).click();
    await wide.locator('#agents tr[data-identity="alice"]', { hasText: 'Alice on nights' }).waitFor();
    expect(await axeViolations(wide)).toEqual([]);
  });

  it('falls back to a slow refresh, and says so, when the live channel cannot be had', async () => {
    const p = await openPage(browser, stack.functionsUrl, `${stack.functionsUrl}/console.html`);
    pages.push(p);
    await p.page.route('**/operator-sync-token', (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: '{"code":"twilio-unavailable","message":"x"}',
      }),
    );
    await p.page.locator('#operator-secret').fill(SANDBOX_DEFAULTS.operatorSecret);
    await p.page.keyboard.press('Enter');
    await p.page.waitForFunction(() => document.body.dataset.live === 'polling');
    expect(await p.page.locator('#live-status').textContent()).toBe(
      'Live updates unavailable: refreshing every minute.',
    );
    await row(p.page, aliceLeg).waitFor();
  });

  it.each([
    ['console.html', '#operator-secret', SANDBOX_DEFAULTS.operatorSecret],
    ['index.html', '#password', 'a-password-typed-before-the-script'],
  ])('%s sends no secret in a URL when submitted before its script runs', async (path, input, secret) => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      const requests: { url: string; method: string; body: string }[] = [];
      page.on('request', (r) => requests.push({ url: r.url(), method: r.method(), body: r.postData() ?? '' }));
      await page.goto(`${stack.functionsUrl}/${path}`);
      await page.locator(input).fill(secret);
      const submitted = page.waitForRequest((r) => r.isNavigationRequest() && requests.length > 1);
      await page.locator(input).press('Enter');
      const request = await submitted;
      expect(request.method()).toBe('POST');
      for (const r of requests) {
        expect(r.url).not.toContain(encodeURIComponent(secret));
        expect(r.body).not.toContain(encodeURIComponent(secret));
      }
    } finally {
      await context.close();
    }
  });
});
