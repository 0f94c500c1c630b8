// Agents in the browser, against the whole local stack (`npm run build` first): the operator adds
// two agents in the console, they sign in on two softphone pages and call each other, then the
// operator disables one, who can get no new token. Screenshots land in test-results/.
import type { Browser, Page } from 'playwright-core';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';
import { contrastProblems, launchBrowser, offMachine, openPage, type WatchedPage } from '../../testing/browser';
import { describeWithChromium } from '../support/chromium';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { defined } from '../support/narrow';

jest.setTimeout(30_000);

const stack = useTestStack({ gatewayPort: 0 });
let browser: Browser;
let operator: WatchedPage;
let carol: WatchedPage;
let dave: WatchedPage;
const pages: WatchedPage[] = [];
const passwords: Record<string, string> = {};
const sessions: Record<string, string> = {};

async function open(path: string) {
  const p = await openPage(browser, stack.functionsUrl, `${stack.functionsUrl}/${path}`);
  pages.push(p);
  return p;
}

async function expectText(page: Page, id: string, pattern: RegExp, timeout = 10_000) {
  await page.waitForFunction(
    ([elementId, source, flags]) =>
      new RegExp(source, flags).test(document.getElementById(elementId)?.textContent ?? ''),
    [id, pattern.source, pattern.flags] as const,
    { timeout },
  );
}

const text = async (page: Page, id: string) => (await page.locator(`#${id}`).textContent())?.trim() ?? '';

/** Signs in on a softphone page; keeps the agent session /agent-session answered (the page holds it in memory). */
async function signIn(p: WatchedPage, identity: string, password: string) {
  const answered = p.page.waitForResponse((r) => r.url().endsWith('/agent-session'));
  await p.page.locator('#identity').fill(identity);
  await p.page.locator('#password').fill(password);
  await p.page.locator('#password').press('Enter');
  return answered;
}

const tokenWith = (session: string) =>
  fetch(`${stack.functionsUrl}/token`, { method: 'POST', headers: { Authorization: `Bearer ${session}` } });

