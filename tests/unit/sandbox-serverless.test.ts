// The sandbox's Serverless v1 REST, driven through the real `twilio` client, every exchange checked
// against Twilio's OpenAPI description (twilio_serverless_v1.json).
import twilio from 'twilio';
import { startSandbox, type Sandbox } from '../../sandbox/app';
import { SandboxRequestClient } from '../../sandbox/request-client';
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

describe('Functions, Assets and their Versions', () => {
  const auth = () => `Basic ${Buffer.from(`${sandbox.accountSid}:${sandbox.authToken}`).toString('base64')}`;

  /** The upload @twilio-labs/serverless-api makes: multipart to serverless-upload.twilio.com. */
  async function upload(
    serviceSid: string,
    kind: 'Functions' | 'Assets',
    sid: string,
    fields: { Path?: string; Visibility?: string; content?: string; type?: string },
  ) {
    const form = new FormData();
    if (fields.Path !== undefined) form.append('Path', fields.Path);
    if (fields.Visibility !== undefined) form.append('Visibility', fields.Visibility);
    if (fields.content !== undefined)
      form.append('Content', new Blob([fields.content], { type: fields.type ?? 'application/javascript' }), 'file');
    const res = await fetch(`${sandbox.url}/serverless-upload/v1/Services/${serviceSid}/${kind}/${sid}/Versions`, {
      method: 'POST',
      headers: { authorization: auth() },
      body: form,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('uploads a function version, lists it and gives its content back', async () => {
    const svc = await serverless().services.create({ uniqueName: 'cme', friendlyName: 'cme' });
    const fn = await serverless().services(svc.sid).functions.create({ friendlyName: '/voice' });
    expect(fn.sid).toMatch(/^ZH[0-9a-f]{32}$/);
    const code = 'exports.handler = (c, e, cb) => cb(null, "ok");';
    const up = await upload(svc.sid, 'Functions', fn.sid, { Path: '/voice', Visibility: 'protected', content: code });
    expect(up.status).toBe(201);
    expect(up.body).toMatchObject({ path: '/voice', visibility: 'protected', function_sid: fn.sid });
    const versions = await serverless().services(svc.sid).functions(fn.sid).functionVersions.list();
    expect(versions.map((v) => [v.sid, v.path, v.visibility])).toEqual([[up.body.sid, '/voice', 'protected']]);
    const content = await serverless()
      .services(svc.sid)
      .functions(fn.sid)
      .functionVersions(String(up.body.sid))
      .functionVersionContent()
      .fetch();
    expect(content.content).toBe(code);
    expect((await serverless().services(svc.sid).functions.list()).map((f) => f.friendlyName)).toEqual(['/voice']);
  });

  it('uploads an asset version', async () => {
    const svc = await serverless().services.create({ uniqueName: 'cme', friendlyName: 'cme' });
    const asset = await serverless().services(svc.sid).assets.create({ friendlyName: '/index.html' });
    const up = await upload(svc.sid, 'Assets', asset.sid, {
      Path: '/index.html',
      Visibility: 'public',
      content: '<!doctype html>',
      type: 'text/html',
    });
    expect(up.status).toBe(201);
    const [version] = await serverless().services(svc.sid).assets(asset.sid).assetVersions.list();
    expect([version?.path, version?.visibility, version?.assetSid]).toEqual(['/index.html', 'public', asset.sid]);
    expect(sandbox.serverless.state.versions.get(String(up.body.sid))?.contentType).toBe('text/html');
  });

  it('refuses a bad upload with a Twilio-shaped 4xx', async () => {
    const svc = await serverless().services.create({ uniqueName: 'cme', friendlyName: 'cme' });
    const fn = await serverless().services(svc.sid).functions.create({ friendlyName: 'f' });
    const bad = [
      { Visibility: 'public', content: 'x' },
      { Path: 'no-slash', Visibility: 'public', content: 'x' },
      { Path: `/${'p'.repeat(255)}`, Visibility: 'public', content: 'x' },
      { Path: '/f', Visibility: 'secret', content: 'x' },
      { Path: '/f', Visibility: 'public' },
    ];
    for (const fields of bad) {
      const res = await upload(svc.sid, 'Functions', fn.sid, fields);
      expect([res.status, res.body.code, res.body.status]).toEqual([400, 20001, 400]);
    }
    const notMultipart = await fetch(
      `${sandbox.url}/serverless-upload/v1/Services/${svc.sid}/Functions/${fn.sid}/Versions`,
      {
        method: 'POST',
        headers: { authorization: auth(), 'content-type': 'multipart/form-data; boundary=x' },
        body: 'junk',
      },
    );
    expect(notMultipart.status).toBe(400);
    // Bodies the parser cannot read: an encoding it does not know (415), a gzip body that is not gzip (400).
    for (const encoding of ['x-unknown', 'gzip']) {
      const res = await fetch(`${sandbox.url}/serverless-upload/v1/Services/${svc.sid}/Functions/${fn.sid}/Versions`, {
        method: 'POST',
        headers: {
          authorization: auth(),
          'content-type': 'multipart/form-data; boundary=x',
          'content-encoding': encoding,
        },
        body: 'not compressed',
      });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(await res.json()).toMatchObject({ status: res.status });
    }
    const elsewhere = await upload(svc.sid, 'Assets', fn.sid, { Path: '/f', Visibility: 'public', content: 'x' });
    expect([elsewhere.status, elsewhere.body.code]).toEqual([404, 20404]);
  });
});

describe('Builds, Deployments and Logs', () => {
  async function uploaded() {
    const svc = await serverless().services.create({ uniqueName: 'cme', friendlyName: 'cme' });
    const fn = await serverless().services(svc.sid).functions.create({ friendlyName: '/voice' });
    const form = new FormData();
    form.append('Path', '/voice');
    form.append('Visibility', 'protected');
    form.append('Content', new Blob(['exports.handler = () => {};']), 'voice');
    const res = await fetch(`${sandbox.url}/serverless-upload/v1/Services/${svc.sid}/Functions/${fn.sid}/Versions`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${sandbox.accountSid}:${sandbox.authToken}`).toString('base64')}`,
      },
      body: form,
    });
    const version = (await res.json()) as { sid: string };
    const env = await serverless().services(svc.sid).environments.create({ uniqueName: 'dev', domainSuffix: 'dev' });
    return { svc, fn, version, env };
  }

  it('builds (building, then completed), deploys and reads the deployed build back', async () => {
    sandbox.serverless.settings.buildMs = 150;
    const { svc, fn, version, env } = await uploaded();
    const build = await serverless()
      .services(svc.sid)
      .builds.create({
        functionVersions: [version.sid],
        dependencies: JSON.stringify([{ name: 'twilio', version: '^6.3.1' }]),
        runtime: 'node22',
      });
    expect([build.status, build.runtime]).toEqual(['building', 'node22']);
    expect(build.dependencies).toEqual([{ name: 'twilio', version: '^6.3.1' }]);
    expect(build.functionVersions).toEqual([
      expect.objectContaining({ sid: version.sid, path: '/voice', function_sid: fn.sid }),
    ]);
    // A building build is not deployed.
    expect(
      await failure(serverless().services(svc.sid).environments(env.sid).deployments.create({ buildSid: build.sid })),
    ).toMatchObject({ status: 400 });
    await new Promise((r) => setTimeout(r, 200));
    expect((await serverless().services(svc.sid).builds(build.sid).buildStatus().fetch()).status).toBe('completed');
    const deployment = await serverless()
      .services(svc.sid)
      .environments(env.sid)
      .deployments.create({ buildSid: build.sid });
    expect(deployment.sid).toMatch(/^ZD[0-9a-f]{32}$/);
    expect((await serverless().services(svc.sid).environments(env.sid).fetch()).buildSid).toBe(build.sid);
    expect(
      (await serverless().services(svc.sid).environments(env.sid).deployments.list()).map((d) => d.buildSid),
    ).toEqual([build.sid]);
    // A deployed build stays.
    expect(await failure(serverless().services(svc.sid).builds(build.sid).remove())).toMatchObject({ status: 409 });

    const log = sandbox.serverless.state.addLog(env.sid, { functionSid: fn.sid, level: 'error', message: 'boom' });
    const logs = await serverless().services(svc.sid).environments(env.sid).logs.list({ functionSid: fn.sid });
    expect(logs.map((l) => [l.sid, l.level, l.message, l.deploymentSid])).toEqual([
      [log.sid, 'error', 'boom', deployment.sid],
    ]);
    expect(
      await serverless()
        .services(svc.sid)
        .environments(env.sid)
        .logs.list({ startDate: new Date(Date.now() + 60_000) }),
    ).toEqual([]);
  });

  it('takes the dependencies as @twilio-labs/serverless-api wraps them, and plays a failed build', async () => {
    sandbox.serverless.settings.buildMs = 0;
    sandbox.serverless.settings.buildOutcome = 'failed';
    const { svc, version } = await uploaded();
    const build = await serverless()
      .services(svc.sid)
      .builds.create({
        functionVersions: [version.sid],
        dependencies: `"${JSON.stringify([{ name: 'a', version: '1' }])}"`,
      });
    expect(build.dependencies).toEqual([{ name: 'a', version: '1' }]);
    expect((await serverless().services(svc.sid).builds(build.sid).buildStatus().fetch()).status).toBe('failed');
  });

  it('refuses unknown versions, a path twice, a bad runtime or bad dependencies', async () => {
    const { svc, version } = await uploaded();
    const builds = serverless().services(svc.sid).builds;
    for (const params of [
      { functionVersions: ['ZN00000000000000000000000000000000'] },
      { functionVersions: [version.sid, version.sid] },
      { assetVersions: [version.sid] },
      { functionVersions: [version.sid], runtime: 'node99' },
      { functionVersions: [version.sid], dependencies: '{"not": "a list"}' },
      { functionVersions: [version.sid], dependencies: '[{"name": 1}]' },
    ])
      expect(await failure(builds.create(params))).toMatchObject({ status: 400, code: 20001 });
    const logs = await fetch(
      `${sandbox.url}/serverless/v1/Services/${svc.sid}/Environments/ZE00000000000000000000000000000000/Logs`,
      {
        headers: {
          authorization: `Basic ${Buffer.from(`${sandbox.accountSid}:${sandbox.authToken}`).toString('base64')}`,
        },
      },
    );
    expect(logs.status).toBe(404);
  });
});
