// The stack an integration, trust or browser suite runs against (testing/stack.ts), started before
// the suite's tests and stopped after them.
import type { StackOptions } from '../../sandbox/stack';
import { startTestStack, waitFor, type TestStack } from '../../testing/stack';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';

/**
 * Starts a test stack before the tests of the block it is called in (a file or a describe) and
 * stops it after them. A describe's afterAll inside that block runs first, so it can still close
 * what it opened on the stack (a browser's pages). `options` may be a function, for what an
 * earlier beforeAll of the same block prepared (a backend's URL). The stack returned is the one
 * started, usable from its beforeAll on.
 */
export function useTestStack(options: StackOptions | (() => StackOptions) = {}): TestStack {
  let started: TestStack | undefined;
  beforeAll(async () => {
    started = await startTestStack(typeof options === 'function' ? options() : options);
  }, 60_000);
  // Kept after stop: a suite's own afterAll may still read what the stack recorded (its output).
  afterAll(() => started?.stop());
  const stack = (): TestStack => {
    if (!started) throw new Error('the test stack is used before its beforeAll has started it');
    return started;
  };
  return {
    get sandbox() {
      return stack().sandbox;
    },
    get functionsUrl() {
      return stack().functionsUrl;
    },
    get twilioRunUrl() {
      return stack().twilioRunUrl;
    },
    get env() {
      return stack().env;
    },
    get output() {
      return stack().output;
    },
    get control() {
      return stack().control;
    },
    get twilio() {
      return stack().twilio;
    },
    get fn() {
      return stack().fn;
    },
    restartFunctions: (env) => stack().restartFunctions(env),
    stop: () => stack().stop(),
    withKnobs: (settings, fn) => stack().withKnobs(settings, fn),
  };
}

/**
 * Registers `identity`'s simulated phone (auto-answer), calls our number from `from`, and waits
 * until the leg is open and subscribed to call messages: its CallSid.
 */
export async function answeredLeg(ctl: TestStack['control'], identity: string, from: string): Promise<string> {
  await ctl.registerPhone(identity, { autoAnswer: true });
  await ctl.callIn(from);
  const leg = (
    await waitFor(
      async () => (await ctl.phone(identity)).calls.find((c) => c.state === 'open'),
      `${identity}'s leg to open`,
    )
  ).callSid;
  await waitFor(async () => (await ctl.call(leg)).subscriptions.length > 0, 'the subscription', 15_000);
  return leg;
}

/** An operator session on the stack (the sandbox's OPERATOR_SECRET): what the console's routes take. */
export async function operatorSession(stack: Pick<TestStack, 'functionsUrl'>): Promise<string> {
  const res = await fetch(`${stack.functionsUrl}/operator-session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ secret: SANDBOX_DEFAULTS.operatorSecret }).toString(),
  });
  if (res.status !== 200) throw new Error(`/operator-session answered ${res.status}`);
  return ((await res.json()) as { session: string }).session;
}
