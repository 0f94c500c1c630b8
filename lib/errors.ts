/** An error a route answers with: a 4xx (or retryable 5xx) status and a `{code, message}` JSON body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export const badRequest = (code: string, message: string) => new HttpError(400, code, message);

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
  readonly code = 'ETIMEDOUT';
  constructor() {
    super('No time left in this invocation for another request to Twilio.');
  }
}

/** 429 and 5xx from Twilio, and network failures (no status), may succeed on a retry. */
export function isRetryable(err: unknown): boolean {
  if (!isTwilioRestError(err)) {
    const code = (err as { code?: string } | null)?.code;
    return (
      typeof code === 'string' &&
      /^(ECONNRESET|ECONNREFUSED|ETIMEDOUT|ECONNABORTED|EPIPE|EAI_AGAIN|ERR_BAD_RESPONSE)$/.test(code)
    );
  }
  return err.status === 429 || err.status >= 500;
}
