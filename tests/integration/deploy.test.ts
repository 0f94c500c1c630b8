// The project's own `npm run deploy` (scripts/deploy.ts, real and unmodified twilio-run) into the
// sandbox's Serverless API, reached at Twilio's hostnames through the sandbox's proxy
// (HTTP_PROXY + NODE_EXTRA_CA_CERTS). It runs in a scratch copy of the project root (as
// deploy-set.test.ts builds) so that its build and .twiliodeployinfo never touch the checkout.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox, type Sandbox } from '../../sandbox/app';
import { loadContract } from '../support/openapi-contract';
import { scratchProject } from '../support/scratch-project';
import type { Build, Environment, Service, Version } from '../../sandbox/rest/serverless/state';

interface Resource {
  path: string;
  access: 'public' | 'protected' | 'private';
  content: string | Buffer;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { fsHelpers } = require('@twilio-labs/serverless-api') as {
  fsHelpers: {
    getListOfFunctionsAndAssets(
      cwd: string,
      config: { functionsFolderNames: string[]; assetsFolderNames: string[] },
    ): Promise<{ functions: Resource[]; assets: Resource[] }>;
  };
};

const SECRET = 'a-long-operator-secret-of-forty-characters';

let sandbox: Sandbox;
let work: string;
let envFile: string;

/** The variables of the deploy's env file; the sandbox-only ones must never be deployed. */
function envText(vars: Record<string, string>): string {
  return `${Object.entries(vars)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

function baseEnv(): Record<string, string> {
  return {
    ACCOUNT_SID: sandbox.accountSid,
    AUTH_TOKEN: sandbox.authToken,
    CLIENT_IDENTITY: 'alice',
    CALLER_ID: sandbox.phoneNumber,
    TWIML_APP_SID: sandbox.applicationSid,
    API_KEY_SID: sandbox.apiKeySid,
    API_KEY_SECRET: sandbox.apiKeySecret,
    TOKEN_SECRET: 'x'.repeat(40),
    OPERATOR_SECRET: SECRET,
    // Empty: off, never uploaded.
    APP_WEBHOOK_URL: '',
    // The sandbox's own: never deployed.
    TWILIO_SANDBOX_URL: sandbox.url,
    SANDBOX_GATEWAY: 'wss://localhost:3002/signal',
    HTTP_PROXY: sandbox.twilioProxy.url,
    NODE_EXTRA_CA_CERTS: sandbox.twilioProxy.caFile,
  };
}

/** `npm run deploy -- <args>` in the scratch root, Twilio's hostnames pointing at the sandbox. */
function deploy(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) =>
    execFile(
      'npm',
      ['run', '--silent', 'deploy', '--', '--env', envFile, ...args],
      {
        cwd: work,
        // Only these two variables send every Twilio request to the sandbox.
        env: { ...process.env, HTTPS_PROXY: '', NO_PROXY: '', ...sandbox.twilioProxy.env, FORCE_COLOR: '0' },
        timeout: 90_000,
      },
      (err, stdout, stderr) => done({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

function deployed(): { service: Service; environment: Environment; build: Build; variables: Record<string, string> } {
  const state = sandbox.serverless.state;
  const service = [...state.services.values()].find((s) => s.uniqueName === 'cme');
  const environment = [...state.environments.values()].find((e) => e.serviceSid === service?.sid);
  const build = environment?.buildSid ? state.builds.get(environment.buildSid) : undefined;
  if (!service || !environment || !build) throw new Error('nothing deployed');
  const variables = Object.fromEntries(
    [...state.variables.values()].filter((v) => v.environmentSid === environment.sid).map((v) => [v.key, v.value]),
  );
  return { service, environment, build, variables };
}

const versionsOf = (build: Build, kind: 'functionVersions' | 'assetVersions'): Version[] =>
  build[kind].map((sid) => {
    const v = sandbox.serverless.state.versions.get(sid);
    if (!v) throw new Error(`no version ${sid}`);
    return v;
  });

beforeAll(async () => {
  sandbox = await startSandbox({ profile: 'deterministic', recordExchanges: true });
  work = scratchProject('deploy-');
  mkdirSync(join(work, 'env'));
  envFile = join(work, 'env', '.env');
});

afterAll(async () => {
  await sandbox.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm run deploy', () => {
  afterAll(() => {
    // Everything twilio-run and the deploy script asked of the Serverless API, and every answer,
    // as Twilio's spec describes them (the uploads have no operation in it).
    const contract = loadContract();
    const serverless = sandbox.exchanges.filter((e) => e.product === 'serverless');
    const problems = serverless
      .flatMap((e) => [...contract.checkRequest(e), ...contract.checkResponse(e)])
      // The one parameter the spec lacks: @twilio-labs/serverless-api sends an Environment a FriendlyName
      // "for the future" (its own comment: "this property currently doesn't exist"); the sandbox ignores it.
      .filter(
        (p) =>
          !(
            /\/Environments → 201$/.test(p.exchange) &&
            p.problem.startsWith('form param FriendlyName: not declared by CreateEnvironment')
          ),
      );
    if (serverless.length === 0 || problems.length)
      throw new Error(`off Twilio's contract:\n${JSON.stringify(problems, null, 2)}`);
  });

  it('deploys the build: every file with its visibility, the dependencies, node22, and the variables', async () => {
    writeFileSync(envFile, envText(baseEnv()));
    const first = await deploy();
    expect(first.stderr).not.toMatch(/deploy failed/);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/added\s+API_KEY_SECRET, API_KEY_SID, CALLER_ID, CLIENT_IDENTITY, OPERATOR_SECRET/);
    expect(first.stdout).toMatch(
      /not deployed \(the sandbox's only\): HTTP_PROXY, NODE_EXTRA_CA_CERTS, SANDBOX_GATEWAY, TWILIO_SANDBOX_URL\n/,
    );

    const { service, environment, build, variables } = deployed();
    expect(environment.domainSuffix).toBe('dev');
    expect(environment.domainName).toBe(`${service.domainBase}-dev.twil.io`);
    expect(sandbox.serverless.state.buildStatus(build)).toBe('completed');

    // The file set twilio-run itself lists from the build, each with its content and visibility.
    const rc = JSON.parse(readFileSync(join(work, '.twilioserverlessrc'), 'utf8')) as {
      functionsFolder: string;
      assetsFolder: string;
      runtime: string;
    };
    const local = await fsHelpers.getListOfFunctionsAndAssets(work, {
      functionsFolderNames: [rc.functionsFolder],
      assetsFolderNames: [rc.assetsFolder],
    });
    const table = (list: { path: string; access?: string; visibility?: string; content: string | Buffer }[]) =>
      list
        .map((r) => [r.path, r.access ?? r.visibility, Buffer.from(r.content).toString('base64')])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(table(versionsOf(build, 'functionVersions'))).toEqual(table(local.functions));
    expect(table(versionsOf(build, 'assetVersions'))).toEqual(table(local.assets));
    const visibility = Object.fromEntries(
      [...versionsOf(build, 'functionVersions'), ...versionsOf(build, 'assetVersions')].map((v) => [
        v.path,
        v.visibility,
      ]),
    );
    expect(visibility).toMatchObject({
      '/voice': 'protected',
      '/message-callback': 'protected',
      '/token': 'public',
      '/index.html': 'public',
      '/message-schemas.example.json': 'private',
    });
    // Only what is served: no compiler settings, no sources, no maps.
    expect(Object.keys(visibility).filter((p) => /tsconfig|\.ts$|\.map$/.test(p))).toEqual([]);

    // The runtime of .twilioserverlessrc, the dependencies of package.json.
    expect(rc.runtime).toBe('node22');
    expect(build.runtime).toBe('node22');
    const pkg = JSON.parse(readFileSync(join(work, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(build.dependencies).toEqual(Object.entries(pkg.dependencies).map(([name, version]) => ({ name, version })));

    // Exactly the file's non-empty variables: no credentials, nothing of the sandbox's.
    const {
      ACCOUNT_SID,
      AUTH_TOKEN,
      APP_WEBHOOK_URL,
      TWILIO_SANDBOX_URL,
      SANDBOX_GATEWAY,
      HTTP_PROXY,
      NODE_EXTRA_CA_CERTS,
      ...rest
    } = baseEnv();
    expect(variables).toEqual(rest);
  });

  it('a dry run prints the plan and changes nothing', async () => {
    const before = deployed();
    const builds = sandbox.serverless.state.builds.size;
    const { TOKEN_SECRET, ...withoutToken } = baseEnv();
    expect(TOKEN_SECRET).toBeDefined();
    writeFileSync(
      envFile,
      envText({ ...withoutToken, CLIENT_IDENTITY: 'bob', PUBLIC_BASE_URL: 'https://example.com' }),
    );
    const dry = await deploy('--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/added\s+PUBLIC_BASE_URL\n\s+changed\s+CLIENT_IDENTITY\n\s+removed\s+TOKEN_SECRET\n/);
    expect(dry.stdout).toMatch(/Dry run: nothing changed/);
    expect(deployed().variables).toEqual(before.variables);
    expect(sandbox.serverless.state.builds.size).toBe(builds);
  });

  it('deploys again, the same build, and a variable removed from the file is gone', async () => {
    const first = deployed();
    const second = await deploy('--skip-build');
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/Removed TOKEN_SECRET\./);
    const now = deployed();
    expect(now.service.sid).toBe(first.service.sid);
    expect(now.environment.sid).toBe(first.environment.sid);
    expect(now.build.sid).not.toBe(first.build.sid);
    // The same files, uploaded again from the one build.
    const contents = (b: Build) =>
      versionsOf(b, 'functionVersions')
        .map((v) => `${v.path}:${v.content.toString('base64')}`)
        .sort();
    expect(contents(now.build)).toEqual(contents(first.build));
    expect(now.variables.TOKEN_SECRET).toBeUndefined();
    expect(now.variables.CLIENT_IDENTITY).toBe('bob');
    expect(now.variables.PUBLIC_BASE_URL).toBe('https://example.com');
    expect(Object.keys(now.variables).sort()).toEqual(
      Object.keys(first.variables)
        .filter((k) => k !== 'TOKEN_SECRET')
        .concat('PUBLIC_BASE_URL')
        .sort(),
    );
  });
});
