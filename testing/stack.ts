import { createServer } from 'node:net';
import twilio from 'twilio';
import {
  SandboxControl,
  type CallSubresourceView,
  type IdempotencyVariant,
  type RingingSubscriptions,
  type KnobSettings,
  type SandboxProfile,
} from '../sandbox/control-client';
import type { MissingMapCode } from '../sandbox/rest/sync/state';
import { startStack, type Stack, type StackOptions } from '../sandbox/stack';
import { SandboxRequestClient } from '../sandbox/request-client';

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
  /**
   * Runs `fn` with the knobs in `settings`, then puts each knob it named back as it was (the
   * profile's value, or off), so the rest of the suite keeps the sandbox it started with.
   */
  withKnobs<T>(settings: KnobSettings, fn: () => Promise<T>): Promise<T>;
  /** The real `twilio` client, pointed at the sandbox. */
  twilio: ReturnType<typeof twilio>;
  fn: { baseUrl: string; authToken: string };
}

/**
 * Sandbox + real twilio-run on the built dist/ (run `npm run build` first; `npm test` does).
 *
 * The sandbox plays Twilio's freedoms by default (profile `realistic`: callbacks late, reordered and
 * duplicated, jittered REST latency; sandbox/README.md). A test that needs a deterministic sandbox
 * passes `profile: 'deterministic'`; SANDBOX_PROFILE sets the default for a whole run.
 * SANDBOX_IDEMPOTENCY_VARIANT (`same`, `refused`, `ignored`) runs a suite under one of the answers
 * to a reused IdempotencyKey, SANDBOX_MISSING_MAP_CODE (20404, 54200, 54300) under one code for a
 * missing Sync Map, SANDBOX_FIRST_SEQUENCE_NUMBER (1, 0) under one first SequenceNumber,
 * SANDBOX_RINGING_SUBSCRIPTIONS (`accepted`, `refused`) under one answer to a subscription at
 * ringing, SANDBOX_CALLS_LAG_MS and SANDBOX_CALL_SUBRESOURCES (`current`, `lagged`) under one lag of
 * the Calls API, SANDBOX_SYNC_OVER_1KIB (writes/s, or `by-size`) under one reading of Sync's
 * undocumented limit on writes over 1 KiB, and SANDBOX_CONF_EVENT_ORDER, SANDBOX_CONF_LEAVE_CALL_STATUS,
 * SANDBOX_CONF_SUBSCRIPTIONS, SANDBOX_CONF_HOLD, SANDBOX_CONF_SEQUENCE, SANDBOX_CONF_ERROR_STATUS under one
 * reading of each `conferences` knob — unless the test chose its own in `knobs`.
 */
export async function startTestStack(options: StackOptions = {}): Promise<TestStack> {
  const variant = process.env.SANDBOX_IDEMPOTENCY_VARIANT as IdempotencyVariant | undefined;
  const missingMapCode = process.env.SANDBOX_MISSING_MAP_CODE
    ? (Number(process.env.SANDBOX_MISSING_MAP_CODE) as MissingMapCode)
    : undefined;
  const firstSequenceNumber = process.env.SANDBOX_FIRST_SEQUENCE_NUMBER
    ? (Number(process.env.SANDBOX_FIRST_SEQUENCE_NUMBER) as 0 | 1)
    : undefined;
  const ringingSubscriptions = process.env.SANDBOX_RINGING_SUBSCRIPTIONS as RingingSubscriptions | undefined;
  const lagMs = process.env.SANDBOX_CALLS_LAG_MS ? Number(process.env.SANDBOX_CALLS_LAG_MS) : undefined;
  const subresources = process.env.SANDBOX_CALL_SUBRESOURCES as CallSubresourceView | undefined;
  const idempotency = options.knobs?.idempotency ?? (variant ? { variant } : undefined);
  const over1KiB = process.env.SANDBOX_SYNC_OVER_1KIB;
  const writeLimits = over1KiB
    ? { over1KiB: over1KiB === 'by-size' ? ('by-size' as const) : Number(over1KiB) }
    : undefined;
  const sync =
    options.knobs?.sync ??
    (missingMapCode || writeLimits
      ? { ...(missingMapCode ? { missingMapCode } : {}), ...(writeLimits ? { writeLimits } : {}) }
      : undefined);
  const messages =
    options.knobs?.messages ??
    (firstSequenceNumber !== undefined || ringingSubscriptions
      ? {
          ...(firstSequenceNumber !== undefined && { firstSequenceNumber }),
          ...(ringingSubscriptions && { ringingSubscriptions }),
        }
      : undefined);
  const calls =
    options.knobs?.calls ??
    (lagMs !== undefined || subresources
      ? { ...(lagMs !== undefined && { lagMs }), ...(subresources && { subresources }) }
      : undefined);
  const conferences = options.knobs?.conferences ?? conferenceKnobsFromEnv();
  const stack = await startStack({
    functionsPort: await freePort(),
    forkProcess: false,
    recordExchanges: true,
    ...options,
    profile: options.profile ?? ((process.env.SANDBOX_PROFILE || 'realistic') as SandboxProfile),
    knobs: {
      ...options.knobs,
      // A group goes only when set: the sandbox's knobs keep what a setting leaves out.
      ...(idempotency && { idempotency }),
      ...(sync && { sync }),
      ...(messages && { messages }),
      ...(calls && { calls }),
      ...(conferences && { conferences }),
    },
  });
  const control = new SandboxControl(stack.sandbox.url);
  return {
    ...stack,
    control,
    async withKnobs(settings, fn) {
      const saved = (await control.getKnobs()) as unknown as Record<string, Record<string, unknown>>;
      await control.knobs(settings);
      try {
        return await fn();
      } finally {
        const restore: Record<string, Record<string, unknown>> = {};
        for (const [section, knobs] of Object.entries(settings as Record<string, unknown>)) {
          if (section === 'profile' || !knobs || typeof knobs !== 'object') continue;
          restore[section] = Object.fromEntries(Object.keys(knobs).map((k) => [k, saved[section]?.[k] ?? null]));
        }
        await control.knobs(restore);
      }
    },
    twilio: twilio(stack.sandbox.accountSid, stack.sandbox.authToken, {
      httpClient: new SandboxRequestClient(stack.sandbox.url),
    }),
    fn: { baseUrl: stack.functionsUrl, authToken: stack.sandbox.authToken },
  };
}

/** The `conferences` knobs the SANDBOX_CONF_* variables name (checked by the sandbox), or undefined. */
export function conferenceKnobsFromEnv(env: NodeJS.ProcessEnv = process.env): KnobSettings['conferences'] {
  const names: Record<string, string> = {
    eventOrder: 'SANDBOX_CONF_EVENT_ORDER',
    leaveCallStatus: 'SANDBOX_CONF_LEAVE_CALL_STATUS',
    subscriptionsInConference: 'SANDBOX_CONF_SUBSCRIPTIONS',
    hold: 'SANDBOX_CONF_HOLD',
    sequence: 'SANDBOX_CONF_SEQUENCE',
    errorStatus: 'SANDBOX_CONF_ERROR_STATUS',
  };
  const set: [string, string][] = Object.entries(names).flatMap(([knob, variable]) => {
    const value = env[variable];
    return value ? [[knob, value] as [string, string]] : [];
  });
  return set.length ? Object.fromEntries(set) : undefined;
}

/** Polls until `check` returns a value that is not undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  /** The last check's failure, if it threw. */
  let last: string | undefined;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err instanceof Error ? err.toString() : JSON.stringify(err);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
