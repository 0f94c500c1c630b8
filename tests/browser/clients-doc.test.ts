// docs/clients.md's JavaScript block, run as it is: read from the doc (so the doc cannot drift from
// what runs), bundled with the real @twilio/voice-sdk by esbuild, and evaluated in two Chromium pages
// against the sandbox stack. alice calls bob with a custom parameter; alice sends; the server's
// message reaches bob's messageReceived and bob's code answers it with the topic alice passed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import type { Call, Device } from '@twilio/voice-sdk';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { callMessages, sendMessage } from '../../client/src';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';
import { launchBrowser, openPage, type WatchedPage } from '../../testing/browser';
import { describeWithChromium } from '../support/chromium';

jest.setTimeout(30_000);

const ROOT = join(__dirname, '..', '..');
const MARKER = '<!-- clients-doc:js';

/** The first ```js block after the marker in docs/clients.md. */
function jsSnippet(markdown: string): string {
  const at = markdown.indexOf(MARKER);
  if (at < 0) throw new Error(`docs/clients.md has no ${MARKER} marker`);
  const block = /```js\n([\s\S]*?)\n```/.exec(markdown.slice(at));
  if (!block?.[1]) throw new Error('docs/clients.md has no ```js block after its marker');
  return block[1];
}

/** The snippet as one script that leaves its exports on `window.clientsDoc`. */
async function bundle(snippet: string): Promise<string> {
  const out = await build({
    stdin: { contents: snippet, resolveDir: ROOT, sourcefile: 'docs/clients.md#js', loader: 'js' },
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'iife',
    globalName: 'clientsDoc',
    target: ['chrome109'],
    logLevel: 'silent',
  });
  return `${out.outputFiles[0]!.text}\nwindow.clientsDoc = clientsDoc;`;
}

/** What the snippet exports (docs/clients.md), as the test uses it. */
interface ClientsDoc {
  signIn(base: string, identity: string, password: string, deviceOptions?: object): Promise<Device>;
  send(call: Call, content: unknown): string;
  onMessage(call: Call, handle: (content: unknown, voiceEventSid?: string) => void): void;
  placeCall(device: Device, to: string, params?: Record<string, string>): Promise<Call>;
  answerEveryCall(device: Device, handle: (content: unknown) => void): void;
}
declare global {
  interface Window {
    clientsDoc: ClientsDoc;
    device: Device;
    call: Call | undefined;
    received: unknown[];
  }
}

const stack = useTestStack({ gatewayPort: 0 });
let browser: Browser;
let script: string;
const pages: WatchedPage[] = [];

describeWithChromium('docs/clients.md: the JavaScript snippet', () => {
  beforeAll(async () => {
    script = await bundle(jsSnippet(readFileSync(join(ROOT, 'docs/clients.md'), 'utf8')));
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    for (const p of pages) await p.context.close().catch(() => undefined);
    await browser?.close();
  });

  /** A page on the functions' origin running the snippet, signed in as `identity` (the sandbox's Device options). */
  async function agent(identity: 'alice' | 'bob') {
    const origin = stack.functionsUrl;
    const p = await openPage(browser, origin, `${origin}/index.html`);
    pages.push(p);
    await p.page.evaluate(script);
    const password = SANDBOX_DEFAULTS.agents.find((a) => a.identity === identity)!.password;
    await p.page.evaluate(
      async ([base, who, secret]) => {
        const config = (await (await fetch(`${base}/client-config`)).json()) as {
          chunderw: string;
          sounds: Record<string, string>;
        };
        // What the softphone gives the SDK in the sandbox; against Twilio the snippet takes {}.
        const options = {
          chunderw: config.chunderw,
          publishEvents: false,
          closeProtection: false,
          sounds: Object.fromEntries(Object.entries(config.sounds).map(([k, v]) => [k, new URL(v, base).href])),
        };
        window.received = [];
        window.device = await window.clientsDoc.signIn(base, who, secret, options);
      },
      [origin, identity, password] as const,
    );
    return p;
  }

  it('signs in, calls with a custom parameter, sends both ways', async () => {
    const [alice, bob] = await Promise.all([agent('alice'), agent('bob')]);
    // Signing in with a wrong password throws the route's code and message.
    const refused = await alice.page.evaluate(
      (base) => window.clientsDoc.signIn(base, 'alice', 'not-the-password').then(() => 'signed in', String),
      stack.functionsUrl,
    );
    expect(refused).toMatch(/\/agent-session: 401 sign-in-invalid/);

    await bob.page.evaluate(() => {
      window.clientsDoc.answerEveryCall(window.device, (content) => window.received.push(content));
      window.device.on('incoming', (call) => (window.call = call));
    });
    await alice.page.evaluate(async () => {
      const call = await window.clientsDoc.placeCall(window.device, 'bob', { topic: 'billing' });
      window.call = call;
      window.clientsDoc.onMessage(call, (content) => window.received.push(content));
    });

    const legOf = (p: WatchedPage) =>
      waitFor(
        () =>
          p.page.evaluate(() => {
            const call = window.call;
            return call && String(call.status()) === 'open' ? call.parameters.CallSid : undefined;
          }),
        'an open call with its CallSid',
      );
    const [aliceLeg, bobLeg] = await Promise.all([legOf(alice), legOf(bob)]);
    expect((await stack.control.call(bobLeg)).parentCallSid).toBe(aliceLeg);

    const stored = (leg: string, count: number) =>
      waitFor(async () => {
        const messages = (await callMessages(stack.fn, leg)).body.messages ?? [];
        return messages.length >= count ? messages.map((m) => m.data) : undefined;
      }, `${count} message(s) stored on ${leg}`);
    // bob's code answers at once, quicker than any person: a message is only delivered once the
    // project has subscribed its leg (docs/clients.md says so), so the test waits for that here.
    const subscribed = (leg: string) =>
      waitFor(async () => (await stack.control.call(leg)).subscriptions.length > 0, `${leg} subscribed`);
    await Promise.all([subscribed(aliceLeg), subscribed(bobLeg)]);
    const voiceEventSid = await alice.page.evaluate(() =>
      window.clientsDoc.send(window.call!, { hello: 'from alice' }),
    );
    expect(voiceEventSid).toMatch(/^KX/);
    expect(await stored(aliceLeg, 1)).toEqual([{ hello: 'from alice' }]);

    // The server's message reaches bob's messageReceived; bob's code answers with the topic alice's
    // custom parameter carried.
    const sent = await sendMessage(stack.fn, { callSid: bobLeg, content: { from: 'the server' } });
    expect(sent.status).toBe(201);
    await bob.page.waitForFunction(() => window.received.length > 0);
    expect(await bob.page.evaluate(() => window.received)).toEqual([{ from: 'the server' }]);
    const [reply] = await stored(bobLeg, 2).then((all) => all.filter((d) => (d as { topic?: unknown }).topic));
    expect(reply).toEqual({ reply: expect.stringMatching(/^KX/), topic: 'billing' });

    await alice.page.evaluate(() => window.call?.disconnect());
    // The one console error: the refused sign-in's 401.
    expect(alice.errors).toEqual([expect.stringMatching(/401 \(Unauthorized\)/)]);
    expect(bob.errors).toEqual([]);
    for (const p of [alice, bob]) {
      // Only this machine: the functions, the sandbox's gateway.
      expect(p.requests.filter((url) => !/^(https?|wss):\/\/(localhost|127\.0\.0\.1)[:/]/.test(url))).toEqual([]);
    }
  });
});
