// The sandbox's Serverless v1 REST, driven through the real `twilio` client, every exchange checked
// against Twilio's OpenAPI description (twilio_serverless_v1.json).
import twilio from 'twilio';
import { startSandbox, type Sandbox } from '../../sandbox/app';
import { SandboxRequestClient } from '../../lib/platform/sandbox-request-client';
import { loadContract } from '../support/openapi-contract';

let sandbox: Sandbox;
let client: twilio.Twilio;

/** The rejection of `p`, as the twilio client's RestException. */
async function failure(p: Promise<unknown>): Promise<{ status: number; code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { status: number; code: number; message: string };
  }
  throw new Error('expected the request to fail');
}

beforeAll(async () => {
  sandbox = await startSandbox({ recordExchanges: true });
  client = twilio(sandbox.accountSid, sandbox.authToken, { httpClient: new SandboxRequestClient(sandbox.url) });
});

afterAll(async () => {
  await sandbox.close();
});

afterEach(() => {
  // Every answer as Twilio's spec describes it; every request it took, too (a refused one may not be).
  const contract = loadContract();
  const problems = sandbox.exchanges
    .filter((e) => e.product === 'serverless')
    .flatMap((e) => [...(e.status < 400 ? contract.checkRequest(e) : []), ...contract.checkResponse(e)]);
  sandbox.reset();
  // An error in afterEach fails the test that ran.
  if (problems.length) throw new Error(`off Twilio's contract:\n${JSON.stringify(problems, null, 2)}`);
});

const serverless = () => client.serverless.v1;

describe('Services', () => {
  it('creates, fetches by SID and by unique name, lists, updates and deletes', async () => {
    const svc = await serverless().services.create({ uniqueName: 'cme', friendlyName: 'Call Message Events' });
    expect(svc.sid).toMatch(/^ZS[0-9a-f]{32}$/);
    expect(svc.includeCredentials).toBe(true);
    expect(svc.uiEditable).toBe(false);
    expect(svc.domainBase).toMatch(/^cme-\d{4}$/);
    expect((await serverless().services(svc.sid).fetch()).uniqueName).toBe('cme');
    expect((await serverless().services('cme').fetch()).sid).toBe(svc.sid);
    expect((await serverless().services.list()).map((s) => s.sid)).toEqual([svc.sid]);
    const updated = await serverless().services(svc.sid).update({ friendlyName: 'renamed', uiEditable: true });
    expect([updated.friendlyName, updated.uiEditable]).toEqual(['renamed', true]);
    expect(await serverless().services(svc.sid).remove()).toBe(true);
    expect((await failure(serverless().services(svc.sid).fetch())).status).toBe(404);
  });

  it('refuses a missing or too long name, a taken unique name, and a bad boolean', async () => {
    await serverless().services.create({ uniqueName: 'taken', friendlyName: 'x' });
    expect(await failure(serverless().services.create({ uniqueName: 'taken', friendlyName: 'y' }))).toMatchObject({
      status: 409,
      code: 20409,
    });
    expect(
      await failure(serverless().services.create({ uniqueName: 'a'.repeat(51), friendlyName: 'y' })),
    ).toMatchObject({
      status: 400,
      code: 20001,
    });
    const raw = await fetch(`${sandbox.url}/serverless/v1/Services`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${sandbox.accountSid}:${sandbox.authToken}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'UniqueName=ok&IncludeCredentials=perhaps',
    });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toMatchObject({ code: 20001, status: 400 });
  });

  it('asks for Basic auth', async () => {
    const res = await fetch(`${sandbox.url}/serverless/v1/Services`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 20003, status: 401 });
  });
});

