// The first day, whole: from an empty account (a number with no voice URL, no TwiML App of ours,
// no agent) to a call on that number answered by a signed-in browser agent, with one deploy. The
// project's own `npm run deploy` (real twilio-run) and `npm run setup` run in a scratch copy of the
// project, reaching the sandbox at Twilio's hostnames through its proxy. The sandbox does not run
// deployed code, so the functions then run under twilio-run with what Twilio would hand a deployed
// Function: the account's credentials and the environment's variables as the Variables API holds
// them (sandbox/stack.ts `deployedFunctionEnv`). Setup's --base-url points the wiring at them.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { deployedFunctionEnv } from '../../sandbox/stack';
import { parseDotEnv } from '../../scripts/dotenv';
import { SETUP_VARIABLES } from '../../scripts/setup/setup';
import { launchBrowser, openPage, type WatchedPage } from '../../testing/browser';
import { waitFor } from '../../testing/stack';
import { describeWithChromium } from '../support/chromium';
import { defined } from '../support/narrow';
import { scratchProject } from '../support/scratch-project';
import { useTestStack } from '../support/stack';

jest.setTimeout(120_000);

// No agent seeded: a deployment starts with none.
const stack = useTestStack({ gatewayPort: 0, agents: [] });
let browser: Browser;
let work: string;
let envFile: string;
const pages: WatchedPage[] = [];

/** `npm run <script> -- <args>` in the scratch root, every Twilio request going to the sandbox. */
function npmRun(script: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) =>
    execFile(
      'npm',
      ['run', '--silent', script, '--', ...args],
      {
        cwd: work,
        env: { ...process.env, HTTPS_PROXY: '', NO_PROXY: '', ...stack.sandbox.twilioProxy.env, FORCE_COLOR: '0' },
        timeout: 100_000,
      },
      (err, stdout, stderr) => done({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

/** `npm run setup` against the sandbox, wiring the number at the local functions. */
const setup = () =>
  npmRun('setup', '--env', envFile, '--config', join(work, 'service-config.json'), '--base-url', stack.functionsUrl);

/** The variables of the environment `npm run deploy` made (the Serverless API's own state). */
function deployedVariables(): Record<string, string> {
  const state = stack.sandbox.serverless.state;
  const service = defined([...state.services.values()].find((s) => s.uniqueName === 'cme'));
  const environment = defined([...state.environments.values()].find((e) => e.serviceSid === service.sid));
  return Object.fromEntries(
    [...state.variables.values()].filter((v) => v.environmentSid === environment.sid).map((v) => [v.key, v.value]),
  );
}

describeWithChromium('the first deploy: deploy once, setup once, a call reaches a browser agent', () => {
  beforeAll(async () => {
    browser = await launchBrowser();
    work = scratchProject('first-deploy-', { linkDist: true });
    mkdirSync(join(work, 'env'));
    envFile = join(work, 'env', '.env');
    // What a new user fills in: the credentials; setup adds the rest it can decide.
    writeFileSync(envFile, `ACCOUNT_SID=${stack.sandbox.accountSid}\nAUTH_TOKEN=${stack.sandbox.authToken}\n`);
    writeFileSync(
      join(work, 'service-config.json'),
      JSON.stringify({
        phoneNumbers: [stack.sandbox.phoneNumber],
        twimlApp: { friendlyName: 'Call Message Events' },
        callerId: stack.sandbox.phoneNumber,
        clientIdentity: 'alice',
        syncServiceSid: 'default',
      }),
    );
    // An empty account: the number answers nowhere yet.
    const [n] = await stack.twilio.incomingPhoneNumbers.list({ phoneNumber: stack.sandbox.phoneNumber });
    await stack.twilio.incomingPhoneNumbers(defined(n).sid).update({ voiceUrl: '', voiceApplicationSid: '' });
  }, 60_000);

  afterAll(async () => {
    for (const p of pages) await p.context.close().catch(() => undefined);
    await browser?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  let password: string;

  it('npm run deploy, then npm run setup: the variables on the environment and in .env, a password once', async () => {
    const deployed = await npmRun('deploy', '--env', envFile, '--skip-build');
    expect(deployed.stderr).not.toMatch(/error/i);
    expect(deployed.code).toBe(0);

    const set = await setup();
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    password = defined(/password, shown this once: (\S+)/.exec(set.stdout)?.[1]);

    const variables = deployedVariables();
    expect(Object.keys(variables).sort()).toEqual([...SETUP_VARIABLES].sort());
    const dotEnv = parseDotEnv(readFileSync(envFile, 'utf8'));
    for (const key of SETUP_VARIABLES) expect(dotEnv[key]).toBe(variables[key]);
    // Nothing secret on the screen but the password shown once.
    expect(set.stdout).not.toContain(defined(variables.API_KEY_SECRET));
    expect(set.stdout).not.toContain(defined(variables.OPERATOR_SECRET));

    // A second setup changes nothing; the next deploy keeps every variable (.env holds them now).
    const again = await setup();
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/added —; changed —/);
    expect((await npmRun('deploy', '--env', envFile, '--skip-build', '--dry-run')).stdout).toMatch(/removed\s+—/);
  });

  it('the deployment, with only those variables, answers a call on the number in the signed-in agent’s browser', async () => {
    await stack.restartFunctions(deployedFunctionEnv(stack.sandbox, deployedVariables()));

    // The status page's report: configured and wired here.
    const secret = deployedVariables().OPERATOR_SECRET!;
    const session = (await (
      await fetch(`${stack.functionsUrl}/operator-session`, { method: 'POST', body: new URLSearchParams({ secret }) })
    ).json()) as { session: string };
    const status = (await (
      await fetch(`${stack.functionsUrl}/operator-status`, { headers: { Authorization: `Bearer ${session.session}` } })
    ).json()) as Record<string, { level?: string }>;
    expect(status.configuration?.level).toBe('ok');
    expect(status.twimlApp?.level).toBe('ok');
    expect(status.numbers?.level).toBe('ok');

    const p = await openPage(browser, stack.functionsUrl, `${stack.functionsUrl}/index.html`);
    pages.push(p);
    await p.page.locator('#identity').fill('alice');
    await p.page.locator('#password').fill(password);
    await p.page.locator('#password').press('Enter');
    await p.page.locator('#device-status', { hasText: 'Registered as alice' }).waitFor({ timeout: 20_000 });

    const { callSid: parent } = await stack.control.callIn('+15551239876');
    await p.page.locator('#incoming').waitFor({ state: 'visible' });
    await p.page.locator('#accept').click();
    await p.page.locator('#call-status', { hasText: 'In call (+15551239876)' }).waitFor();
    const leg = await waitFor(
      async () => (await stack.control.calls()).calls.find((c) => c.parentCallSid === parent)?.sid,
      "alice's leg",
    );
    await waitFor(async () => (await stack.control.call(leg)).subscriptions.length > 0, 'its subscription');
    await stack.control.hangupCall(parent);
  });
});
