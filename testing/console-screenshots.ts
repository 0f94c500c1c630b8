// The operator console's screenshots in docs/ (console-1280.png, console-390.png and
// console-390-list.png): the stack
// `npm start` runs (sandbox + the real functions under twilio-run, on free ports), a few calls
// through /voice and the status callbacks, messages both ways, then the console in Debian's
// Chromium at 1280 and 390 px with a call open. Run: `npm run build && npx tsx testing/console-screenshots.ts`.
import { join } from 'node:path';
import { SANDBOX_DEFAULTS } from '../sandbox/defaults';
import { SandboxControl } from '../sandbox/control-client';
import { startStack } from '../sandbox/stack';
import { launchBrowser, openPage } from './browser';
import { freePort, waitFor } from './stack';

const DOCS = join(__dirname, '..', 'docs');

async function main() {
  const stack = await startStack({ functionsPort: await freePort(), forkProcess: false, quiet: true });
  const control = new SandboxControl(stack.sandbox.url);
  const browser = await launchBrowser();
  try {
    for (const identity of ['alice', 'bob', 'carol']) await control.registerPhone(identity, { autoAnswer: true });
    const open = async (identity: string, not: string[] = []) =>
      (
        await waitFor(
          async () => (await control.phone(identity)).calls.find((c) => c.state === 'open' && !not.includes(c.callSid)),
          `${identity}'s leg`,
        )
      ).callSid;
    const subscribed = (leg: string) =>
      waitFor(async () => (await control.call(leg)).subscriptions.length > 0, 'a subscription', 15_000);

    // An ended client → client call with a few messages.
    const ended = (await control.placeCall('bob', 'carol')).callSid;
    await subscribed(ended);
    await control.sendFromPhone('bob', ended, { order: 1042, status: 'packed' });
    await control.hangup('bob', ended);
    // A phone caller on alice, live, with messages both ways (the one shown open).
    await control.callIn('+15551230042');
    const live = await open('alice');
    await subscribed(live);
    await control.sendFromPhone('alice', live, { hello: 'from the softphone', queue: 'billing' });
    await control.sendFromPhone('alice', live, { customer: { id: 'C-77', tier: 'gold' } });
    // A live client → client call.
    const c2c = (await control.placeCall('carol', 'bob')).callSid;
    await subscribed(c2c);

    for (const [width, height] of [
      [1280, 860],
      [390, 844],
    ] as const) {
      const { page, context } = await openPage(browser, stack.functionsUrl, `${stack.functionsUrl}/console.html`, {
        width,
        height,
      });
      await page.locator('#operator-secret').fill(SANDBOX_DEFAULTS.operatorSecret);
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.body.dataset.live === 'connected');
      await page.waitForFunction(() => document.querySelectorAll('#calls tr').length >= 3);
      await page.locator(`#calls tr[data-legs~="${live}"]`).getByRole('button').click();
      await page.waitForFunction(() => document.querySelectorAll('#history li').length >= 2);
      if (width === 1280) {
        await page.locator('#send-content').fill('{"welcome": "caller", "agent": "alice"}');
        await page.locator('#send').click();
        await page.waitForFunction(() => document.querySelectorAll('#history li').length >= 3);
      }
      // What the screen shows (messages off screen are not painted: content-visibility), from the top;
      // at 390 px also the list below the open call.
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: join(DOCS, `console-${width}.png`) });
      if (width === 390) {
        await page.locator('.calls-pane').scrollIntoViewIfNeeded();
        await page.screenshot({ path: join(DOCS, 'console-390-list.png') });
      }
      await context.close();
    }
    process.stdout.write(`wrote console-1280.png, console-390.png and console-390-list.png in ${DOCS}\n`);
  } finally {
    await browser.close();
    await stack.stop();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
