// npm run wire [-- --dry-run] [--force] [--base-url URL] [--config PATH]
// Points the numbers and the TwiML App of .twilioserviceconfig at the deployed /voice; see docs/WIRING.md.
// Exit codes: 0 done (or nothing to do), 1 error, 2 refused (a number answers somewhere else; use --force).
import { join, resolve } from 'node:path';
import { twilioClient } from '../lib/platform/twilio-client';
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

class UsageError extends Error {}

interface Args {
  dryRun: boolean;
  force: boolean;
  baseUrl?: string;
  config: string;
  help: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { dryRun: false, force: false, config: SERVICE_CONFIG_FILE, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === undefined) throw new Error('i < argv.length, so argv[i] is set');
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '' || (inline === undefined && v.startsWith('--')))
        throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const noValue = () => {
      if (inline !== undefined) throw new UsageError(`${flag} takes no value`);
    };
    switch (flag) {
      case '--dry-run':
        noValue();
        args.dryRun = true;
        break;
      case '--force':
        noValue();
        args.force = true;
        break;
      case '--base-url':
        args.baseUrl = value();
        break;
      case '--config':
        args.config = value();
        break;
      case '--help':
      case '-h':
        args.help = true;
        break;
      default:
        throw new UsageError(`unknown argument ${arg}`);
    }
  }
  return args;
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`wire: ${(err as Error).message}\n${USAGE}`);
    return 1;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const cwd = process.cwd();
  try {
    const config = loadServiceConfig(resolve(cwd, args.config));
    const dotEnvPath = join(cwd, '.env');
    const credentials = readCredentials(process.env, readDotEnv(dotEnvPath), '.env');
    if (credentials.sandboxUrl)
      console.log(`Using the local sandbox at ${credentials.sandboxUrl} (TWILIO_SANDBOX_URL), not Twilio.`);
    const client = twilioClient(credentials);
    await wire(client, config, {
      dryRun: args.dryRun,
      force: args.force,
      baseUrl: args.baseUrl,
      cwd,
      log: (line) => console.log(line),
    });
    return 0;
  } catch (err) {
    if (err instanceof WireError) {
      console.error(`wire: ${err.message}`);
      return err.exitCode;
    }
    if (err instanceof ServiceConfigError || err instanceof CredentialsError || err instanceof BaseUrlError) {
      console.error(`wire: ${err.message}`);
      return 1;
    }
    const e = err as { status?: number; code?: number; message?: string; moreInfo?: string };
    if (typeof e.status === 'number') {
      const hint = e.status === 401 ? ' (check ACCOUNT_SID and AUTH_TOKEN)' : '';
      console.error(`wire: Twilio answered ${e.status}${e.code ? ` (error ${e.code})` : ''}: ${e.message}${hint}`);
      return 1;
    }
    console.error(`wire: ${(err as Error)?.stack ?? String(err)}`);
    return 1;
  }
}

void main().then((code) => {
  process.exitCode = code;
});
