// A warm transfer with three parties and two browsers: a simulated phone calls in under
// CONFERENCE_MODE=always, alice answers in her softphone, the operator holds the customer and adds
// bob (a Participants-API call to client:bob, answered in his softphone through the sandbox's
// gateway), both agents exchange messages, then alice leaves and bob carries on.
import type { Browser, Page } from 'playwright-core';
import type { ConferenceMessagesPage, ConferenceRoom } from '../../lib/shared/api-types';
import { roomOf } from '../../lib/calls/conference';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { waitFor } from '../../testing/stack';
import { launchBrowser, offMachine, openPage, type WatchedPage } from '../../testing/browser';
import { operatorSession, useTestStack } from '../support/stack';
import { describeWithChromium } from '../support/chromium';

jest.setTimeout(30_000);

const stack = useTestStack({ gatewayPort: 0, env: { CONFERENCE_MODE: 'always' } });
let browser: Browser;
const pages: WatchedPage[] = [];

// The next second: Twilio's Timestamps (and so each agent's time in the room) are to the second.
const pause = () => new Promise((resolve) => setTimeout(resolve, 1100));

async function expectText(page: Page, id: string, pattern: RegExp, timeout = 10_000) {
  await page.waitForFunction(
    ([elementId, source, flags]) =>
      new RegExp(source, flags).test(document.getElementById(elementId)?.textContent ?? ''),
    [id, pattern.source, pattern.flags] as const,
    { timeout },
  );
}

async function register(page: Page, identity: string) {
  await page.locator('#identity').fill(identity);
  await page.locator('#password').fill(SANDBOX_DEFAULTS.agents.find((a) => a.identity === identity)!.password);
  await page.locator('#register').click();
  await expectText(page, 'device-status', new RegExp(`Registered as ${identity}`));
}

async function answer(page: Page): Promise<string> {
  await page.locator('#incoming').waitFor({ state: 'visible' });
  await page.locator('#accept').click();
  await expectText(page, 'call-status', /In call/);
  return waitFor(async () => {
    const sid = (await page.locator('#call-sid').textContent())?.trim() ?? '';
    return /^CA[0-9a-f]{32}$/.test(sid) ? sid : undefined;
  }, 'a CallSid on the page');
}

/** Sends from the softphone's own composer and waits for the SDK to confirm it. */
async function send(page: Page, content: { n: number }) {
  await page.locator('#message-content').fill(JSON.stringify(content));
  await page.locator('#send-message').click();
  await page
    .locator('#messages li[data-direction="out"][data-status="sent"]')
    .filter({ hasText: `"n": ${content.n}` })
    .waitFor();
}

async function received(page: Page, n: number) {
  await page
    .locator('#messages li[data-direction="in"]')
    .filter({ hasText: `"n": ${n}` })
    .waitFor();
}

async function subscribed(callSid: string) {
  await waitFor(async () => (await stack.control.call(callSid)).subscriptions.length > 0, `${callSid} subscribed`);
}

