// `npm run wire` against the in-process sandbox, through the real `twilio` client.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import twilio from 'twilio';
import { startSandbox, type Sandbox } from '../../sandbox/app';
import { SandboxRequestClient } from '../../sandbox/request-client';
import type { TwilioClient } from '../../lib/platform/twilio-client';
import { wire, WireError, WireRefusal, type WireOptions } from '../../scripts/wire/wire';
import {
  loadServiceConfig,
  ServiceConfigError,
  validateServiceConfig,
  type ServiceConfig,
} from '../../scripts/wire/service-config';
import { parseDotEnv, readCredentials } from '../../scripts/dotenv';
import { readDeployInfo } from '../../scripts/wire/base-url';
import { defined } from '../support/narrow';
import { sid, accountSid, syncServiceSid } from '../../testing/sids';

const ROOT = resolve(__dirname, '../..');
const BASE = 'https://example-1234.twil.io';
const VOICE = `${BASE}/voice`;

let sandbox: Sandbox;
let client: TwilioClient;
let cwd: string;
let numberSid: string;

const config = (over: Partial<ServiceConfig> = {}): ServiceConfig => ({
  phoneNumbers: ['+15005550006'],
  twimlApp: { friendlyName: 'Call Message Events' },
  callerId: '+15005550006',
  clientIdentity: 'alice',
  syncServiceSid: 'default',
  ...over,
});

function run(cfg = config(), options: WireOptions = {}) {
  const lines: string[] = [];
  const promise = wire(client, cfg, { baseUrl: BASE, cwd, log: (l) => lines.push(l), ...options });
  return { lines, promise };
}

const writes = () => sandbox.requests.filter((r) => r.product === 'api' && r.method !== 'GET');
const theNumber = () => client.incomingPhoneNumbers(numberSid).fetch();
const appsNamed = (friendlyName: string) => client.applications.list({ friendlyName });

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

beforeEach(async () => {
  sandbox = await startSandbox({ port: 0 });
  client = twilio(sandbox.accountSid, sandbox.authToken, { httpClient: new SandboxRequestClient(sandbox.url) });
  cwd = mkdtempSync(join(tmpdir(), 'wire-test-'));
  // A freshly bought number: no voice URL yet.
  const [n] = await client.incomingPhoneNumbers.list({ phoneNumber: sandbox.phoneNumber });
  numberSid = defined(n).sid;
  await client.incomingPhoneNumbers(numberSid).update({ voiceUrl: '' });
  sandbox.requests.length = 0;
});

afterEach(async () => {
  await sandbox.close();
  rmSync(cwd, { recursive: true, force: true });
});

