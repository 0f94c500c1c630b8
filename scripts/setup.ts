// npm run setup [-- --dry-run] [--force] [--environment SUFFIX] [--base-url URL] [--config PATH] [--env FILE]
// After the first `npm run deploy`: the API key, the TwiML App, the numbers' voice URLs, the
// environment's variables (Variables API: no second deploy) and the first agent. See README "Deploy".
// Exit codes: 0 done (or nothing to do), 1 error, 2 refused (a number answers somewhere else; use --force).
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import twilio from 'twilio';
import { parseCommandLine, reportFailure } from './cli';
import { CredentialsError, readApiCredentials, readDotEnv, setDotEnvValues } from './dotenv';
import { readProject } from './deploy';
import { loadServiceConfig, SERVICE_CONFIG_FILE, ServiceConfigError } from './wire/service-config';
import { WireError } from './wire/wire';
import { setup, SetupError } from './setup/setup';

const USAGE = `Usage: npm run setup -- [--dry-run] [--force] [--environment SUFFIX] [--base-url URL] [--config PATH] [--env FILE]
Run once after the first \`npm run deploy\` (and again at any time: it changes only what differs):
makes or keeps the API key /token signs with, points the TwiML App and the numbers of the service
config at the deployment's /voice, sets API_KEY_SID, API_KEY_SECRET, TWIML_APP_SID, CALLER_ID,
CLIENT_IDENTITY, SYNC_SERVICE_SID and OPERATOR_SECRET on the deployed environment (Variables API)
and in the env file, and creates the first agent (CLIENT_IDENTITY), printing its password once.
  --dry-run             print the plan, change nothing
  --force               rewire numbers whose voice URL (or TwiML App) points somewhere else
  --environment SUFFIX  the environment's domain suffix (default: .twilioserverlessrc's, else dev)
  --base-url URL        where the functions are, if not https://<the environment's domain>
  --config PATH         the service config (default: ${SERVICE_CONFIG_FILE})
  --env FILE            the env file to read and update (default: .env)
Credentials: ACCOUNT_SID and AUTH_TOKEN (or TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN), or the Twilio
CLI's TWILIO_ACCOUNT_SID, TWILIO_API_KEY and TWILIO_API_SECRET (a Standard key cannot make the API
key: have one in the env file), from the environment or the env file.`;

async function main(): Promise<number> {
  const { values } = parseCommandLine(USAGE, {
    'dry-run': { type: 'boolean', default: false },
    force: { type: 'boolean', default: false },
    environment: { type: 'string' },
    'base-url': { type: 'string' },
    config: { type: 'string', default: SERVICE_CONFIG_FILE },
    env: { type: 'string', default: '.env' },
  });
  const cwd = process.cwd();
  const envPath = resolve(cwd, values.env);
  try {
    const project = readProject(resolve(__dirname, '..'), values.environment);
    const config = loadServiceConfig(resolve(cwd, values.config));
    const dotEnv = readDotEnv(envPath);
    const credentials = readApiCredentials(process.env, dotEnv, values.env);
    const client = twilio(credentials.username, credentials.password, { accountSid: credentials.accountSid });
    const saveDotEnv = (changes: Record<string, string>) => {
      let text = '';
      try {
        text = readFileSync(envPath, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      writeFileSync(envPath, setDotEnvValues(text, changes), { mode: 0o600 });
    };
    const result = await setup(client, config, {
      serviceName: project.serviceName,
      environment: project.environment,
      dotEnv,
      dryRun: values['dry-run'],
      force: values.force,
      baseUrl: values['base-url'],
      credential: credentials.via,
      log: (line) => console.log(line),
      saveDotEnv,
    });
    if (result.applied) console.log('Set up. Open the status page (/status.html) to check it.');
    return 0;
  } catch (err) {
    return reportFailure('setup', err, [WireError, SetupError, ServiceConfigError, CredentialsError]);
  }
}

void main().then((code) => {
  process.exitCode = code;
});
