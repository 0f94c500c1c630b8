// The landing page at / and the status page, in Chromium (`npm run build` first): from / to the
// status page, logging in with the operator secret, the report as the functions answer it (every
// variable set, Sync, the TwiML App and the sandbox's number pointing here, the version built),
// a session made in the console serving here too, and axe-core's rules on both pages.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { useTestStack } from '../support/stack';
import { axeViolations, launchBrowser, offMachine, openPage, type WatchedPage } from '../../testing/browser';
import { describeWithChromium } from '../support/chromium';

jest.setTimeout(60_000);

const { version } = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string };

const stack = useTestStack();
let browser: Browser;
const pages: WatchedPage[] = [];

describeWithChromium('the landing page and the status page', () => {
  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    for (const p of pages) await p.context.close().catch(() => undefined);
    await browser?.close();
  });

  it('/ leads to the status page, which logs in and shows the deployment configured and wired', async () => {
    const p = await openPage(browser, stack.functionsUrl, `${stack.functionsUrl}/`);
    pages.push(p);
    const { page } = p;
    expect(await axeViolations(page)).toEqual([]);
    await page.getByRole('link', { name: 'Status' }).click();
    await page.waitForSelector('body[data-ready="true"]');
    expect(new URL(page.url()).pathname).toBe('/status.html');
    await page.locator('#operator-secret').fill(SANDBOX_DEFAULTS.operatorSecret);
    await page.keyboard.press('Enter');
    await page.waitForSelector('body[data-checked="true"]');
    expect(await page.locator('#version').textContent()).toBe(version);
    expect(await page.locator('#voice-url').textContent()).toBe(`${stack.functionsUrl}/voice`);
    for (const part of ['#summary', '#configuration-detail', '#sync-detail', '#app-detail', '#numbers-detail'])
      expect([part, await page.locator(part).getAttribute('data-level')]).toEqual([part, 'ok']);
    expect(await page.locator('#variables tr[data-variable="OPERATOR_SECRET"] td').nth(2).textContent()).toBe('set');
    expect(await page.locator(`#numbers tr[data-number="${stack.env.CALLER_ID}"] td`).nth(2).textContent()).toBe('yes');
    // The page shows whether a variable is set, never its value.
    const text = (await page.locator('body').textContent()) ?? '';
    for (const secret of [SANDBOX_DEFAULTS.operatorSecret, stack.env.AUTH_TOKEN, stack.env.API_KEY_SECRET])
      expect(text).not.toContain(secret);
    expect(await axeViolations(page)).toEqual([]);
    expect(offMachine(p.requests)).toEqual([]);
    expect(p.errors).toEqual([]);
  });

  it('a session made in the console serves the status page in the same tab; a wrong secret is told', async () => {
    const p = await openPage(browser, stack.functionsUrl, `${stack.functionsUrl}/console.html`);
    pages.push(p);
    const { page } = p;
    await page.locator('#operator-secret').fill(SANDBOX_DEFAULTS.operatorSecret);
    await page.keyboard.press('Enter');
    await page.locator('#logout').waitFor();
    await page.goto(`${stack.functionsUrl}/status.html`);
    await page.waitForSelector('body[data-checked="true"]');
    expect(await page.locator('#login-card').isHidden()).toBe(true);

    const fresh = await openPage(browser, stack.functionsUrl, `${stack.functionsUrl}/status.html`);
    pages.push(fresh);
    await fresh.page.locator('#operator-secret').fill('not-the-operator-secret-0123456789abcdef');
    await fresh.page.keyboard.press('Enter');
    await fresh.page.locator('#login-error:not(:empty)').waitFor();
    expect(await fresh.page.locator('#login-error').textContent()).toBe('That is not the operator secret.');
    expect(await fresh.page.locator('#report').isHidden()).toBe(true);
  });
});