describeWithChromium('a warm transfer between two browser softphones (conference mode)', () => {
  let alice: WatchedPage;
  let bob: WatchedPage;
  let session: string;
  let customer: string;
  let room: string;
  let aliceLeg: string;
  let bobLeg: string;

  const conference = async (body: Record<string, string>) => {
    const res = await fetch(`${stack.functionsUrl}/operator-conference`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${session}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ conference: room, ...body }),
    });
    return { status: res.status, body: (await res.json()) as unknown };
  };
  const history = async (as?: string) =>
    ((await conference({ action: 'messages', ...(as ? { as } : {}) })).body as ConferenceMessagesPage).messages;
  // A broadcast goes to the SDK participants the room's events recorded: wait for the join event.
  const inRoom = (callSid: string) =>
    waitFor(async () => {
      const state = (await conference({ action: 'room' })).body as ConferenceRoom;
      return state.participants.find((p) => p.callSid === callSid)?.present || undefined;
    }, `${callSid} recorded in the room`);
  const numbers = async (as?: string) =>
    (await history(as)).map((m) => (JSON.parse(m.content ?? 'null') as { n: number }).n).sort((a, b) => a - b);

  beforeAll(async () => {
    browser = await launchBrowser();
    session = await operatorSession(stack);
    const open = async () => {
      const p = await openPage(browser, stack.functionsUrl, `${stack.functionsUrl}/index.html`);
      pages.push(p);
      return p;
    };
    [alice, bob] = await Promise.all([open(), open()]);
    await register(alice.page, 'alice');
    await register(bob.page, 'bob');
  }, 60_000);

  afterAll(async () => {
    for (const p of pages) await p.context.close().catch(() => undefined);
    await browser?.close();
  });

  it('rings alice; she answers in the browser, into the customer’s room', async () => {
    customer = (await stack.control.callIn('+15551250001')).callSid;
    room = roomOf(customer);
    aliceLeg = await answer(alice.page);
    await subscribed(aliceLeg);
    await send(alice.page, { n: 1 });
    await Promise.all([inRoom(aliceLeg), inRoom(customer)]);
    const state = (await conference({ action: 'room' })).body as ConferenceRoom;
    expect(state.participants.map((p) => p.callSid).sort()).toEqual([customer, aliceLeg].sort());
  });

  it('holds the customer and adds bob, who answers in his browser', async () => {
    await pause();
    expect((await conference({ action: 'hold', callSid: customer })).status).toBe(200);
    await waitFor(async () => (await stack.control.call(customer)).hold === true || undefined, 'the customer on hold');
    const add = await conference({ action: 'add', to: 'bob' });
    expect(add.status).toBe(201);
    const added = (add.body as { callSid: string }).callSid;
    bobLeg = await answer(bob.page);
    expect(bobLeg).toBe(added);
    await subscribed(bobLeg);
    await inRoom(bobLeg);
  });

  it('carries messages both ways with both agents', async () => {
    await send(bob.page, { n: 2 });
    await send(alice.page, { n: 3 });
    const sent = await conference({ action: 'send', content: JSON.stringify({ n: 10 }), idempotencyKey: 'both' });
    expect(sent.status).toBe(201);
    await Promise.all([received(alice.page, 10), received(bob.page, 10)]);
    expect((await conference({ action: 'unhold', callSid: customer })).status).toBe(200);
    await waitFor(async () => (await stack.control.call(customer)).hold === false || undefined, 'the customer back');
  });

  it('lets alice leave; bob and the customer go on', async () => {
    await pause();
    expect((await conference({ action: 'remove', identity: 'alice' })).status).toBe(200);
    await expectText(alice.page, 'call-status', /Call ended/);
    await pause();
    await send(bob.page, { n: 4 });
    const sent = await conference({ action: 'send', content: JSON.stringify({ n: 5 }), idempotencyKey: 'after' });
    expect(sent.status).toBe(201);
    await received(bob.page, 5);
    expect((await stack.control.call(customer)).status).toBe('in-progress');
    expect((await stack.control.call(bobLeg)).status).toBe('in-progress');
  });

  it('subscribed each SDK leg once, lost nothing, and gives each agent only its own time', async () => {
    await stack.control.idle();
    expect((await stack.control.call(aliceLeg)).subscriptionsCreated).toBe(1);
    expect((await stack.control.call(bobLeg)).subscriptionsCreated).toBe(1);
    // Every message a page sent is in the room's history, from its own leg.
    const all = await history();
    const from = (leg: string) =>
      all
        .filter((m) => m.direction === 'from-sdk' && m.callSid === leg)
        .map((m) => (JSON.parse(m.content ?? 'null') as { n: number }).n);
    expect(from(aliceLeg)).toEqual([1, 3]);
    expect(from(bobLeg)).toEqual([2, 4]);
    expect(await numbers()).toEqual([1, 2, 3, 4, 5, 10]);
    expect(await numbers('alice')).toEqual([1, 2, 3, 10]);
    expect(await numbers('bob')).toEqual([2, 3, 4, 5, 10]);
    const state = (await conference({ action: 'room' })).body as ConferenceRoom;
    expect(Object.fromEntries(state.participants.map((p) => [p.callSid, p.present]))).toEqual({
      [customer]: true,
      [aliceLeg]: false,
      [bobLeg]: true,
    });
  });

  it('ends with the customer, and nothing left this machine', async () => {
    await stack.control.hangupCall(customer);
    await expectText(bob.page, 'call-status', /Call ended/);
    // The room's last callbacks settle before the stack stops.
    await stack.control.idle();
    expect(offMachine(pages.flatMap((p) => p.requests))).toEqual([]);
    expect(pages.flatMap((p) => p.errors)).toEqual([]);
  });
});
