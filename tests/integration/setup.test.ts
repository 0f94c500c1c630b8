// `npm run setup`'s core (scripts/setup/setup.ts) against the in-process sandbox, through the real
// `twilio` client: after a deploy (a Serverless service and environment), one run makes the API key,
// the TwiML App, the number's voice URL, the environment's variables (Variables API), the same
// values in .env, and the first agent; a second run changes nothing. The whole path, from an empty
// account through the real deploy to a browser agent taking a call, is tests/browser/first-deploy.test.ts.
import twilio from 'twilio';
import { startSandbox, type Sandbox } from '../../sandbox/app';
import { SandboxRequestClient } from '../../sandbox/request-client';
import { AgentStore, verifyPassword } from '../../lib/auth/agents';
import { setup, SetupError, SETUP_VARIABLES, type SetupOptions } from '../../scripts/setup/setup';
import { WireRefusal } from '../../scripts/wire/wire';
import type { ServiceConfig } from '../../scripts/wire/service-config';
import { defined } from '../support/narrow';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
});

afterAll(async () => {
  await sandbox.close();
});

beforeEach(async () => {
  sandbox.reset();
  for (const s of await asAccount().serverless.v1.services.list())
    await asAccount().serverless.v1.services(s.sid).remove();
  for (const a of await asAccount().applications.list({ friendlyName: 'Call Message Events' }))
    await asAccount().applications(a.sid).remove();
  const [n] = await asAccount().incomingPhoneNumbers.list({ phoneNumber: sandbox.phoneNumber });
  await asAccount().incomingPhoneNumbers(defined(n).sid).update({ voiceUrl: '', voiceApplicationSid: '' });
  const agents = new AgentStore(asAccount(), { syncServiceSid: 'default' });
  for (const a of await agents.list())
    await asAccount().sync.v1.services('default').syncMaps('cme.agents').syncMapItems(a.identity).remove();
  sandbox.requests.length = 0;
});

const asAccount = () =>
  twilio(sandbox.accountSid, sandbox.authToken, { httpClient: new SandboxRequestClient(sandbox.url) });
/** The sandbox's published key: a Standard key, as `twilio login` stores for the CLI. */
const asStandardKey = () =>
  twilio(sandbox.apiKeySid, sandbox.apiKeySecret, {
    accountSid: sandbox.accountSid,
    httpClient: new SandboxRequestClient(sandbox.url),
  });

const config = (): ServiceConfig => ({
  phoneNumbers: [sandbox.phoneNumber],
  twimlApp: { friendlyName: 'Call Message Events' },
  callerId: sandbox.phoneNumber,
  clientIdentity: 'alice',
  syncServiceSid: 'default',
});

/** What `npm run deploy` leaves: the service `cme` and its `dev` environment. */
async function deployedEnvironment() {
  const service = await asAccount().serverless.v1.services.create({ uniqueName: 'cme', friendlyName: 'cme' });
  const environment = await asAccount()
    .serverless.v1.services(service.sid)
    .environments.create({ uniqueName: 'dev-environment', domainSuffix: 'dev' });
  return { service, environment };
}

async function variablesOf(serviceSid: string, environmentSid: string): Promise<Record<string, string>> {
  const list = await asAccount().serverless.v1.services(serviceSid).environments(environmentSid).variables.list();
  return Object.fromEntries(list.map((v) => [v.key, v.value]));
}

function run(client: twilio.Twilio, over: Partial<SetupOptions> = {}) {
  const lines: string[] = [];
  const saved: Record<string, string> = {};
  const promise = setup(client, config(), {
    serviceName: 'cme',
    environment: 'dev',
    dotEnv: {},
    credential: 'auth-token',
    log: (l) => lines.push(l),
    saveDotEnv: (v) => Object.assign(saved, v),
    ...over,
  });
  return { lines, saved, promise };
}

const writes = () => sandbox.requests.filter((r) => r.method !== 'GET');