describe('Environments', () => {
  it('names the domain after the service and the suffix, once per suffix', async () => {
    const svc = await serverless().services.create({ uniqueName: 'cme', friendlyName: 'cme' });
    const dev = await serverless()
      .services(svc.sid)
      .environments.create({ uniqueName: 'dev-environment', domainSuffix: 'dev' });
    expect(dev.sid).toMatch(/^ZE[0-9a-f]{32}$/);
    expect(dev.domainName).toBe(`${svc.domainBase}-dev.twil.io`);
    expect(dev.buildSid).toBeNull();
    const prod = await serverless().services(svc.sid).environments.create({ uniqueName: 'production' });
    expect([prod.domainSuffix, prod.domainName]).toEqual([null, `${svc.domainBase}.twil.io`]);
    expect((await serverless().services(svc.sid).environments.list()).map((e) => e.uniqueName)).toEqual([
      'dev-environment',
      'production',
    ]);
    expect(
      await failure(serverless().services(svc.sid).environments.create({ uniqueName: 'again', domainSuffix: 'dev' })),
    ).toMatchObject({ status: 409 });
    expect(
      await failure(serverless().services(svc.sid).environments.create({ uniqueName: 'x', domainSuffix: 'no/slash' })),
    ).toMatchObject({ status: 400, code: 20001 });
    expect(await serverless().services(svc.sid).environments(prod.sid).remove()).toBe(true);
    expect((await failure(serverless().services(svc.sid).environments(prod.sid).fetch())).status).toBe(404);
  });

  it('answers 404 for an environment of another service', async () => {
    const a = await serverless().services.create({ uniqueName: 'a', friendlyName: 'a' });
    const b = await serverless().services.create({ uniqueName: 'b', friendlyName: 'b' });
    const env = await serverless().services(a.sid).environments.create({ uniqueName: 'dev', domainSuffix: 'dev' });
    expect(await failure(serverless().services(b.sid).environments(env.sid).fetch())).toMatchObject({
      status: 404,
      code: 20404,
    });
  });
});

describe('Variables', () => {
  async function environment() {
    const svc = await serverless().services.create({ uniqueName: 'cme', friendlyName: 'cme' });
    const env = await serverless().services(svc.sid).environments.create({ uniqueName: 'dev', domainSuffix: 'dev' });
    return serverless().services(svc.sid).environments(env.sid);
  }

  it('creates, lists, updates and deletes, one key once', async () => {
    const env = await environment();
    const v = await env.variables.create({ key: 'CALLER_ID', value: '+15005550006' });
    expect(v.sid).toMatch(/^ZV[0-9a-f]{32}$/);
    await env.variables.create({ key: 'EMPTY', value: '' });
    expect((await env.variables.list()).map((x) => [x.key, x.value])).toEqual([
      ['CALLER_ID', '+15005550006'],
      ['EMPTY', ''],
    ]);
    expect(await failure(env.variables.create({ key: 'CALLER_ID', value: 'again' }))).toMatchObject({ status: 409 });
    expect((await env.variables(v.sid).update({ value: '+15005550007' })).value).toBe('+15005550007');
    expect(await env.variables(v.sid).remove()).toBe(true);
    expect((await env.variables.list()).map((x) => x.key)).toEqual(['EMPTY']);
    expect((await failure(env.variables(v.sid).fetch())).status).toBe(404);
  });

  it('holds keys to 128 characters and values to 450 bytes', async () => {
    const env = await environment();
    await env.variables.create({ key: 'K'.repeat(128), value: 'é'.repeat(225) });
    expect(await failure(env.variables.create({ key: 'K'.repeat(129), value: 'x' }))).toMatchObject({ status: 400 });
    expect(await failure(env.variables.create({ key: 'LONG', value: 'é'.repeat(226) }))).toMatchObject({
      status: 400,
      code: 20001,
    });
  });

  it('pages a long list', async () => {
    const env = await environment();
    for (let i = 0; i < 7; i++) await env.variables.create({ key: `K${i}`, value: String(i) });
    expect((await env.variables.list({ pageSize: 3 })).map((x) => x.key)).toEqual([
      'K0',
      'K1',
      'K2',
      'K3',
      'K4',
      'K5',
      'K6',
    ]);
  });
});