describe('wire core', () => {
  it('first run points the number at /voice and creates the TwiML App', async () => {
    const { lines, promise } = run();
    const result = await promise;

    expect(result.applied).toBe(true);
    expect(result.plan.voiceUrl).toBe(VOICE);
    expect(result.plan.changes.map((c) => c.kind).sort()).toEqual(['create-app', 'number']);
    expect(lines).toContain(`  ~ number +15005550006 (${numberSid}): voice URL '' → '${VOICE}'`);
    expect(lines).toContain(`  + TwiML App 'Call Message Events': create with voice URL '${VOICE}' (POST)`);

    const n = await theNumber();
    expect(n.voiceUrl).toBe(VOICE);
    expect(n.voiceMethod).toBe('POST');
    const apps = await appsNamed('Call Message Events');
    expect(apps).toHaveLength(1);
    const app = defined(apps[0]);
    expect(app.voiceUrl).toBe(VOICE);
    expect(app.voiceMethod).toBe('POST');

    expect(result.variables).toEqual({
      TWIML_APP_SID: app.sid,
      CALLER_ID: '+15005550006',
      CLIENT_IDENTITY: 'alice',
      SYNC_SERVICE_SID: 'default',
    });
    expect(lines).toContain(`  TWIML_APP_SID=${app.sid}`);
    expect(lines.some((l) => l.includes('.env'))).toBe(true);
  });

  it('a second run reports no changes and writes nothing', async () => {
    const first = await run().promise;
    sandbox.requests.length = 0;
    const { lines, promise } = run();
    const second = await promise;

    expect(second.plan.changes).toEqual([]);
    expect(second.applied).toBe(false);
    expect(lines.some((l) => /no changes/.test(l))).toBe(true);
    expect(writes()).toEqual([]);
    expect(second.variables.TWIML_APP_SID).toBe(first.variables.TWIML_APP_SID);
    expect(await appsNamed('Call Message Events')).toHaveLength(1);
  });

  it('--dry-run prints the plan and changes nothing', async () => {
    const { lines, promise } = run(config(), { dryRun: true });
    const result = await promise;

    expect(result.applied).toBe(false);
    expect(result.plan.changes).toHaveLength(2);
    expect(lines.some((l) => /Dry run: nothing was changed/.test(l))).toBe(true);
    expect(result.variables.TWIML_APP_SID).toBeUndefined();
    expect(lines.some((l) => l.startsWith('  TWIML_APP_SID=<'))).toBe(true);
    expect(writes()).toEqual([]);
    expect((await theNumber()).voiceUrl).toBe('');
    expect(await appsNamed('Call Message Events')).toHaveLength(0);
  });

  it('refuses a number whose voice URL points elsewhere, and changes nothing', async () => {
    await client.incomingPhoneNumbers(numberSid).update({ voiceUrl: 'https://elsewhere.example.com/ivr' });
    sandbox.requests.length = 0;
    const { lines, promise } = run();
    const err = await failure(promise);

    expect(err).toBeInstanceOf(WireRefusal);
    expect((err as WireRefusal).exitCode).toBe(2);
    expect(err.message).toContain('+15005550006');
    expect(err.message).toContain('https://elsewhere.example.com/ivr');
    expect(err.message).toContain('--force');
    expect(lines.some((l) => l.includes('[needs --force]'))).toBe(true);
    expect(writes()).toEqual([]);
    expect((await theNumber()).voiceUrl).toBe('https://elsewhere.example.com/ivr');
    expect(await appsNamed('Call Message Events')).toHaveLength(0);
  });

  it('refuses a number wired to another TwiML App, even on a dry run', async () => {
    const other = await client.applications.create({
      friendlyName: 'Someone else',
      voiceUrl: 'https://other.example.com/voice',
    });
    await client.incomingPhoneNumbers(numberSid).update({ voiceApplicationSid: other.sid });
    const err = await failure(run(config(), { dryRun: true }).promise);
    expect(err).toBeInstanceOf(WireRefusal);
    expect(err.message).toContain(other.sid);
  });

  it('--force rewires a number that points elsewhere (and clears its TwiML App)', async () => {
    const other = await client.applications.create({
      friendlyName: 'Someone else',
      voiceUrl: 'https://other.example.com/voice',
    });
    await client
      .incomingPhoneNumbers(numberSid)
      .update({ voiceUrl: 'https://elsewhere.example.com/ivr', voiceMethod: 'GET', voiceApplicationSid: other.sid });
    const { lines, promise } = run(config(), { force: true });
    const result = await promise;

    expect(result.applied).toBe(true);
    expect(
      lines.some(
        (l) =>
          l.includes('[--force]') &&
          l.includes('voice method GET → POST') &&
          l.includes(`TwiML App ${other.sid} → none`),
      ),
    ).toBe(true);
    const n = await theNumber();
    expect(n.voiceUrl).toBe(VOICE);
    expect(n.voiceMethod).toBe('POST');
    expect(n.voiceApplicationSid).toBeNull();
    expect((await run().promise).plan.changes).toEqual([]);
  });

  it('moves a number wired to our own TwiML App to the direct URL without --force', async () => {
    const ours = await client.applications.create({
      friendlyName: 'Call Message Events',
      voiceUrl: VOICE,
      voiceMethod: 'POST',
    });
    await client.incomingPhoneNumbers(numberSid).update({ voiceApplicationSid: ours.sid });
    const result = await run().promise;
    expect(result.plan.conflicts).toEqual([]);
    expect(result.plan.changes.map((c) => c.kind)).toEqual(['number']);
    expect((await theNumber()).voiceApplicationSid).toBeNull();
    expect(result.variables.TWIML_APP_SID).toBe(ours.sid);
  });

  it('updates an existing TwiML App in place instead of creating another', async () => {
    const existing = await client.applications.create({
      friendlyName: 'Call Message Events',
      voiceUrl: 'https://old-5678.twil.io/voice',
      voiceMethod: 'GET',
    });
    const { lines, promise } = run();
    await promise;
    expect(lines).toContain(
      `  ~ TwiML App 'Call Message Events' (${existing.sid}): voice URL 'https://old-5678.twil.io/voice' → '${VOICE}', voice method GET → POST`,
    );
    const apps = await appsNamed('Call Message Events');
    expect(apps.map((a) => [a.sid, a.voiceUrl, a.voiceMethod])).toEqual([[existing.sid, VOICE, 'POST']]);
  });

  it('refuses to guess between two TwiML Apps with the same name', async () => {
    await client.applications.create({ friendlyName: 'Call Message Events', voiceUrl: VOICE });
    await client.applications.create({ friendlyName: 'Call Message Events', voiceUrl: VOICE });
    const err = await failure(run().promise);
    expect(err).toBeInstanceOf(WireError);
    expect(err.message).toMatch(/2 TwiML Apps are named 'Call Message Events'/);
  });

  it('a number that is not in the account is a clear error, and nothing is changed', async () => {
    const err = await failure(run(config({ phoneNumbers: ['+15005550006', '+14155550100'] })).promise);
    expect(err).toBeInstanceOf(WireError);
    expect((err as WireError).exitCode).toBe(1);
    expect(err.message).toContain('+14155550100');
    expect(err.message).toContain(sandbox.accountSid);
    expect(writes()).toEqual([]);
  });

  it('matches numbers exactly, not by the substring the list filter allows', async () => {
    // The list filter matches on "contains": +1500555000 would find +15005550006.
    const err = await failure(run(config({ phoneNumbers: ['+1500555000'] })).promise);
    expect(err.message).toContain('+1500555000');
  });

  it('an unknown Sync service SID is an error', async () => {
    const err = await failure(run(config({ syncServiceSid: syncServiceSid(0) })).promise);
    expect(err).toBeInstanceOf(WireError);
    expect(err.message).toContain('syncServiceSid');
  });

  it('warns when callerId is not a number of the account', async () => {
    const { lines, promise } = run(config({ callerId: '+14155550199' }), { dryRun: true });
    await promise;
    expect(lines.some((l) => l.startsWith('Warning: callerId +14155550199'))).toBe(true);
  });

  describe('base URL', () => {
    it('comes from baseUrl, then domain, in the config', async () => {
      let r = await run(config({ baseUrl: 'https://tunnel.example.com/prefix', domain: 'cme-9-dev.twil.io' }), {
        baseUrl: undefined,
        dryRun: true,
      }).promise;
      expect(r.plan.voiceUrl).toBe('https://tunnel.example.com/prefix/voice');
      r = await run(config({ domain: 'cme-9-dev.twil.io' }), { baseUrl: undefined, dryRun: true }).promise;
      expect(r.plan.voiceUrl).toBe('https://cme-9-dev.twil.io/voice');
    });

    it('comes from .twiliodeployinfo and the environment running the latest build', async () => {
      const serviceSid = sid('ZS', 0xa);
      const latestBuild = sid('ZB', 0xb);
      writeFileSync(
        join(cwd, '.twiliodeployinfo'),
        JSON.stringify({ [`${sandbox.accountSid}:us1`]: { serviceSid, latestBuild } }, null, '\t'),
      );
      expect(readDeployInfo(cwd, sandbox.accountSid)).toEqual({ serviceSid, latestBuild });
      const asked: string[] = [];
      const listEnvironments = async (service: string) => {
        asked.push(service);
        return [
          { uniqueName: 'dev-environment', domainName: 'cme-4321-dev.twil.io', buildSid: latestBuild },
          { uniqueName: 'stage-environment', domainName: 'cme-4321-stage.twil.io', buildSid: sid('ZB', 0xc) },
        ];
      };
      const { lines, promise } = run(config(), { baseUrl: undefined, dryRun: true, listEnvironments });
      const r = await promise;
      expect(asked).toEqual([serviceSid]);
      expect(r.plan.voiceUrl).toBe('https://cme-4321-dev.twil.io/voice');
      expect(lines[0]).toContain('.twiliodeployinfo');
    });

    it('without any source is a clear error', async () => {
      const err = await failure(run(config(), { baseUrl: undefined }).promise);
      expect(err.message).toMatch(/Cannot tell where the functions are deployed.*npm run deploy/s);
    });

    it('--base-url must be a URL', async () => {
      const err = await failure(run(config(), { baseUrl: 'cme-1234-dev.twil.io' }).promise);
      expect(err.message).toContain('--base-url');
    });
  });
});

