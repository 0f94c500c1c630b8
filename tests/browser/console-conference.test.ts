// The operator console's conference panel, against the whole local stack in conference mode: the
// agents are the sandbox's simulated, auto-answering phones (the browser softphones' side is
// tests/browser/conference-transfer.test.ts); the operator runs a warm transfer from the panel.
import type { Browser, Page } from 'playwright-core';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { waitFor } from '../../testing/stack';
import {
  axeViolations,
  contrastProblems,
  launchBrowser,
  offMachine,
  openPage,
  type WatchedPage,
} from '../../testing/browser';
import { useTestStack } from '../support/stack';
import { describeWithChromium } from '../support/chromium';

jest.setTimeout(30_000);

const stack = useTestStack({ env: { CONFERENCE_MODE: 'always' } });
let browser: Browser;
let operator: WatchedPage;

// The next second: Twilio's Timestamps (and so each agent's time in the room) are to the second.
const pause = () => new Promise((resolve) => setTimeout(resolve, 1100));

async function openCallOf(identity: string) {
  const call = await waitFor(
    async () => (await stack.control.phone(identity)).calls.find((c) => c.state === 'open'),
    `${identity} to have an open call`,
  );
  return call.callSid;
}

const row = (page: Page, callSid: string) => page.locator(`#conference-participants tr[data-call-sid="${callSid}"]`);

describeWithChromium('the console’s conference panel', () => {
  let customer: string;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    browser = await launchBrowser();
    await stack.control.registerPhone('alice', { autoAnswer: true });
    await stack.control.registerPhone('bob', { autoAnswer: true });
    customer = (await stack.control.callIn('+15551260001')).callSid;
    alice = await openCallOf('alice');
    await waitFor(async () => (await stack.control.call(alice)).subscriptions.length > 0, 'alice subscribed');
    await stack.control.sendFromPhone('alice', alice, { n: 1 });
    operator = await openPage(browser, stack.functionsUrl, `${stack.functionsUrl}/console.html`);
    const { page } = operator;
    // A locator that never appears fails with its own message, well before the test's timeout.
    page.setDefaultTimeout(10_000);
    await page.locator('#operator-secret').fill(SANDBOX_DEFAULTS.operatorSecret);
    await page.keyboard.press('Enter');
    await page.locator('#session-status').filter({ hasText: 'Logged in until' }).waitFor();
  }, 60_000);

  afterAll(async () => {
    await operator?.context.close().catch(() => undefined);
    await browser?.close();
  });

  it('shows the room of a conference call: who is in it, and its messages', async () => {
    const { page } = operator;
    await page.locator(`#calls tr[data-call-sid="${alice}"]`).getByRole('button').click();
    await page.locator('#conference-panel').waitFor({ state: 'visible' });
    expect(await page.locator('#conference-heading').textContent()).toContain(`cme-${customer.toLowerCase()}`);
    await row(page, customer).waitFor();
    await row(page, alice).waitFor();
    expect(await row(page, alice).textContent()).toContain('alice (agent)');
    await page.locator('#conference-history li').filter({ hasText: '"n": 1' }).waitFor();
    expect(await axeViolations(page)).toEqual([]);
    expect(await contrastProblems(page)).toEqual([]);
  });

  it('holds the customer and adds bob', async () => {
    const { page } = operator;
    await pause();
    await row(page, customer).getByRole('button', { name: /^Hold/ }).click();
    await row(page, customer).filter({ hasText: 'on hold' }).waitFor();
    await row(page, customer)
      .getByRole('button', { name: /^Unhold/ })
      .waitFor();
    expect((await stack.control.call(customer)).hold).toBe(true);
    // Refused first: an identity the panel checks before asking.
    await page.locator('#conference-add-identity').fill('not valid!');
    await page.locator('#conference-add').click();
    expect(await page.locator('#conference-add-identity').getAttribute('aria-invalid')).toBe('true');
    await page.locator('#conference-add-identity').fill('bob');
    await page.locator('#conference-add').click();
    await page
      .locator('#conference-result')
      .filter({ hasText: /Ringing bob \(CA[0-9a-f]{32}\)/ })
      .waitFor();
    bob = await openCallOf('bob');
    await waitFor(async () => (await stack.control.call(bob)).subscriptions.length > 0, 'bob subscribed');
    // The join is recorded from the room's events: the panel shows it on its next read.
    await waitFor(async () => {
      await page.locator('#conference-refresh').click();
      return (await row(page, bob).count()) > 0 || undefined;
    }, 'bob in the panel');
    await stack.control.sendFromPhone('bob', bob, { n: 2 });
  });

  it('sends to all, mutes, unholds, and removes alice after asking', async () => {
    const { page } = operator;
    await page.locator('#conference-send-content').fill('{"n": 10}');
    await page.locator('#conference-send').click();
    await page.locator('#conference-result').filter({ hasText: 'Sent to 2 participants.' }).waitFor();
    await waitFor(
      async () =>
        (await stack.control.phone('bob')).calls.find((c) => c.callSid === bob)?.received.length === 1 || undefined,
      'bob to get the broadcast',
    );
    await row(page, bob).getByRole('button', { name: /^Mute/ }).click();
    await row(page, bob).filter({ hasText: 'muted' }).waitFor();
    await row(page, bob)
      .getByRole('button', { name: /^Unmute/ })
      .click();
    await row(page, bob).getByRole('button', { name: /^Mute/ }).waitFor();
    await row(page, customer)
      .getByRole('button', { name: /^Unhold/ })
      .click();
    await row(page, customer).getByRole('button', { name: /^Hold/ }).waitFor();
    await pause();
    // Cancel first: nothing happens.
    await row(page, alice).getByRole('button', { name: 'Remove alice' }).click();
    await page.locator('#confirm-cancel').click();
    expect((await stack.control.call(alice)).status).toBe('in-progress');
    await row(page, alice).getByRole('button', { name: 'Remove alice' }).click();
    await page.locator('#confirm-ok').click();
    await page.locator(`#conference-participants tr[data-call-sid="${alice}"][data-present="false"]`).waitFor();
    await waitFor(async () => (await stack.control.call(alice)).status === 'completed' || undefined, 'alice gone');
  });

  it('shows each agent’s own time in the room', async () => {
    const { page } = operator;
    await pause();
    await stack.control.sendFromPhone('bob', bob, { n: 4 });
    await stack.control.idle();
    const shown = async (as: string) => {
      await page.locator('#conference-as').fill(as);
      await page.locator('#conference-refresh').click();
      await page
        .locator('#conference-history-status')
        .filter({ hasText: as ? `while ${as} was` : /^\d+ message\(s\)\.$/ })
        .waitFor();
      return page
        .locator('#conference-history li pre')
        .evaluateAll((pres) => pres.map((p) => (JSON.parse(p.textContent ?? 'null') as { n: number }).n))
        .then((ns) => ns.sort((a, b) => a - b)); // to the second: messages in one second come in any order
    };
    expect(await shown('alice')).toEqual([1, 2, 10]);
    expect(await shown('bob')).toEqual([2, 4, 10]);
    expect(await shown('')).toEqual([1, 2, 4, 10]);
    await operator.screenshot('console-conference');
    // A phone-width screen: the panel fits (a CallSid breaks within its cell).
    await page.setViewportSize({ width: 360, height: 740 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await page.locator('#conference-panel').scrollIntoViewIfNeeded();
    await operator.screenshot('console-conference-360');
    expect(await axeViolations(page)).toEqual([]);
    expect(offMachine(operator.requests)).toEqual([]);
    expect(operator.errors).toEqual([]);
  });
});
