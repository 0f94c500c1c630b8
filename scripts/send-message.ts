// npm run send-message -- --call CA… '{"k":"v"}'      (or --identity alice)
// npm run call-messages -- CA…                         (a leg's state and messages)
// Calls /backend-send and /backend-messages with a backend key: BACKEND_API_KEY (one key of
// BACKEND_API_KEYS, `<id>.<secret>`) from the environment or .env. Without one, AUTH_TOKEN signs
// /send-message and /call-messages as Twilio does; with neither, the sandbox's documented key (what
// `npm start` uses). FUNCTIONS_URL: default http://localhost:$PORT or :3000.
import { parseArgs } from 'node:util';
import { callMessages, sendMessage } from '../client/src';
import { SANDBOX_DEFAULTS } from '../sandbox/defaults';
import { readDotEnv } from './dotenv';

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      call: { type: 'string' },
      identity: { type: 'string' },
      url: { type: 'string' },
      key: { type: 'string' },
      history: { type: 'boolean' },
    },
  });
  const env = { ...readDotEnv('.env'), ...process.env };
  const baseUrl = values.url ?? env.FUNCTIONS_URL ?? `http://localhost:${env.PORT ?? 3000}`;
  const authToken = env.AUTH_TOKEN ?? env.TWILIO_AUTH_TOKEN;
  const apiKey = env.BACKEND_API_KEY ?? (authToken ? undefined : SANDBOX_DEFAULTS.backendKey);
  const fn = apiKey !== undefined ? { baseUrl, apiKey } : { baseUrl, authToken: authToken ?? '' };
  if (values.history) {
    if (!positionals[0]) throw new Error('usage: npm run call-messages -- CA… [--url URL]');
    const res = await callMessages(fn, positionals[0], { pageSize: 100 });
    console.log(JSON.stringify(res.body, null, 2));
    return res.status < 300;
  }
  const content = positionals[0];
  if (!content || (!values.call && !values.identity)) {
    throw new Error(
      'usage: npm run send-message -- (--call CA… | --identity NAME) \'{"key":"value"}\' [--url URL] [--key IDEMPOTENCY_KEY]',
    );
  }
  // Retried (same idempotencyKey) after a 503's Retry-After: Sync's write limit on a call frees up within seconds.
  const res = await sendMessage(
    fn,
    {
      callSid: values.call,
      identity: values.identity,
      content,
      idempotencyKey: values.key,
    },
    { budgetMs: 30_000 },
  );
  console.log(JSON.stringify(res.body, null, 2));
  return res.status < 300;
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (err: Error) => {
    console.error(err.message);
    process.exit(2);
  },
);
