// The pages' own defences, in Chromium (`npm run build` first): Twilio Assets cannot send security
// headers, so each page carries its Content-Security-Policy in a <meta> tag and refuses to run
// inside a frame (a <meta> CSP cannot say frame-ancestors).
import type { Browser } from 'playwright-core';
import { useTestStack } from '../support/stack';
import { launchBrowser, openPage, type WatchedPage } from '../../testing/browser';
import { describeWithChromium } from '../support/chromium';

jest.setTimeout(30_000);

const stack = useTestStack();
let browser: Browser;
const pages: WatchedPage[] = [];

describeWithChromium('pages: Content-Security-Policy and frame refusal', () => {
  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    for (const p of pages) await p.context.close().catch(() => undefined);
    await browser?.close();
  });

  const PAGES = ['index.html', 'console.html', 'status.html', 'assets/index.html'];
  const policyOf = async (path: string) => {
    const html = await (await fetch(`${stack.functionsUrl}/${path}`)).text();
    return /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
  };

  it('every page carries the same strict policy: own scripts and styles only, no plugins, no base, no inline code', async () => {
    const policies = await Promise.all(PAGES.map(policyOf));
    expect(policies[0]).toBeDefined();
    for (const policy of policies.slice(1)) expect(policy).toBe(policies[0]);
    const directives = Object.fromEntries(
      policies[0]!.split(';').map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name, values];
      }),
    );
    expect(directives['default-src']).toEqual(["'self'"]);
    expect(directives['script-src']).toEqual(["'self'"]);
    expect(directives['style-src']).toEqual(["'self'"]);
    expect(directives['object-src']).toEqual(["'none'"]);
    expect(directives['base-uri']).toEqual(["'none'"]);
    const sources = Object.values(directives).flat();
    for (const loose of ['*', "'unsafe-inline'", "'unsafe-eval'", 'http:', 'https:'])
      expect(sources).not.toContain(loose);
  });

  it.each(PAGES)('%s runs under it, and an injected inline script does not', async (path) => {
    const p = await openPage(browser, stack.functionsUrl, `${stack.functionsUrl}/${path}`);
    pages.push(p);
    await p.page.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'window.__injected = true';
      document.head.append(script);
    });
    expect(await p.page.evaluate(() => (window as { __injected?: boolean }).__injected)).toBeUndefined();
    expect(p.errors.join('\n')).toMatch(/Content Security Policy/);
  });

  it.each(PAGES)('%s empties itself and does not start inside a frame', async (path) => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.setContent(`<iframe src="${stack.functionsUrl}/${path}" width="800" height="600"></iframe>`);
    const frame = await (await page.waitForSelector('iframe')).contentFrame();
    await frame!.waitForFunction(() => document.body?.textContent?.includes('cannot be shown inside a frame'));
    expect(await frame!.evaluate(() => document.body.dataset.ready)).toBeUndefined();
    expect(await frame!.evaluate(() => document.querySelectorAll('form, button, input').length)).toBe(0);
    await context.close();
  });
});
