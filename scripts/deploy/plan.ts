// What `npm run deploy` deploys: the env file's variables minus the sandbox's own, and how they
// differ from the deployed environment's.

/** twilio-run's credentials: it reads them from the env file and never uploads them. */
export const CREDENTIALS = ['ACCOUNT_SID', 'AUTH_TOKEN'] as const;

/**
 * The sandbox's own variables: what `npm start`, the test stacks and the sandbox's Twilio proxy use.
 * None may reach a deployed environment (a Function with TWILIO_SANDBOX_URL refuses every request;
 * one with HTTP_PROXY would send its Twilio requests to a proxy that is not there).
 */
export const SANDBOX_ONLY = [
  'TWILIO_SANDBOX_URL',
  'SANDBOX_GATEWAY',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'NODE_EXTRA_CA_CERTS',
  'TWILIO_CA_BUNDLE',
  'PORT',
  'GATEWAY_PORT',
  'EXAMPLE_BACKEND',
  'EXAMPLE_BACKEND_PORT',
] as const;

export function isSandboxOnly(key: string): boolean {
  const upper = key.toUpperCase();
  return upper.startsWith('SANDBOX_') || (SANDBOX_ONLY as readonly string[]).includes(upper);
}

/** The variables to deploy, and what was left out of the file's (names only). */
export function deployEnv(fileEnv: Record<string, string>): {
  env: Record<string, string>;
  dropped: { sandboxOnly: string[]; empty: string[] };
} {
  const env: Record<string, string> = {};
  const dropped = { sandboxOnly: [] as string[], empty: [] as string[] };
  for (const [key, value] of Object.entries(fileEnv)) {
    if ((CREDENTIALS as readonly string[]).includes(key)) continue;
    if (isSandboxOnly(key)) dropped.sandboxOnly.push(key);
    // twilio-run never uploads an empty value: empty means off, and off is removed.
    else if (value === '') dropped.empty.push(key);
    else env[key] = value;
  }
  return { env, dropped };
}

export interface VariablePlan {
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: string[];
}

/** How `env` differs from the deployed variables. Twilio's own (ACCOUNT_SID, AUTH_TOKEN) are never removed. */
export function planVariables(env: Record<string, string>, deployed: { key: string; value: string }[]): VariablePlan {
  const now = new Map(deployed.map((v) => [v.key, v.value]));
  const plan: VariablePlan = { added: [], changed: [], removed: [], unchanged: [] };
  for (const [key, value] of Object.entries(env)) {
    const old = now.get(key);
    if (old === undefined) plan.added.push(key);
    else if (old !== value) plan.changed.push(key);
    else plan.unchanged.push(key);
  }
  for (const key of now.keys())
    if (!(key in env) && !(CREDENTIALS as readonly string[]).includes(key)) plan.removed.push(key);
  for (const list of [plan.added, plan.changed, plan.removed, plan.unchanged]) list.sort();
  return plan;
}

/**
 * An env file twilio-run reads back exactly. Its parser is dotenv 6: each line `KEY=value`; in a
 * value that starts and ends with `"`, `\n` becomes a newline; then one quote character is taken
 * off each end (whichever it is, paired or not) and the rest trimmed. So a value with a quote at
 * either end is written in single quotes, a multi-line one in double quotes; one with spaces at an
 * end, or both a newline and the text `\n`, cannot be written at all.
 */
export function envFileText(vars: Record<string, string>): string {
  const lines = Object.entries(vars).map(([key, value]) => {
    const refuse = (why: string) => new Error(`${key}: ${why}, which twilio-run's env file cannot carry`);
    if (!/^[\w.-]+$/.test(key)) throw refuse('not a variable name');
    if (value !== value.trim()) throw refuse('its value has spaces at an end');
    if (/[\r\n]/.test(value)) {
      if (/\r|\\n/.test(value)) throw refuse('its value has a carriage return, or a newline and the text \\n');
      return `${key}="${value.replace(/\n/g, '\\n')}"`;
    }
    return /^["']|["']$/.test(value) ? `${key}='${value}'` : `${key}=${value}`;
  });
  return `${lines.join('\n')}\n`;
}
