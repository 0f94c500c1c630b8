// The real @twilio/voice-sdk in Chromium, against the whole local stack: the sandbox (with its
// signaling gateway) and the real functions under twilio-run on dist/ (`npm run build` first).
// Two softphone pages (alice, bob) and the operator console; the sandbox's control API plays the
// phone network. Screenshots land in test-results/.
import type { Browser, Page } from 'playwright-core';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { callMessages } from '../../client/src';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';
import { contrastProblems, launchBrowser, offMachine, openPage, type WatchedPage } from '../../testing/browser';
import { describeWithChromium } from '../support/chromium';
import { defined } from '../support/narrow';

jest.setTimeout(30_000);

const stack = useTestStack({ gatewayPort: 0 });
let browser: Browser;
let alice: WatchedPage;
let bob: WatchedPage;
let operator: WatchedPage;
const pages: WatchedPage[] = [];

const origin = () => stack.functionsUrl;

async function open(path: string, viewport?: { width: number; height: number }) {
  const p = await openPage(browser, origin(), `${origin()}/${path}`, viewport);
  pages.push(p);
  return p;
}

async function statusText(page: Page, id: string) {
  return (await page.locator(`#${id}`).textContent())?.trim() ?? '';
}

async function expectText(page: Page, id: string, pattern: RegExp, timeout = 10_000) {
  await page.waitForFunction(
    ([elementId, source, flags]) =>
      new RegExp(source, flags).test(document.getElementById(elementId)?.textContent ?? ''),
    [id, pattern.source, pattern.flags] as const,
    { timeout },
  );
}

/** Signs in and registers by keyboard only: type, Tab, type, Enter (the sandbox's seeded agents). */
async function register(p: WatchedPage, identity: string) {
  const { page } = p;
  await page.locator('#identity').focus();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type(identity);
  await page.keyboard.press('Tab');
  await page.keyboard.type(SANDBOX_DEFAULTS.agents.find((a) => a.identity === identity)!.password);
  await page.keyboard.press('Enter');
  await expectText(page, 'device-status', new RegExp(`Registered as ${identity}`));
}

async function callSidOn(page: Page) {
  return waitFor(async () => {
    const sid = await statusText(page, 'call-sid');
    return /^CA[0-9a-f]{32}$/.test(sid) ? sid : undefined;
  }, 'a CallSid on the page');
}

async function subscribed(callSid: string) {
  await waitFor(
    async () => (await stack.control.call(callSid)).subscriptions.length > 0,
    `a subscription on ${callSid}`,
  );
}

async function compose(page: Page, content: string) {
  await page.locator('#message-content').fill(content);
}

async function sendFromSoftphone(page: Page, content: object) {
  await compose(page, JSON.stringify(content));
  await page.locator('#send-message').click();
  const item = page.locator('#messages li[data-direction="out"]').last();
  await item
    .locator('pre')
    .filter({ hasText: defined(Object.keys(content)[0]) })
    .waitFor();
  await page.waitForSelector('#messages li[data-direction="out"][data-status="sent"]');
  return (await item.getAttribute('data-voice-event-sid'))!;
}

