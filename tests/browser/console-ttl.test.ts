// Issue #23: a leg whose end was never reported is not shown as active forever. Past the active-call
// TTL (SYNC_ACTIVE_CALL_TTL_SECONDS, here a few seconds) with no final status, the console says its
// end was never reported, without asking the functions again, and turns Send off with that reason.
import type { Browser } from 'playwright-core';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';
import { launchBrowser, openPage, type WatchedPage } from '../../testing/browser';
import { describeWithChromium } from '../support/chromium';

jest.setTimeout(60_000);

const TTL_SECONDS = 6;
const stack = useTestStack({ env: { SYNC_ACTIVE_CALL_TTL_SECONDS: String(TTL_SECONDS) } });
let browser: Browser;
let operator: WatchedPage;

describeWithChromium('the operator console and a call whose end is never reported', () => {
  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await operator?.context.close().catch(() => undefined);
    await browser?.close();
  });

  it('shows the call live, then "end not reported" once it is past the TTL', async () => {
    await stack.control.registerPhone('alice', { autoAnswer: true });
    operator = await openPage(browser, stack.functionsUrl, `${stack.functionsUrl}/console.html`);
    const { page } = operator;
    await page.locator('#operator-secret').fill(SANDBOX_DEFAULTS.operatorSecret);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.body.dataset.live === 'connected');
    await stack.control.callIn('+15551239003');
    const leg = (
      await waitFor(
        async () => (await stack.control.phone('alice')).calls.find((c) => c.state === 'open'),
        "alice's leg to open",
      )
    ).callSid;
    const row = page.locator(`#calls tr[data-legs~="${leg}"]`);
    await page.locator(`#calls tr[data-legs~="${leg}"][data-live="true"]`).waitFor();
    await row.getByRole('button').click();
    expect(await page.locator('#send').isDisabled()).toBe(false);
    // The call goes on in the sandbox; no status callback ends it. Once past the TTL:
    await page
      .locator(`#calls tr[data-legs~="${leg}"][data-live="false"][data-status="end not reported"]`)
      .waitFor({ timeout: (TTL_SECONDS + 5) * 1000 });
    await page.locator('#send:disabled').waitFor();
    expect(await page.locator('#send-disabled-reason').textContent()).toMatch(/end was never reported/);
    expect(await row.locator('td').nth(1).textContent()).toBe('end not reported');
  });
});
