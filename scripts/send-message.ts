// npm run send-message -- --call CA… '{"k":"v"}'      (or --identity alice)
// npm run call-messages -- CA…                         (a leg's state and messages)
// Calls /backend-send and /backend-messages with a backend key: BACKEND_API_KEY (one key of
// BACKEND_API_KEYS, `<id>.<secret>`) from the environment or .env. Without one, AUTH_TOKEN signs
// /send-message and /call-messages as Twilio does; with neither, the sandbox's documented key (what
// `npm start` uses). FUNCTIONS_URL: default http://localhost:$PORT or :3000.
import { callMessages, sendMessage, UnreachableError } from '../client/src';
import { SANDBOX_DEFAULTS } from '../sandbox/defaults';
import { parseCommandLine } from './cli';
import { readDotEnv } from './dotenv';

const USAGE = `Usage: npm run send-message -- (--call CA… | --identity NAME) '{"key":"value"}' [--url URL] [--key IDEMPOTENCY_KEY]
       npm run call-messages -- CA… [--url URL]
  --call CA…        the call leg to send to
  --identity NAME   or: the agent whose one active leg gets it
  --key KEY         idempotencyKey (default: one made up, kept across retries)
  --history         print the leg's state and messages instead (what npm run call-messages does)
  --url URL         the functions (default: FUNCTIONS_URL, else http://localhost:$PORT or :3000)
Credentials: BACKEND_API_KEY (<id>.<secret>) from the environment or .env; else AUTH_TOKEN signs
/send-message as Twilio does; with neither, the sandbox's documented key (npm start).`;

async function main() {
  const { values, positionals } = parseCommandLine(
    USAGE,
    {
      call: { type: 'string' },
      identity: { type: 'string' },
      url: { type: 'string' },
      key: { type: 'string' },
      history: { type: 'boolean' },
    },
    { allowPositionals: true },
  );
  const env = { ...readDotEnv('.env'), ...process.env };
  const baseUrl = values.url || env.FUNCTIONS_URL || `http://localhost:${env.PORT || 3000}`;
  const authToken = env.AUTH_TOKEN ?? env.TWILIO_AUTH_TOKEN;
  const apiKey = env.BACKEND_API_KEY ?? (authToken ? undefined : SANDBOX_DEFAULTS.backendKey);
  const fn = apiKey !== undefined ? { baseUrl, apiKey } : { baseUrl, authToken: authToken ?? '' };
  if (values.history) {
    if (!positionals[0]) throw new Error(`a call SID is missing\n\n${USAGE}`);
    const res = await callMessages(fn, positionals[0], { pageSize: 100 });
    console.log(JSON.stringify(res.body, null, 2));
    return res.status < 300;
  }
  const content = positionals[0];
  if (!content || (!values.call && !values.identity)) {
    throw new Error(`${content ? 'give --call or --identity' : 'the content is missing'}\n\n${USAGE}`);
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
    console.error(
      err instanceof UnreachableError
        ? `${err.message}: is npm start running? Otherwise set FUNCTIONS_URL or --url to where the functions are.`
        : err.message,
    );
    process.exit(2);
  },
);
