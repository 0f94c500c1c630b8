// npm run send-message -- --call CA… '{"k":"v"}'      (or --identity alice)
// Sends a server → SDK call message through the deployed (or local) /send-message, signed.
// FUNCTIONS_URL (default http://localhost:3000) and AUTH_TOKEN come from the environment or .env;
// under `npm start` the sandbox's token is the default.
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { sendMessage } from '../client';
import { SANDBOX_DEFAULTS } from '../sandbox/defaults';

function dotenv(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  const vars: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)\s*$/.exec(line);
    if (match) vars[match[1]] = match[2].replace(/^(['"])(.*)\1$/, '$2');
  }
  return vars;
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { call: { type: 'string' }, identity: { type: 'string' }, url: { type: 'string' }, key: { type: 'string' } },
  });
  const env = { ...dotenv('.env'), ...process.env };
  const content = positionals[0];
  if (!content || (!values.call && !values.identity)) {
    console.error('usage: npm run send-message -- (--call CA… | --identity NAME) \'{"key":"value"}\' [--url URL] [--key IDEMPOTENCY_KEY]');
    process.exit(2);
  }
  const baseUrl = values.url ?? env.FUNCTIONS_URL ?? `http://localhost:${env.PORT ?? 3000}`;
  const authToken = env.AUTH_TOKEN ?? env.TWILIO_AUTH_TOKEN ?? SANDBOX_DEFAULTS.authToken;
  const res = await sendMessage({ baseUrl, authToken }, { callSid: values.call, identity: values.identity, content, idempotencyKey: values.key });
  console.log(JSON.stringify(res.body, null, 2));
  process.exit(res.status < 300 ? 0 : 1);
}

main().catch((err: Error) => {
  console.error(`send-message: ${err.message}`);
  process.exit(1);
});
