// Reads a .env file (KEY=value lines) for the scripts that run outside Functions: wire, start, send-message.
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

export type Env = Record<string, string | undefined>;

/**
 * A `.env` file's variables, read by Node's own parser (`util.parseEnv`: `KEY=value`, `#` comments,
 * `export `, quotes, `\n` in double quotes). twilio-run reads the file it deploys with `dotenv` 6,
 * which ignores `export ` lines and keeps a ` # comment` after an unquoted value: keep `.env`
 * to plain `KEY=value` lines and both read it the same.
 */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parseEnv(text))) if (value !== undefined) out[key] = value;
  return out;
}

/** `.env` at `path` parsed, or {} when there is none. */
export function readDotEnv(path: string): Record<string, string> {
  try {
    return parseDotEnv(readFileSync(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
}

export interface Credentials {
  accountSid: string;
  authToken: string;
  /** Set when the local sandbox stands in for Twilio. */
  sandboxUrl?: string;
}

export class CredentialsError extends Error {
  override name = 'CredentialsError';
}

/**
 * ACCOUNT_SID/AUTH_TOKEN (or TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN) and TWILIO_SANDBOX_URL from
 * `processEnv`, falling back to `dotEnv` for any that the environment does not set.
 */
export function readCredentials(processEnv: Env, dotEnv: Env, dotEnvPath = '.env'): Credentials {
  const pick = (...names: string[]) => {
    for (const source of [processEnv, dotEnv]) {
      for (const name of names) {
        const value = source[name]?.trim();
        if (value) return value;
      }
    }
    return undefined;
  };
  const accountSid = pick('ACCOUNT_SID', 'TWILIO_ACCOUNT_SID');
  const authToken = pick('AUTH_TOKEN', 'TWILIO_AUTH_TOKEN');
  const missing = [
    !accountSid && 'ACCOUNT_SID (or TWILIO_ACCOUNT_SID)',
    !authToken && 'AUTH_TOKEN (or TWILIO_AUTH_TOKEN)',
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new CredentialsError(
      `Set ${missing.join(' and ')} in the environment or in ${dotEnvPath}: your Twilio Account SID and Auth Token.`,
    );
  }
  if (!/^AC[0-9a-f]{32}$/.test(accountSid!)) {
    throw new CredentialsError(
      `ACCOUNT_SID must be an Account SID: AC followed by 32 hex digits (got "${accountSid!.slice(0, 6)}…").`,
    );
  }
  const sandboxUrl = pick('TWILIO_SANDBOX_URL');
  return { accountSid: accountSid!, authToken: authToken!, ...(sandboxUrl ? { sandboxUrl } : {}) };
}