describe('service config', () => {
  const valid = {
    phoneNumbers: ['+15005550006'],
    twimlApp: { friendlyName: 'Call Message Events' },
    callerId: '+15005550006',
    clientIdentity: 'alice',
  };
  const problems = (raw: unknown): string[] => {
    try {
      validateServiceConfig(raw, 'test-config');
    } catch (err) {
      expect(err).toBeInstanceOf(ServiceConfigError);
      return (err as ServiceConfigError).problems;
    }
    throw new Error('expected the config to be rejected');
  };

  it('the committed .twilioserviceconfig is valid, with the sandbox values and no domain', () => {
    expect(loadServiceConfig(join(ROOT, '.twilioserviceconfig'))).toEqual({
      phoneNumbers: ['+15005550006'],
      twimlApp: { friendlyName: 'Call Message Events' },
      callerId: '+15005550006',
      clientIdentity: 'alice',
      syncServiceSid: 'default',
    });
  });

  it('defaults syncServiceSid to "default" and normalises baseUrl and domain', () => {
    expect(
      validateServiceConfig({ ...valid, baseUrl: 'https://Tunnel.Example.com/', domain: 'CME-1-dev.twil.io' }),
    ).toEqual({
      ...valid,
      syncServiceSid: 'default',
      baseUrl: 'https://tunnel.example.com',
      domain: 'cme-1-dev.twil.io',
    });
  });

  it.each([
    [{ ...valid, phoneNumber: ['+15005550006'] }, /unknown field "phoneNumber"/],
    [{ ...valid, twimlApp: { friendlyName: 'x', sid: 'AP1' } }, /unknown field "twimlApp.sid"/],
    [{ ...valid, phoneNumbers: undefined }, /phoneNumbers is required/],
    [{ ...valid, phoneNumbers: [] }, /phoneNumbers must list at least one number/],
    [{ ...valid, phoneNumbers: ['5005550006'] }, /phoneNumbers\[0\] must be an E\.164 number .*"5005550006"/],
    [{ ...valid, phoneNumbers: ['+15005550006', '+15005550006'] }, /phoneNumbers\[1\] repeats \+15005550006/],
    [{ ...valid, twimlApp: 'Call Message Events' }, /twimlApp is required: an object/],
    [{ ...valid, twimlApp: { friendlyName: '' } }, /twimlApp\.friendlyName must be a non-empty string/],
    [{ ...valid, callerId: '(500) 555-0006' }, /callerId must be an E\.164 number/],
    [{ ...valid, clientIdentity: 'alice smith' }, /clientIdentity must be 1-121 characters/],
    [{ ...valid, syncServiceSid: 'my-service' }, /syncServiceSid must be "default" or a Sync Service SID/],
    [{ ...valid, domain: 'https://cme-1234-dev.twil.io' }, /domain must be a host name .*not a URL/],
    [{ ...valid, domain: 'cme-1234-dev.twil.io/voice' }, /domain must be a host name/],
    [{ ...valid, baseUrl: 'cme-1234-dev.twil.io' }, /baseUrl must be a full URL/],
    [{ ...valid, baseUrl: 'ftp://example.com' }, /baseUrl must start with https:\/\//],
    [{ ...valid, baseUrl: 'https://example.com/?x=1' }, /baseUrl must not have a query string/],
  ])('rejects %j', (raw, message) => {
    expect(problems(raw).join('\n')).toMatch(message);
  });

  it('reports every problem at once, naming the file', () => {
    let err: ServiceConfigError | undefined;
    try {
      validateServiceConfig({ callerId: 5, extra: true }, 'my.config');
    } catch (e) {
      err = e as ServiceConfigError;
    }
    expect(err?.problems.length).toBe(5); // extra, phoneNumbers, twimlApp, callerId, clientIdentity
    expect(err?.message).toMatch(/^my\.config is not valid:/);
    expect(err?.message).toContain('docs/WIRING.md');
    expect(problems([])).toEqual(['the file must hold a JSON object, not []']);
  });

  it('names a missing file and broken JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wire-config-'));
    try {
      expect(() => loadServiceConfig(join(dir, 'nope'))).toThrow(/does not exist/);
      writeFileSync(join(dir, 'broken'), '{ "phoneNumbers": [ }');
      expect(() => loadServiceConfig(join(dir, 'broken'))).toThrow(/broken is not valid:\n {2}- it is not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('credentials', () => {
  it("parses .env lines with Node's util.parseEnv", () => {
    const env = parseDotEnv(
      [
        '# comment',
        'ACCOUNT_SID=AC123',
        'export AUTH_TOKEN = "tok en" ',
        "SINGLE='a # b'",
        'PLAIN=value # trailing comment',
        'NL="a\\nb"',
        'EMPTY=',
      ].join('\n'),
    );
    expect(env).toEqual({
      ACCOUNT_SID: 'AC123',
      AUTH_TOKEN: 'tok en',
      SINGLE: 'a # b',
      PLAIN: 'value',
      NL: 'a\nb',
      EMPTY: '',
    });
  });

  it('prefers the environment, accepts TWILIO_* names, and says what is missing', () => {
    const account = accountSid(1);
    expect(readCredentials({ TWILIO_ACCOUNT_SID: account }, { AUTH_TOKEN: 't', ACCOUNT_SID: accountSid(2) })).toEqual({
      accountSid: account,
      authToken: 't',
    });
    expect(
      readCredentials({}, { ACCOUNT_SID: account, AUTH_TOKEN: 't', TWILIO_SANDBOX_URL: 'http://127.0.0.1:1' }),
    ).toEqual({ accountSid: account, authToken: 't', sandboxUrl: 'http://127.0.0.1:1' });
    expect(() => readCredentials({}, {})).toThrow(/ACCOUNT_SID \(or TWILIO_ACCOUNT_SID\) and AUTH_TOKEN/);
    expect(() => readCredentials({ ACCOUNT_SID: 'SK123', AUTH_TOKEN: 't' }, {})).toThrow(
      /AC followed by 32 hex digits/,
    );
  });
});

describe('npm run wire (CLI)', () => {
  function cli(
    args: string[],
    env?: Record<string, string>,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((done) => {
      execFile(
        process.execPath,
        [
          join(ROOT, 'node_modules/tsx/dist/cli.mjs'),
          join(ROOT, 'scripts/wire.ts'),
          '--config',
          join(ROOT, '.twilioserviceconfig'),
          ...args,
        ],
        // A clean environment and a directory without .env or .twiliodeployinfo.
        {
          cwd,
          env: {
            PATH: process.env.PATH,
            ...(env ?? {
              ACCOUNT_SID: sandbox.accountSid,
              AUTH_TOKEN: sandbox.authToken,
              TWILIO_SANDBOX_URL: sandbox.url,
            }),
          },
          timeout: 20_000,
        },
        (err, stdout, stderr) =>
          done({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  it('refuses (exit 2), then --force wires (exit 0), then reports no changes', async () => {
    await client.incomingPhoneNumbers(numberSid).update({ voiceUrl: 'http://localhost:3000/voice' });

    const refused = await cli(['--base-url', BASE]);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toContain(
      `~ number +15005550006 (${numberSid}): voice URL 'http://localhost:3000/voice' → '${VOICE}' [needs --force]`,
    );
    expect(refused.stderr).toMatch(/Refusing to rewire .*--force/s);
    expect((await theNumber()).voiceUrl).toBe('http://localhost:3000/voice');

    const forced = await cli(['--base-url', BASE, '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`+ TwiML App 'Call Message Events': create with voice URL '${VOICE}' (POST)`);
    const [app] = await appsNamed('Call Message Events');
    expect(forced.stdout).toContain(`TWIML_APP_SID=${defined(app).sid}`);
    expect(forced.stdout).toMatch(/CALLER_ID=\+15005550006\n {2}CLIENT_IDENTITY=alice\n {2}SYNC_SERVICE_SID=default/);
    expect((await theNumber()).voiceUrl).toBe(VOICE);

    const again = await cli(['--base-url', BASE, '--dry-run']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Plan: no changes');
  }, 60_000);

  it('exits 1 with a clear message on a bad flag or missing credentials', async () => {
    const bad = await cli(['--frobnicate']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("Unknown option '--frobnicate'");
    expect(bad.stderr).toContain('Usage: npm run wire');

    const anonymous = await cli(['--base-url', BASE], { TWILIO_SANDBOX_URL: sandbox.url });
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toContain('Set ACCOUNT_SID (or TWILIO_ACCOUNT_SID) and AUTH_TOKEN (or TWILIO_AUTH_TOKEN)');

    const wrongToken = await cli(['--base-url', BASE], {
      ACCOUNT_SID: sandbox.accountSid,
      AUTH_TOKEN: 'wrong',
      TWILIO_SANDBOX_URL: sandbox.url,
    });
    expect(wrongToken.code).toBe(1);
    expect(wrongToken.stderr).toMatch(/Twilio answered 401.*check ACCOUNT_SID and AUTH_TOKEN/);
  }, 30_000);
});
