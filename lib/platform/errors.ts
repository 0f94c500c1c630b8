// Twilio's side of errors: what its client throws, and which failures may be retried. The errors a
// route answers with are in lib/shared/error-catalogue.ts.

/** Shape of the errors the `twilio` client throws (RestException). */
export interface TwilioRestError {
  status: number;
  code?: number;
  message: string;
}

export function isTwilioRestError(err: unknown): err is TwilioRestError {
  return typeof err === 'object' && err !== null && typeof (err as TwilioRestError).status === 'number';
}

export function twilioCode(err: unknown): number | undefined {
  return isTwilioRestError(err) ? err.code : undefined;
}

/** Work that could not start (or retry) without running past the invocation's deadline. */
export class DeadlineExceeded extends Error {
  override readonly name = 'DeadlineExceeded';
  constructor() {
    super('No time left in this invocation for another request to Twilio.');
  }
}

/** 429 and 5xx from Twilio, and network failures (no status), may succeed on a retry. */
export function isRetryable(err: unknown): boolean {
  // Out of time here, not refused: the caller (or Twilio's redelivery) can try again.
  if (err instanceof DeadlineExceeded) return true;
  if (!isTwilioRestError(err)) {
    const code = (err as { code?: string } | null)?.code;
    return (
      typeof code === 'string' &&
      /^(ECONNRESET|ECONNREFUSED|ETIMEDOUT|ECONNABORTED|EPIPE|EAI_AGAIN|ERR_BAD_RESPONSE)$/.test(code)
    );
  }
  return err.status === 429 || err.status >= 500;
}

/**
 * A failure after which Twilio surely did not act on a request, so sending it again cannot do it
 * twice: 429 (Too Many Requests, 20429) and 503 (20503, "the requested Twilio Service is temporarily
 * unavailable… try again"), no connection made (refused, the name not resolved), or no time left to
 * start one. A 500 is not one of them: Twilio's 20500 page warns that retrying a POST after it may
 * send twice; nor is a timeout, a reset connection or a bad answer: the request may have been taken.
 */
export function isNotTaken(err: unknown): boolean {
  if (err instanceof DeadlineExceeded) return true;
  if (!isTwilioRestError(err)) {
    const code = (err as { code?: string } | null)?.code;
    return typeof code === 'string' && /^(ECONNREFUSED|EAI_AGAIN|ENOTFOUND)$/.test(code);
  }
  return err.status === 429 || err.status === 503;
}
/** Sync refusing a write for its per-object rate (429 / 54009): room comes back within its 10 s window. */
export function isSyncRateLimited(err: unknown): boolean {
  return isTwilioRestError(err) && err.status === 429 && err.code === 54009;
}

/**
 * The Retry-After (seconds) of a 503 we answer: Sync's rate limit frees room as writes leave its
 * window (10 KiB payloads: 2 writes/s), so a retry waits a little longer than after other failures.
 */
export const retryAfterSeconds = (cause: unknown): number => (isSyncRateLimited(cause) ? 2 : 1);
