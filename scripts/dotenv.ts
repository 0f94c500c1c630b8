// Reads a .env file (KEY=value lines) for the scripts that run outside Functions: wire, start, send-message.
import { readFileSync } from 'node:fs';

export type Env = Record<string, string | undefined>;

/**
 * Parses the simple `.env` format: `KEY=value` lines, `#` comments, optional `export `, values in
 * single or double quotes (double quotes understand \n, \" and \\), ` #` starting a comment after an
 * unquoted value. Lines that are not assignments are ignored.
 */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rawLine of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    // Both groups are set exactly when the line is an assignment (the value's may be empty).
    const [, key, rest] = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line) ?? [];
    if (key === undefined || rest === undefined) continue;
    let value: string;
    const quote = rest[0];
    if ((quote === '"' || quote === "'") && rest.indexOf(quote, 1) > 0) {
      const end = quote === '"' ? closingDoubleQuote(rest) : rest.indexOf(quote, 1);
      value = rest.slice(1, end);
      if (quote === '"')
        value = value.replace(/\\(.)/g, (_s, c: string) =>
          c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : c,
        );
    } else {
      value = rest.replace(/\s+#.*$/, '').trim();
    }
    out[key] = value;
  }
  return out;
}

function closingDoubleQuote(s: string): number {
  for (let i = 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '"') return i;
  }
  return s.length;
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
