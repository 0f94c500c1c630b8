// Starts the whole local setup: the sandbox plus the real functions under real twilio-run (on
// dist/), wired to each other. Used by `npm start`, the integration tests and the benchmarks.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startSandbox, type Sandbox, type SandboxOptions } from './app';
import { seedAgents, type SeedAgent } from './agents-seed';
import { SANDBOX_DEFAULTS } from './defaults';
import { SANDBOX_SHARED_KEY } from './webhooks';

export interface StackOptions extends SandboxOptions {
  /** The functions' public port: the Functions gateway's (sandbox/functions-gateway.ts); twilio-run gets a loopback port of its own. */
  functionsPort?: number;
  /** twilio-run forks a process per request by default (as production isolates); off = faster. */
  forkProcess?: boolean;
  /** Extra variables for the functions. */
  env?: Record<string, string> | undefined;
  quiet?: boolean;
  /** Keep what the functions print (their log lines) in `Stack.output`. */
  captureOutput?: boolean;
  /** Agents added through the operator API once the functions answer (default: SANDBOX_DEFAULTS.agents). */
  agents?: readonly SeedAgent[];
}

export interface Stack {
  sandbox: Sandbox;
  /** Where callers reach the functions: the Functions gateway. */
  functionsUrl: string;
  /** twilio-run itself, on loopback behind the gateway (only to measure the gateway against). */
  twilioRunUrl: string;
  env: Record<string, string>;
  /** The functions' output, when `captureOutput` is set. */
  output: string[];
  /**
   * Runs the functions again with exactly these variables (a new twilio-run on the same ports): a
   * deployment as Twilio would run it, e.g. with `deployedFunctionEnv`'s variables.
   */
  restartFunctions(env: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

const root = join(__dirname, '..');

/** The variables the functions get in sandbox mode (what `.env` holds against real Twilio). */
export function sandboxEnv(
  sandbox: Sandbox,
  extra: Record<string, string> = {},
): Record<string, string> & { OPERATOR_SECRET: string } {
  return {
    ACCOUNT_SID: sandbox.accountSid,
    AUTH_TOKEN: sandbox.authToken,
    // The functions reach Twilio's hostnames through the sandbox's proxy (twilio-run makes this file a
    // Function's process.env). Node reads NODE_EXTRA_CA_CERTS at start: twilio-run gets it in its own
    // environment; here it is for the processes twilio-run forks per request (forkProcess).
    HTTP_PROXY: sandbox.twilioProxy.url,
    NODE_EXTRA_CA_CERTS: sandbox.twilioProxy.caFile,
    // The console's live channel: the sandbox's Sync client channel (read only on localhost).
    SANDBOX_TWILSOCK_URL: `ws://127.0.0.1:${sandbox.port}/v3/wsconnect`,
    CLIENT_IDENTITY: SANDBOX_DEFAULTS.clientIdentity,
    CALLER_ID: sandbox.phoneNumber,
    API_KEY_SID: sandbox.apiKeySid,
    API_KEY_SECRET: sandbox.apiKeySecret,
    TWIML_APP_SID: sandbox.applicationSid,
    TOKEN_SECRET: SANDBOX_DEFAULTS.tokenSecret,
    OPERATOR_SECRET: SANDBOX_DEFAULTS.operatorSecret,
    // Your backend's key (lib/auth/backend-keys.ts): what the CLIs and the examples call /backend-* with.
    BACKEND_API_KEYS: `send+read:${SANDBOX_DEFAULTS.backendKey}`,
    // Verifies webhooks the sandbox signs with its SharedKey (knob webhooks.signWith = 'shared-key').
    WEBHOOK_SHARED_KEY_SECRET: SANDBOX_SHARED_KEY.secret,
    SYNC_SERVICE_SID: 'default',
    // The browser softphone's Device connects here (chunderw) instead of Twilio: see /client-config.
    ...(sandbox.gateway ? { SANDBOX_GATEWAY: sandbox.gateway.chunderw } : {}),
    ...extra,
  };
}

/**
 * What a deployed Function's `context` holds, as the sandbox plays Twilio's hosting: the account's
 * credentials (Twilio adds ACCOUNT_SID and AUTH_TOKEN), the environment's variables as deployed
 * (the Serverless API's Variables), and the sandbox's own reach (its proxy and its page endpoints),
 * which a real deployment never has.
 */
export function deployedFunctionEnv(sandbox: Sandbox, variables: Record<string, string>): Record<string, string> {
  const reach = sandboxEnv(sandbox);
  return {
    ACCOUNT_SID: sandbox.accountSid,
    AUTH_TOKEN: sandbox.authToken,
    ...variables,
    HTTP_PROXY: reach.HTTP_PROXY!,
    NODE_EXTRA_CA_CERTS: reach.NODE_EXTRA_CA_CERTS!,
    SANDBOX_TWILSOCK_URL: reach.SANDBOX_TWILSOCK_URL!,
    ...(reach.SANDBOX_GATEWAY ? { SANDBOX_GATEWAY: reach.SANDBOX_GATEWAY } : {}),
  };
}

/** A port free on loopback now (twilio-run's, behind the gateway). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`twilio-run exited with code ${child.exitCode}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  throw new Error(`twilio-run did not answer on ${url} within ${timeoutMs} ms`);
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const functionsPort = options.functionsPort ?? 3000;
  const functionsUrl = `http://localhost:${functionsPort}`;
  const twilioRunPort = await freeLoopbackPort();
  const twilioRunUrl = `http://127.0.0.1:${twilioRunPort}`;
  // The Voice SDK gateway always runs with the stack (any free port unless one is given), so the
  // softphone works against every stack; the Functions gateway takes the functions' public port.
  const sandbox = await startSandbox({
    ...options,
    gatewayPort: options.gatewayPort ?? 0,
    functionsUrl,
    functionsGateway: { port: functionsPort, upstream: twilioRunUrl },
  });
  // One object for the stack's life (restartFunctions changes it in place: copies of the stack see it).
  const env: Record<string, string> = sandboxEnv(sandbox, options.env);
  // twilio-run reads variables from a file; this one lives outside the project so deploy never sees it.
  const envFile = join(mkdtempSync(join(tmpdir(), 'cme-stack-')), '.env');
  const writeEnv = () =>
    writeFileSync(
      envFile,
      Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n') + '\n',
    );
  writeEnv();
  // --no-live: keep modules cached between requests, as a warm Function container does.
  // twilio-run is told the public port (its context.DOMAIN_NAME) and listens on loopback at its own.
  // --enable-source-maps: the functions' errors name TypeScript lines (dist/sourcemaps, from the build).
  const args = [
    '--enable-source-maps',
    '--import',
    pathToFileURL(join(__dirname, 'loopback-listen.mjs')).href,
    require.resolve('twilio-run/bin/twilio-run.js'),
    'start',
    '--env',
    envFile,
    '--port',
    String(functionsPort),
    '--log-level',
    'error',
    '--no-live',
  ];
  if (options.forkProcess === false) args.push('--no-fork-process');
  // Serve another build than dist/ (CME_DIST_DIR), e.g. a snapshot while dist/ is being rebuilt.
  const distDir = process.env.CME_DIST_DIR;
  if (distDir)
    args.push(
      '--functions-folder',
      relative(root, join(distDir, 'functions')),
      '--assets-folder',
      relative(root, join(distDir, 'assets')),
    );
  if (options.quiet !== false) args.push('--no-logs');
  const stdout = options.captureOutput ? 'pipe' : options.quiet === false ? 'inherit' : 'ignore';
  const output: string[] = [];
  const spawnFunctions = () => {
    const started = spawn(process.execPath, args, {
      cwd: root,
      stdio: ['ignore', stdout, options.captureOutput ? 'pipe' : 'inherit'],
      env: {
        ...process.env,
        // Trusted from the start: the CA of the sandbox's proxy, which answers for *.twilio.com.
        NODE_EXTRA_CA_CERTS: sandbox.twilioProxy.caFile,
        FORCE_COLOR: '0',
        CME_FUNCTIONS_PUBLIC_PORT: String(functionsPort),
        CME_FUNCTIONS_LOOPBACK_PORT: String(twilioRunPort),
      },
    });
    started.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    started.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    return started;
  };
  let child = spawnFunctions();
  const stopFunctions = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 3000)))]);
    clearTimeout(timer);
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  try {
    await waitForHttp(`${twilioRunUrl}/client-config`, child, 30_000);
    const agents = options.agents ?? SANDBOX_DEFAULTS.agents;
    if (agents.length > 0) await seedAgents(functionsUrl, env.OPERATOR_SECRET!, agents);
  } catch (err) {
    child.kill();
    await sandbox.close();
    throw err;
  }
  return {
    sandbox,
    functionsUrl,
    twilioRunUrl,
    env,
    output,
    async restartFunctions(next) {
      await stopFunctions();
      for (const key of Object.keys(env)) delete env[key];
      Object.assign(env, next);
      writeEnv();
      child = spawnFunctions();
      await waitForHttp(`${twilioRunUrl}/client-config`, child, 30_000);
    },
    async stop() {
      await stopFunctions();
      await sandbox.close();
    },
  };
}
