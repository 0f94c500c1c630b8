// npm run wire [-- --dry-run] [--force] [--base-url URL] [--config PATH]
// Points the numbers and the TwiML App of .twilioserviceconfig at the deployed /voice; see docs/WIRING.md.
// Exit codes: 0 done (or nothing to do), 1 error, 2 refused (a number answers somewhere else; use --force).
import { join, resolve } from 'node:path';
import twilio from 'twilio';
import { twilioClient } from '../lib/platform/twilio-client';
import { SandboxRequestClient } from '../sandbox/request-client';
import { parseCommandLine, reportFailure } from './cli';
import { CredentialsError, readCredentials, readDotEnv } from './dotenv';
import { BaseUrlError } from './wire/base-url';
import { loadServiceConfig, SERVICE_CONFIG_FILE, ServiceConfigError } from './wire/service-config';
import { wire, WireError } from './wire/wire';

const USAGE = `Usage: npm run wire -- [--dry-run] [--force] [--base-url URL] [--config PATH]
  --dry-run        print the plan, change nothing
  --force          rewire numbers whose voice URL (or TwiML App) points somewhere else
  --base-url URL   where the functions are (default: baseUrl or domain in the config, else .twiliodeployinfo)
  --config PATH    the service config (default: ${SERVICE_CONFIG_FILE})
Credentials: ACCOUNT_SID and AUTH_TOKEN (or TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN) from the environment or .env;
TWILIO_SANDBOX_URL=http://127.0.0.1:PORT talks to the local sandbox instead of Twilio.`;

async function main(): Promise<number> {
  const { values } = parseCommandLine(USAGE, {
    'dry-run': { type: 'boolean', default: false },
    force: { type: 'boolean', default: false },
    'base-url': { type: 'string' },
    config: { type: 'string', default: SERVICE_CONFIG_FILE },
  });
  const args = { dryRun: values['dry-run'], force: values.force, baseUrl: values['base-url'], config: values.config };
  if (args.baseUrl === '' || args.config === '') {
    console.error(`wire: --${args.baseUrl === '' ? 'base-url' : 'config'} needs a value\n${USAGE}`);
    return 1;
  }
  const cwd = process.cwd();
  try {
    const config = loadServiceConfig(resolve(cwd, args.config));
    const dotEnvPath = join(cwd, '.env');
    const credentials = readCredentials(process.env, readDotEnv(dotEnvPath), '.env');
    if (credentials.sandboxUrl)
      console.log(`Using the local sandbox at ${credentials.sandboxUrl} (TWILIO_SANDBOX_URL), not Twilio.`);
    const client = credentials.sandboxUrl
      ? twilio(credentials.accountSid, credentials.authToken, {
          httpClient: new SandboxRequestClient(credentials.sandboxUrl),
        })
      : twilioClient(credentials);
    await wire(client, config, {
      dryRun: args.dryRun,
      force: args.force,
      baseUrl: args.baseUrl,
      cwd,
      log: (line) => console.log(line),
    });
    return 0;
  } catch (err) {
    return reportFailure(
      'wire',
      err,
      [WireError, ServiceConfigError, CredentialsError, BaseUrlError],
      'check ACCOUNT_SID and AUTH_TOKEN',
    );
  }
}

void main().then((code) => {
  process.exitCode = code;
});
