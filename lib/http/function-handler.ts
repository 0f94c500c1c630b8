// The one wrapper every Function goes through: configuration, signature check, error shaping and
// the response. A route's own code only parses its input, calls the core and says what to answer.
import type { Context, ServerlessCallback, TwilioResponse } from '@twilio-labs/serverless-runtime-types/types';
import { baseUrl, type RequestSite } from '../calls/callback-urls';
import { CallStore } from '../store/call-store';
import { readConfig, type Config, type Env } from '../platform/config';
import { apiError, HttpError } from '../shared/error-catalogue';
import { isRetryable, isTwilioRestError, retryAfterSeconds } from '../platform/errors';
import { callSidOf, routeLog, type Log } from '../platform/log';
import { requireRequestWithinLimit, runtimeHeaders } from './runtime-request';
import { checkTwilioSignature } from './signature';
import { twilioClient, type TwilioClient } from '../platform/twilio-client';

export type Event = Record<string, unknown> & { request?: unknown };

export interface RouteContext {
  event: Event;
  /** The request's headers as the runtime gave them (lib/http/runtime-request.ts): never a URL's. */
  headers: Record<string, unknown>;
  config: Config;
  /** Base of callback URLs: PUBLIC_BASE_URL, else this deployment's domain. */
  base: string;
  /** Twilio stops a Function at 10 s: retries must not run past this time (ms since epoch). */
  deadline: number;
  client: () => TwilioClient;
  store: () => CallStore;
  /** This route's log, about the request's CallSid (or callSid): one JSON line per event. */
  log: Log;
  /**
   * Signed routes: whether the signature covers the body the route reads. False only for a JSON
   * body whose bodySHA256 could not be re-derived from the parsed body (lib/http/signature.ts).
   */
  bodyVerified?: boolean;
}

export type RouteResult = ({ status: number; json: unknown } | { status: number; twiml: string }) & {
  /** Extra response headers (e.g. Retry-After). */
  headers?: Record<string, string> | undefined;
};

export interface RouteOptions {
  /** Requires a valid X-Twilio-Signature (what `.protected` means on Twilio; twilio-run does not check it). */
  signed: boolean;
  /**
   * Parameters that carry secrets (a password, OPERATOR_SECRET): refused with 400 unless the request
   * body can have carried them. A URL's query ends up in logs, proxies and browser history.
   */
  bodyOnly?: readonly string[];
}

/** All work (each request included) ends by then, leaving time to answer before the 10 s limit. */
const INVOCATION_BUDGET_MS = 9000;

export const json = (status: number, body: unknown): RouteResult => ({ status, json: body });
export const twimlResult = (twiml: string): RouteResult => ({ status: 200, twiml });

type ResponseFactory = () => TwilioResponse;

/** The Functions runtime's `Twilio.Response`, looked up when a response is made (tests pass their own). */
const runtimeResponse: ResponseFactory = () => {
  const runtime = (globalThis as { Twilio?: { Response: new () => TwilioResponse } }).Twilio;
  if (!runtime) throw new Error('Twilio.Response is not defined: not running under the Functions runtime.');
  return new runtime.Response();
};

export function twilioFunction(
  options: RouteOptions,
  route: (ctx: RouteContext) => Promise<RouteResult>,
  newResponse: ResponseFactory = runtimeResponse,
) {
  return async (context: Context<Env>, event: Event, callback: ServerlessCallback): Promise<void> => {
    const deadline = Date.now() + INVOCATION_BUDGET_MS;
    const log = routeLog(context.PATH, callSidOf(event));
    let result: RouteResult;
    try {
      // Before anything reads a header: a query or body that wrote `request` is refused (400).
      const headers = runtimeHeaders(event);
      requireRequestWithinLimit(headers, event);
      const config = readConfig(context);
      const site: RequestSite = {
        domainName: context.DOMAIN_NAME,
        path: context.PATH,
        publicBaseUrl: config.publicBaseUrl,
      };
      const secrets = { authToken: config.authToken, sharedKeySecret: config.webhookSharedKeySecret };
      const signature = options.signed ? checkTwilioSignature(secrets, headers, site, event) : undefined;
      if (signature && !signature.valid) {
        throw apiError('signature-invalid', 'This route needs a valid X-Twilio-Signature header.');
      }
      for (const name of options.bodyOnly ?? []) {
        if (event[name] !== undefined && !couldBeInBody(headers, name, event[name])) {
          throw apiError('secret-in-url', `Send ${name} in the request body (POST), never in the URL.`);
        }
      }
      const client = () => twilioClient(config);
      result = await route({
        event,
        headers,
        config,
        base: baseUrl(site),
        deadline,
        client,
        store: () => new CallStore(client(), config, deadline),
        log,
        bodyVerified: signature?.valid === true && signature.bodyVerified,
      });
    } catch (err) {
      try {
        result = errorResult(err, log);
      } catch {
        result = INTERNAL_ERROR;
      }
    }
    respond(result, log, callback, newResponse);
  };
}