describeWithChromium('agents: sign-in, calls between two agents, disabling', () => {
  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    for (const p of pages) await p.context.close().catch(() => undefined);
    await browser?.close();
  });

  it('the operator sees the seeded agents and adds two more in the console', async () => {
    operator = await open('console.html');
    const { page } = operator;
    await page.locator('#operator-secret').fill(SANDBOX_DEFAULTS.operatorSecret);
    await page.keyboard.press('Enter');
    // The agents have their own tab (issue #23): the calls come first.
    await page.getByRole('tab', { name: 'Agents' }).click();
    await page.locator('#agents tr[data-identity="alice"]').waitFor();
    await page.locator('#agents tr[data-identity="bob"]').waitFor();
    // The form says which identities every Voice SDK takes, and refuses the others before sending.
    expect(await text(page, 'agent-identity-hint')).toMatch(/letters, digits and _ only.*iOS and Android.*\. or -/);
    await page.locator('#agent-identity').fill('dave.smith');
    await page.locator('#agent-add').click();
    await expectText(page, 'agents-status', /no \. or -/);

    // carol: a generated password, shown once.
    await page.locator('#agent-identity').fill('carol');
    await page.locator('#agent-name').fill('Carol Danvers');
    await page.locator('#agent-add').click();
    await expectText(page, 'agents-status', /New password for carol: \S{24} \(shown once/);
    passwords.carol = defined(/New password for carol: (\S{24})/.exec(await text(page, 'agents-status'))?.[1]);
    // dave: a password the operator chose.
    passwords.dave = 'dave-chosen-password';
    await page.locator('#agent-identity').fill('dave');
    await page.locator('#agent-password').fill(passwords.dave);
    await page.locator('#agent-add').click();
    await expectText(page, 'agents-status', /Added dave\./);
    await page.locator('#agents tr[data-identity="dave"]').waitFor();
    const row = page.locator('#agents tr[data-identity="carol"]');
    expect(await row.textContent()).toContain('Carol Danvers');
    expect(await page.locator('#agents tr').count()).toBe(4);
    expect(await contrastProblems(page)).toEqual([]);
  });

  it('carol and dave sign in on two pages; a wrong password is refused', async () => {
    [carol, dave] = await Promise.all([open('index.html'), open('index.html')]);
    const refused = await signIn(carol, 'carol', 'not-her-password');
    expect(refused.status()).toBe(401);
    await expectText(carol.page, 'device-status', /Wrong identity or password/);

    for (const [p, identity] of [
      [carol, 'carol'],
      [dave, 'dave'],
    ] as const) {
      const res = await signIn(p, identity, defined(passwords[identity]));
      expect(res.status()).toBe(200);
      sessions[identity] = ((await res.json()) as { session: string }).session;
      await expectText(p.page, 'device-status', new RegExp(`Registered as ${identity}`));
      // The password field is cleared once used.
      expect(await p.page.locator('#password').inputValue()).toBe('');
    }
    expect(await text(carol.page, 'device-status')).toBe('Registered as carol (Carol Danvers).');
    const info = (await (await fetch(`${stack.sandbox.url}/sandbox`)).json()) as { phones: string[] };
    expect(info.phones).toEqual(expect.arrayContaining(['carol', 'dave']));
    // Each session mints for its own agent only.
    const own = (await (await tokenWith(defined(sessions.dave))).json()) as { identity: string };
    expect(own.identity).toBe('dave');
  });

  it('carol calls dave; dave accepts; both are in the call; carol hangs up', async () => {
    await carol.page.locator('#to').fill('dave');
    await carol.page.locator('#call-button').click();
    await dave.page.locator('#incoming').waitFor({ state: 'visible' });
    expect(await text(dave.page, 'incoming-text')).toBe('Incoming call from client:carol');
    await dave.page.locator('#accept').click();
    await expectText(dave.page, 'call-status', /In call/);
    await expectText(carol.page, 'call-status', /In call/);
    const carolLeg = await waitFor(async () => {
      const sid = await text(carol.page, 'call-sid');
      return /^CA[0-9a-f]{32}$/.test(sid) ? sid : undefined;
    }, 'carol CallSid');
    expect(await stack.control.call(carolLeg)).toMatchObject({ from: 'client:carol' });
    await dave.screenshot('agents-dave-in-call');
    await carol.page.locator('#hangup').click();
    await expectText(dave.page, 'call-status', /Call ended/);
  });

  it('the operator disables dave: no new token for him, carol is unaffected', async () => {
    const { page } = operator;
    await page.locator('#agents tr[data-identity="dave"]').getByRole('button', { name: 'Disable dave' }).click();
    // Disabling asks first (issue #23).
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Disable' }).click();
    await expectText(page, 'agents-status', /dave disabled/);
    await page.locator('#agents tr[data-identity="dave"][data-enabled="false"]').waitFor();

    // The session his page holds no longer gets a token (what the softphone's renewal asks for).
    const renewal = await tokenWith(defined(sessions.dave));
    expect(renewal.status).toBe(403);
    expect(((await renewal.json()) as { code: string }).code).toBe('agent-disabled');
    expect((await tokenWith(defined(sessions.carol))).status).toBe(200);

    // Signing in again on his page is refused, and says why.
    await dave.page.locator('#unregister').click();
    await expectText(dave.page, 'device-status', /Not registered/);
    const res = await signIn(dave, 'dave', defined(passwords.dave));
    expect(res.status()).toBe(403);
    await expectText(dave.page, 'device-status', /disabled/);
    await dave.screenshot('agents-dave-disabled');
    await operator.screenshot('console-agents');
  });

  it('sent no request off this machine and logged only the refusals asked for', () => {
    expect(offMachine(pages.flatMap((p) => p.requests))).toEqual([]);
    const expected = [/status of 401 \(Unauthorized\)/, /status of 403 \(Forbidden\)/];
    expect(pages.flatMap((p) => p.errors).filter((e) => !expected.some((re) => re.test(e)))).toEqual([]);
  });
});
