// The one wrapper every Function goes through: configuration, signature check, error shaping and
// the response. A route's own code only parses its input, calls the core and says what to answer.
import type { Context, ServerlessCallback, TwilioResponse } from '@twilio-labs/serverless-runtime-types/types';
import { baseUrl, type RequestSite } from './callback-urls';
import { CallStore } from './call-store';
import { readConfig, type Config, type Env } from './config';
import { HttpError, isRetryable, isTwilioRestError } from './errors';
import { logEvent } from './log';
import { isValidTwilioSignature } from './signature';
import { twilioClient, type TwilioClient } from './twilio-client';

export type Event = Record<string, unknown> & { request?: { headers?: Record<string, unknown> } };

export interface RouteContext {
  event: Event;
  headers: Record<string, unknown>;
  config: Config;
  /** Base of callback URLs: PUBLIC_BASE_URL, else this deployment's domain. */
  base: string;
  /** Twilio stops a Function at 10 s: retries must not run past this time (ms since epoch). */
  deadline: number;
  client: () => TwilioClient;
  store: () => CallStore;
}

export type RouteResult = { status: number; json: unknown } | { status: number; twiml: string };

export interface RouteOptions {
  /** Requires a valid X-Twilio-Signature (what `.protected` means on Twilio; twilio-run does not check it). */
  signed: boolean;
}

/** All work (each request included) ends by then, leaving time to answer before the 10 s limit. */
const INVOCATION_BUDGET_MS = 9000;

export const json = (status: number, body: unknown): RouteResult => ({ status, json: body });
export const twimlResult = (twiml: string): RouteResult => ({ status: 200, twiml });

type ResponseFactory = () => TwilioResponse;

export function twilioFunction(
  options: RouteOptions,
  route: (ctx: RouteContext) => Promise<RouteResult>,
  newResponse: ResponseFactory,
) {
  return async (context: Context, event: Event, callback: ServerlessCallback): Promise<void> => {
    const headers = (event.request?.headers ?? {});
    const deadline = Date.now() + INVOCATION_BUDGET_MS;
    let result: RouteResult;
    try {
      const config = readConfig(context as unknown as Env);
      const site: RequestSite = {
        domainName: context.DOMAIN_NAME,
        path: context.PATH,
        publicBaseUrl: config.publicBaseUrl,
      };
      if (options.signed && !isValidTwilioSignature(config.authToken, headers, site, event)) {
        throw new HttpError(403, 'signature-invalid', 'This route needs a valid X-Twilio-Signature header.');
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
      });
    } catch (err) {
      result = errorResult(err, context.PATH, event);
    }
    callback(null, toResponse(result, newResponse()));
  };
}

function errorResult(err: unknown, path: string, event: Event): RouteResult {
  if (err instanceof HttpError) {
    if (err.status >= 500) logEvent(path, event, { error: err.code });
    return json(err.status, { code: err.code, message: err.message, ...err.details });
  }
  if (isRetryable(err)) {
    // 429/5xx from Twilio, a timeout, a network failure, or no time left: the same request can succeed later.
    const twilioCode = isTwilioRestError(err) ? err.code : undefined;
    logEvent(path, event, {
      error: 'twilio-unavailable',
      status: isTwilioRestError(err) ? err.status : undefined,
      twilioCode,
      cause: (err as { code?: unknown }).code,
    });
    return json(503, {
      code: 'twilio-unavailable',
      message: 'Twilio did not answer in time; retry the request.',
      ...(twilioCode ? { twilioCode } : {}),
    });
  }
  if (isTwilioRestError(err)) {
    logEvent(path, event, { error: 'twilio', status: err.status, twilioCode: err.code });
    return json(502, {
      code: 'twilio-error',
      message: `Twilio refused the request (code ${err.code ?? err.status}).`,
      twilioCode: err.code,
    });
  }
  logEvent(path, event, { error: 'internal', name: (err as Error)?.name });
  return json(500, { code: 'internal-error', message: 'Something went wrong on our side; retry the request.' });
}

function toResponse(result: RouteResult, response: TwilioResponse): TwilioResponse {
  response.setStatusCode(result.status);
  if ('twiml' in result) {
    response.appendHeader('Content-Type', 'text/xml');
    response.setBody(result.twiml);
  } else {
    response.appendHeader('Content-Type', 'application/json');
    response.setBody(result.json as object);
  }
  return response;
}