/**
 * Whether `name=value` can have come from the request body. A Function sees query and body merged
 * (the body wins), so this is a bound: a request without a body, or whose body is shorter than the
 * parameter alone, carried it in its URL. (No Content-Length but a Content-Type: a chunked body, which
 * may hold it.) Non-string values came from a JSON body or bracketed keys; the route judges those.
 */
function couldBeInBody(headers: Record<string, unknown>, name: string, value: unknown): boolean {
  if (typeof value !== 'string') return true;
  const length = headers['content-length'];
  if (length === undefined) return typeof headers['content-type'] === 'string';
  // The shortest encoding of `name=value`: every character as itself (form) — JSON only adds quotes.
  return Number(length) >= Buffer.byteLength(name) + 1 + Buffer.byteLength(value);
}

/**
 * An error's answer: `{code, message, ...details}` at the catalogue's status, with its headers. A 503
 * can be retried as it is: it always says when (Retry-After, 1 s unless the error chose).
 */
function errorAnswer(err: HttpError): RouteResult {
  const headers =
    err.status === 503 ? { 'Retry-After': String(retryAfterSeconds(undefined)), ...err.headers } : err.headers;
  return { ...json(err.status, { code: err.code, message: err.message, ...err.details }), headers };
}

const INTERNAL_ERROR = errorAnswer(apiError('internal-error', 'Something went wrong on our side; retry the request.'));

/**
 * Hands the answer to the runtime so that nothing can throw out of the Function: a body that cannot
 * be serialised becomes a 500 JSON error here, and if the runtime itself throws while sending, one
 * plain JSON error is sent instead (an exception escaping the handler would kill the process).
 */
function respond(result: RouteResult, log: Log, callback: ServerlessCallback, newResponse: ResponseFactory): void {
  let response: TwilioResponse;
  try {
    // The runtime serialises with JSON.stringify, which recurses: check here, where a throw is caught.
    if ('json' in result) JSON.stringify(result.json);
    response = toResponse(result, newResponse());
  } catch (err) {
    log.info({ error: 'unserialisable-answer', name: (err as Error)?.name });
    try {
      response = toResponse(INTERNAL_ERROR, newResponse());
    } catch (noResponse) {
      // No response object can be made at all: the runtime answers the error itself.
      callback(noResponse as Error);
      return;
    }
  }
  try {
    callback(null, response);
  } catch (err) {
    log.info({ error: 'send-failed', name: (err as Error)?.name });
    try {
      callback(null, toResponse(INTERNAL_ERROR, newResponse()));
    } catch {
      // Nothing is left to answer with; the runtime times the request out.
    }
  }
}

function errorResult(err: unknown, log: Log): RouteResult {
  if (err instanceof HttpError) {
    if (err.status >= 500) log.info({ error: err.code });
    return errorAnswer(err);
  }
  if (isRetryable(err)) {
    // 429/5xx from Twilio, a timeout, a network failure, or no time left: the same request can succeed later.
    const twilioCode = isTwilioRestError(err) ? err.code : undefined;
    log.info({
      error: 'twilio-unavailable',
      status: isTwilioRestError(err) ? err.status : undefined,
      twilioCode,
      cause: (err as { code?: unknown }).code,
    });
    // Sync's rate limit (54009) answers the same code, with a longer Retry-After.
    return errorAnswer(
      apiError('twilio-unavailable', 'Twilio did not answer in time; retry the request.', {
        details: twilioCode ? { twilioCode } : {},
        headers: { 'Retry-After': String(retryAfterSeconds(err)) },
      }),
    );
  }
  if (isTwilioRestError(err)) {
    log.info({ error: 'twilio', status: err.status, twilioCode: err.code });
    return errorAnswer(
      apiError('twilio-error', `Twilio refused the request (code ${err.code ?? err.status}).`, {
        details: { twilioCode: err.code },
      }),
    );
  }
  log.info({ error: 'internal', name: (err as Error)?.name });
  return INTERNAL_ERROR;
}

function toResponse(result: RouteResult, response: TwilioResponse): TwilioResponse {
  response.setStatusCode(result.status);
  // Browsers must never guess another type for an answer (e.g. render a JSON body holding markup),
  // and an answer opened as a page may run, load and frame nothing.
  response.appendHeader('X-Content-Type-Options', 'nosniff');
  response.appendHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
  response.appendHeader('X-Frame-Options', 'DENY');
  for (const [name, value] of Object.entries(result.headers ?? {})) response.appendHeader(name, value);
  if ('twiml' in result) {
    response.appendHeader('Content-Type', 'text/xml');
    response.setBody(result.twiml);
  } else {
    response.appendHeader('Content-Type', 'application/json');
    response.setBody(result.json as object);
  }
  return response;
}
