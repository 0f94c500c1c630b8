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

/** The first non-empty value of these names: the environment's first, then the file's. */
const picker =
  (processEnv: Env, dotEnv: Env) =>
  (...names: string[]): string | undefined => {
    for (const source of [processEnv, dotEnv])
      for (const name of names) {
        const value = source[name]?.trim();
        if (value) return value;
      }
    return undefined;
  };

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
  const pick = picker(processEnv, dotEnv);
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

/** What a script authenticates to Twilio with: the Auth Token, or an API key (the Twilio CLI's). */
export interface ApiCredentials {
  accountSid: string;
  /** The Account SID or an API key SID (SK…): Basic auth's user. */
  username: string;
  password: string;
  via: 'auth-token' | 'api-key';
}

/**
 * ACCOUNT_SID/AUTH_TOKEN (or TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN); without an Auth Token, the
 * Twilio CLI's environment credentials TWILIO_API_KEY/TWILIO_API_SECRET with the Account SID. The
 * environment wins over `dotEnv`, name by name.
 */
export function readApiCredentials(processEnv: Env, dotEnv: Env, dotEnvPath = '.env'): ApiCredentials {
  const pick = picker(processEnv, dotEnv);
  const accountSid = pick('ACCOUNT_SID', 'TWILIO_ACCOUNT_SID');
  const authToken = pick('AUTH_TOKEN', 'TWILIO_AUTH_TOKEN');
  const apiKey = pick('TWILIO_API_KEY');
  const apiSecret = pick('TWILIO_API_SECRET');
  if (!accountSid || (!authToken && !(apiKey && apiSecret)))
    throw new CredentialsError(
      `Set ACCOUNT_SID (or TWILIO_ACCOUNT_SID) and AUTH_TOKEN, or the Twilio CLI's TWILIO_API_KEY and TWILIO_API_SECRET, in the environment or in ${dotEnvPath}.`,
    );
  if (!/^AC[0-9a-f]{32}$/.test(accountSid))
    throw new CredentialsError(
      `ACCOUNT_SID must be an Account SID: AC followed by 32 hex digits (got "${accountSid.slice(0, 6)}…").`,
    );
  if (authToken) return { accountSid, username: accountSid, password: authToken, via: 'auth-token' };
  if (!/^SK[0-9a-f]{32}$/.test(apiKey!))
    throw new CredentialsError(`TWILIO_API_KEY must be an API key SID: SK followed by 32 hex digits.`);
  return { accountSid, username: apiKey!, password: apiSecret!, via: 'api-key' };
}

/** A value a `.env` line holds as it is for both readers (util.parseEnv and twilio-run's dotenv 6). */
export const isPlainEnvValue = (value: string) => /^[^\s#'"`\\]*$/.test(value);

/**
 * `.env` text with these variables set: an existing `KEY=` line is replaced where it is, a new one
 * appended; comments and every other line stay as they were.
 */
export function setDotEnvValues(text: string, values: Record<string, string>): string {
  const left = new Map(Object.entries(values));
  for (const [key, value] of left)
    if (!isPlainEnvValue(value))
      throw new CredentialsError(`${key}'s value cannot be written to .env as a plain value.`);
  // Every line of a key is rewritten (a reader takes the last of several).
  const lines = text.split('\n').map((line) => {
    const key = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line)?.[1];
    if (key === undefined || values[key] === undefined) return line;
    left.delete(key);
    return `${key}=${values[key]}`;
  });
  if (left.size > 0) {
    if (lines.length > 0 && lines[lines.length - 1] !== '') lines.push('');
    lines.splice(lines.length - 1, 0, ...[...left].map(([k, v]) => `${k}=${v}`));
  }
  return lines.join('\n');
}
