// Shared HTTP pieces of the sandbox: Twilio-shaped errors, SIDs, dates, Basic auth.
import { randomBytes } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/** An error the sandbox answers exactly as Twilio does: `{code, message, more_info, status}`. */
export class TwilioApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export function errorBody(status: number, code: number, message: string) {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

export function sendError(res: Response, err: TwilioApiError): void {
  res.status(err.status).json(errorBody(err.status, err.code, err.message));
}

/** Express error handler: TwilioApiError → Twilio body; anything else → 500/20500. */
export function twilioErrorHandler(err: unknown, _req: Request, res: Response, _next: NextFunction): void {
  if (err instanceof TwilioApiError) return sendError(res, err);
  const status = (err as { status?: number }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // body-parser failures: bad encoding (400), too large (413), an unsupported Content-Encoding or charset (415)
    return sendError(res, new TwilioApiError(status, status === 413 ? 20413 : 20001, (err as Error).message));
  }
  console.error('[sandbox] internal error', err);
  sendError(res, new TwilioApiError(500, 20500, 'Internal Server Error'));
}

/** A Twilio SID: two-letter prefix + 32 lowercase hex digits. */
export function newSid(prefix: string): string {
  return prefix + randomBytes(16).toString('hex');
}

/** RFC 2822 date as the 2010-04-01 API writes it: `Wed, 18 Dec 2019 20:02:01 +0000`. */
export function rfc2822(ms: number): string {
  return new Date(ms).toUTCString().replace('GMT', '+0000');
}

/** ISO 8601 without milliseconds, as Sync and other v1 APIs write it. */
export function iso8601(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface Credentials {
  accountSid: string;
  authToken: string;
  /** The account's API keys (sandbox/rest/keys.ts); none: the account's own credentials only. */
  keys?: { secretOf(sid: string): string | undefined };
}

/**
 * Basic auth as Twilio does it: the account SID + Auth Token, or an API key (SK…) of the account + its secret.
 * Anything else → 401 / 20003.
 */
export function basicAuth(creds: Credentials) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization ?? '';
    const encoded = /^Basic (.+)$/i.exec(header)?.[1];
    const [user, pass] = encoded !== undefined ? Buffer.from(encoded, 'base64').toString('utf8').split(/:(.*)/s) : [];
    if (user === creds.accountSid && pass === creds.authToken) return next();
    const secret = user?.startsWith('SK') ? creds.keys?.secretOf(user) : undefined;
    if (user === undefined || secret === undefined || pass !== secret)
      return next(new TwilioApiError(401, 20003, 'Authenticate'));
    // Which key asked: a Standard key may not manage keys (sandbox/rest/keys.ts).
    (res.locals as { apiKeySid?: string }).apiKeySid = user;
    next();
  };
}

/** Paging parameters shared by Twilio list endpoints. */
export function pageParams(query: Record<string, unknown>): { pageSize: number; page: number } {
  const rawSize = query.PageSize ?? query.pageSize;
  const pageSize = rawSize === undefined ? 50 : Number(rawSize);
  const page = query.Page === undefined ? 0 : Number(query.Page);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
    throw new TwilioApiError(400, 20001, `Invalid PageSize: ${String(rawSize)}`);
  }
  if (!Number.isInteger(page) || page < 0) throw new TwilioApiError(400, 20001, `Invalid Page: ${String(query.Page)}`);
  return { pageSize, page };
}

/** Parses Twilio's boolean form values. */
export function formBool(value: unknown): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  return String(value).toLowerCase() === 'true';
}
