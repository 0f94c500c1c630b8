// Runs Functions the way twilio-run does, in-process: a fake `context`, an `event` that is
// query ∪ body plus `request.headers`, a fake Twilio.Response, and X-Twilio-Signature computed
// exactly as Twilio does (twilio.getExpectedTwilioSignature over the requested URL and body).
import type { Context, TwilioResponse } from '@twilio-labs/serverless-runtime-types/types';
import twilio from 'twilio';
import { compactJson } from '../../lib/shared/json-text';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from './sync-sandbox';
import { sid } from '../../testing/sids';

export class FakeResponse {
  statusCode = 200;
  body: unknown = undefined;
  headers: Record<string, string> = {};
  setStatusCode(code: number) {
    this.statusCode = code;
    return this;
  }
  setBody(body: unknown) {
    this.body = body;
    return this;
  }
  appendHeader(key: string, value: string) {
    this.headers[key] = value;
    return this;
  }
  setHeaders(headers: Record<string, string>) {
    this.headers = { ...headers };
    return this;
  }
  setCookie() {
    return this;
  }
  removeCookie() {
    return this;
  }
}

/** Makes `new Twilio.Response()` (what functions/*.ts call) build a FakeResponse. */
export function installTwilioGlobal(): void {
  Object.assign(globalThis, { Twilio: { Response: FakeResponse } });
}

export const newFakeResponse = () => new FakeResponse() as unknown as TwilioResponse;

export const DOMAIN = 'localhost:3000';
export const LOCAL_BASE = `http://${DOMAIN}`;

export function makeContext(path: string, env: Record<string, string | undefined> = {}): Context {
  return {
    ACCOUNT_SID: TEST_ACCOUNT_SID,
    AUTH_TOKEN: TEST_AUTH_TOKEN,
    DOMAIN_NAME: DOMAIN,
    PATH: path,
    SERVICE_SID: sid('ZS', 0),
    ENVIRONMENT_SID: sid('ZE', 0),
    getTwilioClient: () => {
      throw new Error('functions must not use context.getTwilioClient()');
    },
    ...env,
  } as unknown as Context;
}

export type Event = Record<string, unknown> & {
  request: { headers: Record<string, unknown>; cookies: Record<string, string> };
};

/**
 * The event twilio-run builds for a request to `url` with form `body`: query ∪ body (the body wins).
 * A request with a body also carries the Content-Type and Content-Length headers a client sends.
 */
export function eventFor(url: string, body: Record<string, string> = {}, headers: Record<string, unknown> = {}): Event {
  const query = Object.fromEntries(new URL(url).searchParams);
  const withBody: Record<string, unknown> = { ...headers };
  if (Object.keys(body).length > 0) {
    withBody['content-type'] ??= 'application/x-www-form-urlencoded';
    const json = String(withBody['content-type']).startsWith('application/json');
    const raw = json ? compactJson(body) : new URLSearchParams(body).toString();
    withBody['content-length'] ??= String(Buffer.byteLength(raw));
  }
  return { ...query, ...body, request: { headers: withBody, cookies: {} } };
}

/** A form-encoded request to `url`, signed as Twilio signs it. */
export function signedEvent(url: string, body: Record<string, string> = {}, authToken = TEST_AUTH_TOKEN): Event {
  const signature = twilio.getExpectedTwilioSignature(authToken, url, body);
  return eventFor(url, body, { 'x-twilio-signature': signature });
}

// Handlers type their context as Context<Env>; the harness's plain Context is the same object at run time.
type Handler = (
  context: never,
  event: never,
  callback: (err: unknown, payload?: unknown) => void,
) => Promise<void> | void;

/** Invokes a Function handler and returns the response it called back with. */
export async function invoke(
  handler: Handler,
  context: Context,
  event: Record<string, unknown>,
): Promise<FakeResponse> {
  let calls = 0;
  let result: { err: unknown; payload: unknown } | undefined;
  await handler(context as never, event as never, (err, payload) => {
    calls++;
    result = { err, payload };
  });
  if (calls !== 1 || !result) throw new Error(`callback called ${calls} times`);
  if (result.err) throw new Error(`callback got an error: ${String(result.err)}`);
  if (!(result.payload instanceof FakeResponse)) throw new Error('callback payload is not the response');
  return result.payload;
}

/** Asserts a `{code, message}` JSON error response. */
export function expectError(res: FakeResponse, status: number, code: string): { code: string; message: string } {
  expect(res.statusCode).toBe(status);
  expect(res.headers['Content-Type']).toBe('application/json');
  const body = res.body as { code: unknown; message: unknown };
  expect(typeof body).toBe('object');
  expect(body.code).toBe(code);
  expect(typeof body.message).toBe('string');
  expect((body.message as string).length).toBeGreaterThan(0);
  return body as { code: string; message: string };
}