describe('npm run setup', () => {
  it('refuses, changing nothing, before anything is deployed', async () => {
    await expect(run(asAccount()).promise).rejects.toThrow(/npm run deploy` first/);
    expect(writes()).toEqual([]);
  });

  it('one run: key, App, number, variables on the environment and in .env, the first agent; a second changes nothing', async () => {
    const { service, environment } = await deployedEnvironment();
    const first = run(asAccount());
    const result = await first.promise;
    const vars = await variablesOf(service.sid, environment.sid);
    expect(Object.keys(vars).sort()).toEqual([...SETUP_VARIABLES].sort());
    expect(first.saved).toEqual(vars);
    expect(vars.API_KEY_SID).toMatch(/^SK[0-9a-f]{32}$/);
    expect(vars.API_KEY_SID).not.toBe(sandbox.apiKeySid);
    expect(sandbox.keys.secretOf(vars.API_KEY_SID!)).toBe(vars.API_KEY_SECRET);
    expect(vars.OPERATOR_SECRET!.length).toBeGreaterThanOrEqual(32);
    expect(vars).toMatchObject({
      CALLER_ID: sandbox.phoneNumber,
      CLIENT_IDENTITY: 'alice',
      SYNC_SERVICE_SID: 'default',
    });
    const voiceUrl = `https://${environment.domainName}/voice`;
    const app = await asAccount().applications(vars.TWIML_APP_SID!).fetch();
    expect(app.voiceUrl).toBe(voiceUrl);
    const [number] = await asAccount().incomingPhoneNumbers.list({ phoneNumber: sandbox.phoneNumber });
    expect(number?.voiceUrl).toBe(voiceUrl);
    // The agent signs in with the password printed once; the log holds no other secret.
    const password = defined(result.agentPassword);
    const agent = await new AgentStore(asAccount(), { syncServiceSid: 'default' }).get('alice');
    expect(await verifyPassword(password, agent?.password)).toBe(true);
    const log = first.lines.join('\n');
    expect(log).toContain(password);
    for (const secret of [vars.API_KEY_SECRET!, vars.OPERATOR_SECRET!]) expect(log).not.toContain(secret);

    // Again with .env as the first run left it: nothing is written anywhere.
    sandbox.requests.length = 0;
    const again = run(asAccount(), { dotEnv: first.saved });
    const second = await again.promise;
    expect(writes()).toEqual([]);
    expect(second.agentPassword).toBeUndefined();
    expect(second.environmentChanges).toEqual({ added: [], changed: [] });
    expect(await variablesOf(service.sid, environment.sid)).toEqual(vars);
    expect(again.lines.join('\n')).toMatch(/alice exists/);
  });

  it('a dry run prints the plan and writes nothing', async () => {
    await deployedEnvironment();
    sandbox.requests.length = 0;
    const { lines, saved, promise } = run(asAccount(), { dryRun: true });
    expect((await promise).applied).toBe(false);
    expect(writes()).toEqual([]);
    expect(saved).toEqual({});
    expect(lines.join('\n')).toMatch(/added API_KEY_SID, API_KEY_SECRET, TWIML_APP_SID/);
    expect(lines.join('\n')).toMatch(/Dry run: nothing was changed/);
  });

  it("with the Twilio CLI's Standard key: refused with nothing changed without a key in .env, done with one", async () => {
    const { service, environment } = await deployedEnvironment();
    sandbox.requests.length = 0;
    const refused = run(asStandardKey(), { credential: 'api-key' });
    const err = await refused.promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SetupError);
    expect((err as Error).message).toMatch(/Standard API key.*Nothing was changed/);
    expect(writes().filter((r) => r.status < 400)).toEqual([]);

    const keyed = run(asStandardKey(), {
      credential: 'api-key',
      dotEnv: { API_KEY_SID: sandbox.apiKeySid, API_KEY_SECRET: sandbox.apiKeySecret },
    });
    await keyed.promise;
    expect(await variablesOf(service.sid, environment.sid)).toMatchObject({ API_KEY_SID: sandbox.apiKeySid });
  });

  it('refuses to take a number that answers somewhere else, unless forced', async () => {
    await deployedEnvironment();
    const [n] = await asAccount().incomingPhoneNumbers.list({ phoneNumber: sandbox.phoneNumber });
    await asAccount().incomingPhoneNumbers(defined(n).sid).update({ voiceUrl: 'https://elsewhere.example.com/voice' });
    await expect(run(asAccount()).promise).rejects.toBeInstanceOf(WireRefusal);
    await run(asAccount(), { force: true }).promise;
    const [after] = await asAccount().incomingPhoneNumbers.list({ phoneNumber: sandbox.phoneNumber });
    expect(after?.voiceUrl).toMatch(/\/voice$/);
    expect(after?.voiceUrl).not.toContain('elsewhere');
  });
});
