import { createServer } from 'node:net';
import twilio from 'twilio';
import { SandboxControl } from '../../sandbox/control-client';
import { startStack, type Stack, type StackOptions } from '../../sandbox/stack';
import { SandboxRequestClient } from '../../lib/sandbox-request-client';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface TestStack extends Stack {
  control: SandboxControl;
  /** The real `twilio` client, pointed at the sandbox. */
  twilio: ReturnType<typeof twilio>;
  fn: { baseUrl: string; authToken: string };
}

/** Sandbox + real twilio-run on the built dist/ (run `npm run build` first; `npm test` does). */
export async function startTestStack(options: StackOptions = {}): Promise<TestStack> {
  const stack = await startStack({
    functionsPort: await freePort(),
    forkProcess: false,
    recordExchanges: true,
    ...options,
  });
  return {
    ...stack,
    control: new SandboxControl(stack.sandbox.url),
    twilio: twilio(stack.sandbox.accountSid, stack.sandbox.authToken, {
      httpClient: new SandboxRequestClient(stack.sandbox.url),
    }),
    fn: { baseUrl: stack.functionsUrl, authToken: stack.sandbox.authToken },
  };
}

/** Polls until `check` returns a value that is not undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
