// Raw HTTP requests to the functions for the trust suite: any method, body encoding and headers,
// signed with X-Twilio-Signature as Twilio signs (or forged, or unsigned) as a test asks.
import twilio from 'twilio';

/** `rawRequest(opts)`: a raw request to a function at `functionsUrl()`, signed (or not) as the test says. */
export function rawRequests(functionsUrl: () => string) {
  return async function rawRequest(opts: {
    path: string;
    query?: Record<string, string> | undefined;
    body?: Record<string, string> | undefined;
    method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | undefined;
    json?: boolean | undefined;
    sign?: { token: string; url?: string; params?: Record<string, string> } | false | undefined;
    headers?: Record<string, string> | undefined;
  }) {
    const query = new URLSearchParams(opts.query ?? {}).toString();
    const url = `${functionsUrl()}${opts.path}${query ? `?${query}` : ''}`;
    const method = opts.method ?? 'POST';
    const body = opts.body ?? {};
    const headers: Record<string, string> = { ...opts.headers };
    // As Twilio signs: a GET, and a JSON body whose hash the URL carries (bodySHA256), over the URL alone.
    const urlOnly = method === 'GET' || (opts.json === true && opts.query?.bodySHA256 !== undefined);
    if (opts.sign)
      headers['X-Twilio-Signature'] = twilio.getExpectedTwilioSignature(
        opts.sign.token,
        opts.sign.url ?? url,
        opts.sign.params ?? (urlOnly ? {} : body),
      );
    let payload: string | undefined;
    if (method !== 'GET') {
      headers['Content-Type'] = opts.json ? 'application/json' : 'application/x-www-form-urlencoded';
      payload = opts.json ? JSON.stringify(body) : new URLSearchParams(body).toString();
    }
    const res = await fetch(url, { method, headers, ...(payload === undefined ? {} : { body: payload }) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* TwiML or an HTML error page */
    }
    return { status: res.status, body: parsed, text };
  };
}

/** A refusal in the functions' shape: `{code, message}` (strings). */
export const isErrorBody = (b: unknown) =>
  typeof b === 'object' &&
  b !== null &&
  typeof (b as { code?: unknown }).code === 'string' &&
  typeof (b as { message?: unknown }).message === 'string';