describeWithChromium('softphone, console and the sandbox signaling gateway', () => {
  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    for (const p of pages) await p.context.close().catch(() => undefined);
    await browser?.close();
  });

  it('serves the sandbox Device options from /client-config', async () => {
    const res = await fetch(`${origin()}/client-config`);
    const body = (await res.json()) as { sandbox: boolean; chunderw: string; sounds: Record<string, string> };
    expect(body).toMatchObject({ sandbox: true, chunderw: stack.sandbox.gateway!.chunderw });
    expect(Object.keys(body.sounds)).toHaveLength(15);
    const info = (await (await fetch(`${stack.sandbox.url}/sandbox`)).json()) as { gatewayUrl: string };
    expect(info.gatewayUrl).toBe(`wss://localhost:${stack.sandbox.gateway!.port}/signal`);
  });

  it('registers two softphones by keyboard, with a labelled form', async () => {
    [alice, bob] = await Promise.all([open('index.html'), open('index.html')]);
    expect(await statusText(alice.page, 'mode')).toMatch(/Sandbox mode/);
    const unlabelled = await alice.page.evaluate(() =>
      [...document.querySelectorAll('input, textarea, select')]
        .filter((e) => (e as HTMLInputElement).labels?.length === 0)
        .map((e) => e.id),
    );
    expect(unlabelled).toEqual([]);
    const unnamedButtons = await alice.page.evaluate(
      () => [...document.querySelectorAll('button')].filter((b) => !(b.textContent ?? '').trim()).length,
    );
    expect(unnamedButtons).toBe(0);
    await register(alice, 'alice');
    await register(bob, 'bob');
    const phones = (await (await fetch(`${stack.sandbox.url}/sandbox`)).json()) as { phones: string[] };
    expect(phones.phones).toEqual(expect.arrayContaining(['alice', 'bob']));
  });

  describe('alice calls a phone number', () => {
    let callSid: string;

    it('places the call with custom parameters and reaches open with the real CallSid', async () => {
      await stack.control.setPstnBehaviour('+15557654321', 'answer', 300);
      await alice.page.locator('#to').fill('+15557654321');
      await alice.page.locator('#params').fill('topic=billing\npriority=high');
      await alice.page.locator('#call-button').click();
      callSid = await callSidOn(alice.page);
      await expectText(alice.page, 'call-status', /In call/);
      const call = await stack.control.call(callSid);
      expect(call).toMatchObject({ from: 'client:alice', sdkIdentity: 'alice', status: 'in-progress' });
      const child = (await stack.control.calls()).calls.find((c) => c.parentCallSid === callSid)!;
      expect(child.to).toBe('+15557654321');
      await subscribed(callSid);
    });

    it('refuses invalid JSON, non-objects and oversize content in the composer', async () => {
      const { page } = alice;
      await compose(page, '{"broken": ');
      await expectText(page, 'message-error', /Not valid JSON/);
      expect(await page.locator('#send-message').isDisabled()).toBe(true);
      expect(await page.locator('#message-content').getAttribute('aria-invalid')).toBe('true');
      await compose(page, '[1, 2]');
      await expectText(page, 'message-error', /must be a JSON object/);
      await compose(page, JSON.stringify({ big: 'x'.repeat(10_000) }));
      await expectText(page, 'message-size', /10,010 \/ 10,000/);
      await expectText(page, 'message-error', /Too long/);
      expect(await page.locator('#send-message').isDisabled()).toBe(true);
      await compose(page, '{"ok": true}');
      await expectText(page, 'message-size', /^11 \/ 10,000/);
      expect(await page.locator('#send-message').isEnabled()).toBe(true);
    });

    it('SDK → /message-callback → Sync → the operator console shows it', async () => {
      const sid = await sendFromSoftphone(alice.page, { ask: 'balance', account: 42 });
      expect(sid).toMatch(/^KX/);
      const stored = await waitFor(async () => {
        const h = await callMessages(stack.fn, callSid);
        return h.body.messages?.length ? h.body : undefined;
      }, 'the message in Sync');
      expect(stored.messages[0]).toMatchObject({ direction: 'from-sdk', data: { ask: 'balance', account: 42 } });

      operator = await open('console.html');
      const { page } = operator;
      await page.locator('#operator-secret').fill('wrong');
      await page.locator('#login').click();
      await expectText(page, 'login-error', /not the operator secret/);
      await page.locator('#operator-secret').fill(SANDBOX_DEFAULTS.operatorSecret);
      await page.keyboard.press('Enter');
      await expectText(page, 'session-status', /Logged in until/);
      const row = page.locator(`#calls tr[data-call-sid="${callSid}"]`);
      await row.waitFor();
      expect(await row.textContent()).toContain('alice');
      await row.getByRole('button').click();
      await page.locator('#history li[data-direction="from-sdk"]').filter({ hasText: '"balance"' }).waitFor();
    });

    it('console → /send-message core → messageReceived on the softphone', async () => {
      const { page } = operator;
      await page.locator('#send-content').fill('{"balance": 42.5, "currency": "USD"}');
      await page.locator('#send').click();
      await expectText(page, 'send-result', /Sent KX[0-9a-f]{32}/);
      const received = alice.page.locator('#messages li[data-direction="in"]').filter({ hasText: '"currency"' });
      await received.waitFor();
      expect(await received.textContent()).toMatch(/Received from server · \d\d:\d\d:\d\d/);
      // Both directions, in order, on the console.
      await page.waitForFunction(() => document.querySelectorAll('#history li').length === 2);
      expect(
        await page.locator('#history li').evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.direction)),
      ).toEqual(['from-sdk', 'to-sdk']);
      await alice.screenshot('softphone-alice-in-call');
      await operator.screenshot('console');
      expect(await contrastProblems(alice.page)).toEqual([]);
      expect(await contrastProblems(operator.page)).toEqual([]);
    });

    it('ends when the phone party hangs up; sending is then disabled, in the console too, with its reason', async () => {
      const child = (await stack.control.calls()).calls.find((c) => c.parentCallSid === callSid)!;
      await stack.control.hangupCall(child.sid);
      await expectText(alice.page, 'call-status', /Call ended/);
      await compose(alice.page, '{"late": true}');
      expect(await alice.page.locator('#send-message').isDisabled()).toBe(true);
      await expectText(alice.page, 'send-note', /needs an open or ringing call/);
      // The console hears of the end on Sync's live channel and turns Send off, saying why (issue #23).
      await operator.page.locator(`#calls tr[data-call-sid="${callSid}"][data-status="completed"]`).waitFor();
      await operator.page.locator('#send:disabled').waitFor();
      await expectText(operator.page, 'send-disabled-reason', /this call has ended/);
    });
  });

  describe('alice calls bob (client to client, two pages)', () => {
    let aliceLeg: string;
    let bobLeg: string;

    it('rings bob with alice as the caller; bob accepts; both are open', async () => {
      await alice.page.locator('#to').fill('bob');
      // A name /voice would not pass on (Twilio's own are PascalCase) is refused before calling.
      await alice.page.locator('#params').fill('To=+15550000000');
      await alice.page.locator('#call-button').click();
      await expectText(alice.page, 'params-error', /Line 1: the name must be a lower-case letter/);
      await alice.page.locator('#params').fill('reason=demo <&> "quoted"\nticket_id=T-42');
      await alice.page.locator('#call-button').click();
      await bob.page.locator('#incoming').waitFor({ state: 'visible' });
      expect(await statusText(bob.page, 'incoming-text')).toBe('Incoming call from client:alice');
      // alice's custom parameters reached bob's SDK (/voice's <Parameter> nouns → call.customParameters).
      const shown = await bob.page.$$eval('#incoming-params dt, #incoming-params dd', (els) =>
        els.map((e) => e.textContent),
      );
      expect(shown).toEqual(['reason', 'demo <&> "quoted"', 'ticket_id', 'T-42']);
      // Keyboard: the Accept button has focus.
      expect(await bob.page.evaluate(() => document.activeElement?.id)).toBe('accept');
      await bob.page.keyboard.press('Enter');
      await expectText(bob.page, 'call-status', /In call/);
      await expectText(alice.page, 'call-status', /In call/);
      aliceLeg = await callSidOn(alice.page);
      bobLeg = await callSidOn(bob.page);
      expect((await stack.control.call(bobLeg)).parentCallSid).toBe(aliceLeg);
      await Promise.all([subscribed(aliceLeg), subscribed(bobLeg)]);
    });

    it('carries messages from each softphone to its own leg', async () => {
      await sendFromSoftphone(alice.page, { from: 'alice' });
      await sendFromSoftphone(bob.page, { from: 'bob' });
      const contents = async (sid: string) =>
        (await callMessages(stack.fn, sid)).body.messages?.map((m) => m.data) ?? [];
      await waitFor(
        async () => (await contents(aliceLeg)).length === 1 && (await contents(bobLeg)).length === 1,
        'both messages stored',
      );
      expect(await contents(aliceLeg)).toEqual([{ from: 'alice' }]);
      expect(await contents(bobLeg)).toEqual([{ from: 'bob' }]);
      await bob.screenshot('softphone-bob-in-call');
    });

    it('alice hangs up; bob sees the call end', async () => {
      await alice.page.locator('#hangup').click();
      await expectText(alice.page, 'call-status', /Call ended/);
      await expectText(bob.page, 'call-status', /Call ended/);
      await waitFor(async () => (await stack.control.call(bobLeg)).status === 'completed', 'bob leg completed');
    });
  });

  describe('a phone caller rings alice (CLIENT_IDENTITY)', () => {
    it('shows the incoming call; alice rejects it and the caller gets busy', async () => {
      // What npm start's scenario does: a simulated, auto-answering alice. It must not answer the
      // call of the browser registered as alice.
      await stack.control.registerPhone('alice', { autoAnswer: true });
      const { callSid: parent } = await stack.control.callIn('+15551230002');
      await alice.page.locator('#incoming').waitFor({ state: 'visible' });
      expect(await statusText(alice.page, 'incoming-text')).toBe('Incoming call from +15551230002');
      await alice.page.locator('#reject').click();
      await alice.page.locator('#incoming').waitFor({ state: 'hidden' });
      await waitFor(
        async () => !['queued', 'ringing', 'in-progress'].includes((await stack.control.call(parent)).status),
        'the caller to be hung up',
      );
      const leg = (await stack.control.calls()).calls.find((c) => c.parentCallSid === parent)!;
      expect(leg.status).toBe('busy');
    });

    it('accepts the next one and exchanges messages', async () => {
      const { callSid: parent } = await stack.control.callIn('+15551230001');
      await alice.page.locator('#incoming').waitFor({ state: 'visible' });
      await alice.page.locator('#accept').click();
      await expectText(alice.page, 'call-status', /In call \(\+15551230001\)/);
      const leg = await callSidOn(alice.page);
      expect((await stack.control.call(leg)).parentCallSid).toBe(parent);
      await subscribed(leg);
      await sendFromSoftphone(alice.page, { hello: 'from an incoming call' });
      await operator.page.locator(`#calls tr[data-call-sid="${leg}"]`).getByRole('button').click();
      await operator.page.locator('#history li').filter({ hasText: 'from an incoming call' }).waitFor();
      await operator.page.locator('#send-content').fill('{"welcome": "caller"}');
      await operator.page.locator('#send').click();
      await alice.page.locator('#messages li[data-direction="in"]').filter({ hasText: '"welcome"' }).waitFor();
      await stack.control.hangupCall(parent);
      await expectText(alice.page, 'call-status', /Call ended/);
    });

    it('the caller hanging up while it rings cancels the incoming call', async () => {
      const { callSid: parent } = await stack.control.callIn('+15551230003');
      await alice.page.locator('#incoming').waitFor({ state: 'visible' });
      await stack.control.hangupCall(parent);
      await alice.page.locator('#incoming').waitFor({ state: 'hidden' });
      await expectText(alice.page, 'call-status', /Missed call from \+15551230003/);
    });
  });

  it("checks the gateway's certificate before signing in, and says what to do", async () => {
    // A browser that never accepted the self-signed certificate (no ignoreHTTPSErrors).
    const context = await browser.newContext();
    try {
      await context.grantPermissions(['microphone'], { origin: origin() });
      const page = await context.newPage();
      const sockets: string[] = [];
      page.on('websocket', (ws) => sockets.push(ws.url()));
      await page.goto(`${origin()}/index.html`);
      await page.waitForSelector('body[data-ready="true"]');
      await page.locator('#identity').fill('bob');
      await page.locator('#password').fill(SANDBOX_DEFAULTS.agents.find((a) => a.identity === 'bob')!.password);
      await page.locator('#register').click();
      await expectText(page, 'device-status', /accept its certificate, then sign in again/);
      expect(await page.locator('#certificate-hint').isVisible()).toBe(true);
      expect(await page.locator('#certificate-link').getAttribute('href')).toBe(
        `https://localhost:${stack.sandbox.gateway!.port}/`,
      );
      // Nothing was tried: no signaling connection, so no flood of errors.
      expect(sockets).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('fits a phone-width screen', async () => {
    const phone = await open('index.html', { width: 360, height: 740 });
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await phone.screenshot('softphone-phone-width');
    const consolePhone = await open('console.html', { width: 360, height: 740 });
    expect(
      await consolePhone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth),
    ).toBeLessThanOrEqual(0);
  });

  it('sent no request off this machine and logged no console errors', async () => {
    const all = pages.flatMap((p) => p.requests);
    expect(all.some((u) => u.startsWith('wss://localhost:'))).toBe(true);
    expect(all.some((u) => u.includes('/sounds/silence.wav'))).toBe(true);
    expect(offMachine(all)).toEqual([]);
    // The browser logs every non-2xx fetch; these two are the refusals the tests asked for.
    const expected = [/status of 403 \(Forbidden\)/, /status of 409 \(Conflict\)/];
    const errors = pages.flatMap((p) => p.errors);
    expect(errors.filter((e) => !expected.some((re) => re.test(e)))).toEqual([]);
    console.log(
      `browser requests: ${all.length}, distinct hosts: ${[...new Set(all.map((u) => new URL(u).host))].join(' ')}`,
    );
  });
});
