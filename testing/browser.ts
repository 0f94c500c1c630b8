// Shared by the browser tests: Debian's Chromium driven by playwright-core, and a page wrapper that
// records every request (to prove nothing leaves localhost) and every console error.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const RESULTS = join(__dirname, '..', 'test-results');

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** Every URL the page asked for: documents, scripts, fetches, sounds, WebSockets. */
  requests: string[];
  /** Console errors and uncaught exceptions. */
  errors: string[];
  screenshot(name: string): Promise<void>;
}

export async function openPage(
  browser: Browser,
  origin: string,
  url: string,
  viewport = { width: 1100, height: 900 },
): Promise<WatchedPage> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
  await context.grantPermissions(['microphone'], { origin });
  const page = await context.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  context.on('request', (req) => requests.push(req.url()));
  page.on('websocket', (ws) => requests.push(ws.url()));
  page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
  return {
    page,
    context,
    requests,
    errors,
    async screenshot(name: string) {
      mkdirSync(RESULTS, { recursive: true });
      await page.screenshot({ path: join(RESULTS, `${name}.png`), fullPage: true });
    },
  };
}

/** Hosts a request went to that are not this machine (data: and blob: URLs stay local). */
export function offMachine(urls: string[]): string[] {
  return urls.filter((u) => {
    const url = new URL(u);
    if (url.protocol === 'data:' || url.protocol === 'blob:') return false;
    return !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  });
}

/**
 * Text whose colour contrast against its background is below WCAG AA (4.5:1; 3:1 for large
 * text), for every visible element that holds text directly. Backgrounds are plain colours here.
 */
export function contrastProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const luminance = (c: number[]) => {
      const [r, g, b] = c;
      if (r === undefined || g === undefined || b === undefined) throw new Error(`not an RGB colour: ${c.join(', ')}`);
      const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el: Element | null): number[] => {
      for (; el; el = el.parentElement) {
        const c = rgb(getComputedStyle(el).backgroundColor);
        const alpha = c[3];
        if (c.length === 3 || (c.length === 4 && alpha !== undefined && alpha > 0)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const problems: string[] = [];
    for (const el of document.querySelectorAll('body *')) {
      const hasText = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && (n.textContent ?? '').trim());
      const style = getComputedStyle(el);
      const box = el.getBoundingClientRect();
      if (
        !hasText ||
        style.visibility === 'hidden' ||
        box.width === 0 ||
        box.height === 0 ||
        el.closest('.visually-hidden')
      )
        continue;
      const fg = luminance(rgb(style.color));
      const bg = luminance(background(el));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5))
        problems.push(
          `${el.tagName.toLowerCase()}#${el.id} "${(el.textContent ?? '').trim().slice(0, 30)}" ${ratio.toFixed(2)}:1`,
        );
    }
    return problems;
  });
}

/** axe-core's WCAG 2.1 A/AA and best-practice rules on the page as it is: the violations, by rule and target. */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the page's own CSP (no inline script) does not apply.
  await page.evaluate(readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
  return page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run(ctx: Document, o: object): Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }>;
        };
      }
    ).axe;
    const result = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    });
    return result.violations.flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}`));
  });
}
