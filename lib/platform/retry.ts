import { DeadlineExceeded, isRetryable } from './errors';

/** How long one request to Twilio may take (the client's timeout, lib/platform/twilio-client.ts). */
export const REQUEST_TIMEOUT_MS = 3000;

export interface RetryOptions {
  /** Give up once this much time has passed (Functions stop at 10 s; Twilio's webhook timeout is 15 s). */
  budgetMs?: number;
  /**
   * Absolute time (ms since epoch) no attempt may run past: the invocation's own deadline. An
   * attempt (the first included) starts only if a whole request timeout still fits before it.
   */
  deadline?: number | undefined;
  /** Longest one attempt can take (default REQUEST_TIMEOUT_MS). */
  attemptTimeoutMs?: number;
  /** First backoff; doubles each attempt up to `maxDelayMs`, half of it jittered. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  maxAttempts?: number;
  /** Which failures are tried again (default isRetryable); a create that must not happen twice narrows it. */
  retryIf?: (err: unknown) => boolean;
  sleep?: (ms: number) => Promise<void>;
  /**
   * Errors that mean "not yet" rather than "no", retried too, but only while `forMs` since the
   * first attempt has not passed (within the budget and deadline): a call the status callbacks
   * reported live that the Calls API does not show yet.
   */
  alsoRetry?: { when: (err: unknown) => boolean; forMs: number };
}

/**
 * How long an invocation keeps asking about a call the Calls API does not show as live yet, when
 * the status callbacks say it is (or may be): the Call resource is "eventually consistent", and how
 * far behind it runs is undocumented (TWILIO-FACTS §9, §10 item 12). The sandbox's realistic
 * profile plays 1 s.
 */
export const CALL_LAG_WAIT_MS = 3000;

/** Default total time for one operation's retries when no invocation deadline is given. */
export const DEFAULT_RETRY_BUDGET_MS = 6000;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `op`, retrying Twilio 429/5xx and network errors with exponential backoff and jitter,
 * and stops in time: a retry that would end after the budget is not attempted. Sync's rate limit
 * is averaged over seconds, so the backoff grows to a second and the budget, not the attempt
 * count, is what usually ends the retries.
 */
export async function withRetry<T>(op: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const {
    budgetMs = DEFAULT_RETRY_BUDGET_MS,
    baseDelayMs = 100,
    maxDelayMs = 1000,
    maxAttempts = 12,
    attemptTimeoutMs = REQUEST_TIMEOUT_MS,
    retryIf = isRetryable,
    sleep = defaultSleep,
    alsoRetry,
  } = opts;
  const started = Date.now();
  const giveUpAt = Math.min(started + budgetMs, opts.deadline ?? Infinity);
  // The last moment an attempt may start and still end (or time out) before the deadline.
  const lastStart = opts.deadline === undefined ? Infinity : opts.deadline - attemptTimeoutMs;
  if (Date.now() > lastStart) throw new DeadlineExceeded();
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      const step = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      const delay = step / 2 + (Math.random() * step) / 2;
      const notYet = alsoRetry !== undefined && alsoRetry.when(err) && Date.now() + delay <= started + alsoRetry.forMs;
      if (!(retryIf(err) || notYet) || attempt >= maxAttempts || Date.now() + delay > Math.min(giveUpAt, lastStart))
        throw err;
      await sleep(delay);
    }
  }
}
