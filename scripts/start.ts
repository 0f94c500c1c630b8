// npm start: with no Twilio account configured, the sandbox (a local Twilio) and the real
// functions under twilio-run, wired together. With ACCOUNT_SID/AUTH_TOKEN in .env (and
// SANDBOX unset or 0), plain twilio-run against real Twilio.
import { spawn } from 'node:child_process';
import { SANDBOX_DEFAULTS } from '../sandbox/defaults';
import { startStack, type StackOptions } from '../sandbox/stack';
import { parseCommandLine } from './cli';
import { readDotEnv } from './dotenv';
import { startExampleBackend } from './example-backend';

function envFileHasCredentials(): boolean {
  const env = readDotEnv('.env');
  return /^AC[0-9a-f]{32}$/.test(env.ACCOUNT_SID ?? '') && /^\S/.test(env.AUTH_TOKEN ?? '');
}

const USAGE = `Usage: npm start
Builds, then runs the local sandbox (a Twilio stand-in), the functions under twilio-run behind the
sandbox's Functions gateway, and the example app backend; prints the URLs, passwords and a scenario.
With ACCOUNT_SID and AUTH_TOKEN in .env (and SANDBOX unset), plain twilio-run against real Twilio.
Environment: PORT (functions, 3000), SANDBOX_PORT (3001), GATEWAY_PORT (3002),
  EXAMPLE_BACKEND_PORT (3003), EXAMPLE_BACKEND=0 (none), SANDBOX=1|0 (force the sandbox on/off),
  SANDBOX_PROFILE (realistic|deterministic), QUIET=1.`;

async function main() {
  parseCommandLine(USAGE, {});
  const port = Number(process.env.PORT ?? 3000);
  const sandboxPort = Number(process.env.SANDBOX_PORT ?? 3001);
  const gatewayPort = Number(process.env.GATEWAY_PORT ?? SANDBOX_DEFAULTS.gatewayPort);
  const useSandbox = process.env.SANDBOX === '1' || (process.env.SANDBOX !== '0' && !envFileHasCredentials());
  if (!useSandbox) {
    console.log(
      'Real Twilio mode: ACCOUNT_SID and AUTH_TOKEN from .env. Expose the port with a tunnel and set PUBLIC_BASE_URL.',
    );
    const child = spawn(
      process.execPath,
      [require.resolve('twilio-run/bin/twilio-run.js'), 'start', '--port', String(port)],
      { stdio: 'inherit' },
    );
    child.on('exit', (code) => process.exit(code ?? 0));
    return;
  }
  // The example app backend the functions forward call messages to (EXAMPLE_BACKEND=0: none).
  const backend =
    process.env.EXAMPLE_BACKEND === '0'
      ? undefined
      : await startExampleBackend({
          port: Number(process.env.EXAMPLE_BACKEND_PORT ?? 3003),
          log: (line) => console.log(`[example backend] ${line}`),
        });
  const stack = await startStack({
    env: backend?.env,
    functionsPort: port,
    port: sandboxPort,
    gatewayPort,
    forkProcess: false,
    quiet: process.env.QUIET === '1',
    // SANDBOX_PROFILE=realistic: Twilio's freedoms on (sandbox/README.md, knobs); unset = deterministic.
    profile: (process.env.SANDBOX_PROFILE || undefined) as StackOptions['profile'],
  });
  const s = stack.sandbox;
  const sb = `http://localhost:${s.port}`;
  console.log(`
Call Message Events — local sandbox (no Twilio account needed)

  Functions:                ${stack.functionsUrl}   (the Functions gateway: Twilio's limits and checks, sandbox/README.md)
  twilio-run:               ${stack.twilioRunUrl}   (loopback only, behind the gateway)
  Softphone:                ${stack.functionsUrl}/index.html   (sign in: ${SANDBOX_DEFAULTS.agents.map((a) => `${a.identity} / ${a.password}`).join(', ')})
  Operator console:         ${stack.functionsUrl}/console.html   (operator secret: ${SANDBOX_DEFAULTS.operatorSecret})
  Status page:              ${stack.functionsUrl}/status.html   (the same secret; ${stack.functionsUrl}/ links every page)
  Voice SDK gateway:        ${s.gateway?.url}   (self-signed: open ${s.gateway?.httpsUrl} once and accept it)
  Sandbox REST (Twilio):    ${sb}/api/2010-04-01 , ${sb}/sync/v1 , ${sb}/serverless/v1
  Sandbox control API:      ${sb}/sandbox   (docs: sandbox/README.md)
  Twilio's hostnames:       HTTP_PROXY=${s.twilioProxy.url} NODE_EXTRA_CA_CERTS=${s.twilioProxy.caFile}
                            (any Twilio tool run with these two reaches the sandbox as api., sync., serverless.twilio.com)
  Example app backend:      ${backend ? `${backend.url}   (knobs: POST ${new URL('/knobs', backend.url).href} {"failFirstRate":0.3,"slowFirstRate":0.2,"slowMs":4000})` : 'off (EXAMPLE_BACKEND=0)'}
  Credentials:              ACCOUNT_SID=${s.accountSid}  AUTH_TOKEN=${s.authToken}
  Backend key:              ${SANDBOX_DEFAULTS.backendKey}   (send+read: Authorization: Bearer … on /backend-send, /backend-messages)
  Backend API (OpenAPI):    ${stack.functionsUrl}/openapi.json
  Our number:               ${s.phoneNumber} → ${stack.functionsUrl}/voice ; TwiML App ${s.applicationSid}

In a second terminal, for README's "Try it in five minutes" (npm run send-message reads FUNCTIONS_URL):
  export FUNCTIONS_URL=${stack.functionsUrl} CONTROL_URL=${sb}/sandbox${backend ? ` BACKEND_URL=${new URL(backend.url).origin}` : ''}

Try it (a caller rings ${SANDBOX_DEFAULTS.clientIdentity}, whose simulated phone answers; she sends a message):
  curl -s -XPOST ${sb}/sandbox/phones -H 'content-type: application/json' -d '{"identity":"alice","autoAnswer":true}'
  curl -s -XPOST ${sb}/sandbox/pstn/calls -H 'content-type: application/json' -d '{"from":"+15551234567"}'
  curl -s ${sb}/sandbox/phones/alice        # → the call's callSid
  curl -s -XPOST ${sb}/sandbox/phones/alice/calls/CA…/messages -H 'content-type: application/json' -d '{"content":{"hello":"server"}}'
  npm run send-message -- --call CA… '{"hello":"sdk"}'

Ctrl-C stops everything.`);
  const stop = async () => {
    await stack.stop();
    await backend?.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: Error) => {
  console.error(`npm start: ${err.message}`);
  process.exit(1);
});
