import { isRetryable } from './errors';

export interface RetryOptions {
  /** Give up once this much time has passed (Functions stop at 10 s; Twilio's webhook timeout is 15 s). */
  budgetMs?: number;
  /** First backoff; doubles each attempt, with full jitter. */
  baseDelayMs?: number;
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `op`, retrying Twilio 429/5xx and network errors with exponential backoff and jitter,
 * and stops in time: a retry that would end after the budget is not attempted.
 */
export async function withRetry<T>(op: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const { budgetMs = 6000, baseDelayMs = 100, maxAttempts = 6, sleep = defaultSleep } = opts;
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      const delay = Math.random() * baseDelayMs * 2 ** (attempt - 1);
      if (!isRetryable(err) || attempt >= maxAttempts || Date.now() - started + delay > budgetMs) throw err;
      await sleep(delay);
    }
  }
}
