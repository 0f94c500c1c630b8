// npm run deploy [-- --dry-run] [--env FILE] [--environment SUFFIX] [--skip-build]
// Deploys with twilio-run (unmodified) so that the deployed environment's variables equal the env
// file: prints the plan, removes what the file no longer has, then runs `twilio-run deploy`.
// Exit codes: 0 done (or the dry run's plan printed), 1 error.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import twilio from 'twilio';
import { parseCommandLine } from './cli';
import { CredentialsError, readCredentials, readDotEnv } from './dotenv';
import { deployEnv, envFileText, planVariables, type VariablePlan } from './deploy/plan';
import { findDeployment } from './deploy/deployed';

const USAGE = `Usage: npm run deploy -- [--dry-run] [--env FILE] [--environment SUFFIX] [--skip-build]
Builds, then deploys dist/ to Twilio Functions with twilio-run, so that the deployed environment's
variables are exactly the env file's: non-empty values, without ACCOUNT_SID/AUTH_TOKEN (twilio-run's
credentials) and without the sandbox's own (TWILIO_SANDBOX_URL, SANDBOX_*, HTTP_PROXY,
NODE_EXTRA_CA_CERTS, …). Prints the plan (variables added, changed, removed: names only), removes
from the environment what the file no longer has, then runs twilio-run deploy, which sets the rest.
  --dry-run             print the plan, change nothing (no build)
  --env FILE            the variables to deploy (default .env)
  --environment SUFFIX  the environment's domain suffix (default: .twilioserverlessrc's, else dev)
  --skip-build          deploy dist/ as it is
Credentials: ACCOUNT_SID and AUTH_TOKEN (or TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN) from the environment
or the env file. HTTP_PROXY and NODE_EXTRA_CA_CERTS (what the sandbox's Twilio proxy prints) reach
the local sandbox instead of Twilio.`;

export interface Project {
  root: string;
  serviceName: string;
  environment: string;
}

export function readProject(root: string, environment: string | undefined): Project {
  const rc = JSON.parse(readFileSync(join(root, '.twilioserverlessrc'), 'utf8')) as {
    serviceName?: string;
    environment?: string;
  };
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: string };
  const serviceName = rc.serviceName ?? pkg.name;
  if (!serviceName) throw new Error('No service name: set serviceName in .twilioserverlessrc');
  // twilio-run's own default for --environment is "dev".
  return { root, serviceName, environment: environment ?? rc.environment ?? 'dev' };
}

function printPlan(plan: VariablePlan, dropped: ReturnType<typeof deployEnv>['dropped'], where: string): void {
  const line = (label: string, keys: string[]) =>
    console.log(`  ${label.padEnd(10)} ${keys.length ? keys.join(', ') : '—'}`);
  console.log(`Variables of ${where}:`);
  line('added', plan.added);
  line('changed', plan.changed);
  line('removed', plan.removed);
  console.log(`  ${'unchanged'.padEnd(10)} ${plan.unchanged.length}`);
  if (dropped.sandboxOnly.length) console.log(`  not deployed (the sandbox's only): ${dropped.sandboxOnly.join(', ')}`);
  if (dropped.empty.length) console.log(`  not deployed (empty: off): ${dropped.empty.join(', ')}`);
}

function run(command: string, args: string[], cwd: string): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd, stdio: 'inherit' });
    child.on('error', fail);
    child.on('exit', (code, signal) => done(code ?? (signal ? 1 : 0)));
  });
}

async function main(): Promise<number> {
  const { values } = parseCommandLine(USAGE, {
    'dry-run': { type: 'boolean', default: false },
    env: { type: 'string', default: '.env' },
    environment: { type: 'string' },
    'skip-build': { type: 'boolean', default: false },
  });
  const root = resolve(__dirname, '..');
  const envPath = resolve(process.cwd(), values.env);
  const project = readProject(root, values.environment);
  const fileEnv = readDotEnv(envPath);
  const credentials = readCredentials(process.env, fileEnv, values.env);
  const { env, dropped } = deployEnv(fileEnv);
  const client = twilio(credentials.accountSid, credentials.authToken);
  const now = await findDeployment(client, project.serviceName, project.environment);
  const plan = planVariables(
    env,
    now.variables.map((v) => ({ key: v.key, value: v.value })),
  );
  const where = now.environment
    ? `${now.environment.domainName} (service ${project.serviceName}, environment ${project.environment || 'production'})`
    : `the new environment "${project.environment || 'production'}" of service ${project.serviceName}`;
  printPlan(plan, dropped, where);
  if (values['dry-run']) {
    console.log('Dry run: nothing changed.');
    return 0;
  }

  if (!values['skip-build']) {
    const built = await run(process.execPath, [join(root, 'scripts/build.mjs')], root);
    if (built !== 0) return built;
  }

  // Removed first, so that the deployment twilio-run makes starts with exactly the file's variables
  // (whether Twilio reads variables at a deployment or live is undocumented: this holds for both).
  if (now.service && now.environment && plan.removed.length) {
    const variables = client.serverless.v1.services(now.service.sid).environments(now.environment.sid).variables;
    for (const v of now.variables.filter((x) => plan.removed.includes(x.key))) await variables(v.sid).remove();
    console.log(`Removed ${plan.removed.join(', ')}.`);
  }

  // twilio-run reads its credentials and the variables from one file: this one holds exactly them.
  const dir = mkdtempSync(join(tmpdir(), 'cme-deploy-'));
  try {
    const file = join(dir, '.env');
    writeFileSync(
      file,
      envFileText({ ACCOUNT_SID: credentials.accountSid, AUTH_TOKEN: credentials.authToken, ...env }),
      { mode: 0o600 },
    );
    const args = [
      require.resolve('twilio-run/bin/twilio-run.js'),
      'deploy',
      '--env',
      file,
      '--environment',
      project.environment,
    ];
    // Found by its unique name: deploy there, whatever .twiliodeployinfo remembers.
    if (now.service) args.push('--service-sid', now.service.sid);
    else args.push('--service-name', project.serviceName);
    const code = await run(process.execPath, args, root);
    if (code !== 0) {
      console.error(`twilio-run deploy failed (exit ${code}).`);
      return code;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('Deployed. Next: npm run wire');
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: Error & { status?: number; code?: number }) => {
      if (err instanceof CredentialsError) console.error(`deploy: ${err.message}`);
      else console.error(`deploy: ${err.message}${err.status ? ` (HTTP ${err.status}, Twilio code ${err.code})` : ''}`);
      process.exit(1);
    },
  );
}
