// The request's headers, only as the Functions runtime gives them. The runtime hands a Function one
// object, `event`: the query and the body merged, with the runtime's own `request` (headers,
// cookies) as one more key of it. twilio-run builds it as `{ request, ...query, ...body }`
// (@twilio/runtime-handler 2.1.0, dev-runtime/route.js constructEvent; Express's query parser
// nests `request[headers][x]=…`), so a query or JSON body key `request` replaces the runtime's
// headers wholesale. Whether Twilio's hosted runtime merges in that order or lets its own `request`
// win is undocumented. Under the second reading a client's `request` never reaches the Function;
// under the first nothing marks it as the client's, so what the runtime could not have built is
// refused here, before any header is read.
import { apiError } from '../shared/error-catalogue';
import { compactJson } from '../shared/json-text';
import { MAX_REQUEST_BYTES } from '../shared/limits';

type Fields = Record<string, unknown>;
const isFields = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A header's value is text (a repeated header: several); numbers and booleans are let pass, never objects. */
const isScalar = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** A header name as the runtime passes it: an HTTP token, lower-cased (Functions docs). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

const refuse = (why: string) =>
  apiError(
    'request-key-reserved',
    `The parameter "request" belongs to the Functions runtime (its headers and cookies): ${why}. Send headers as headers.`,
  );

/**
 * The headers of `event.request`, once it is what the runtime builds: an object with `headers`
 * (lower-case names → text, or texts for a repeated header) and `cookies` (an object) — the shape
 * twilio-run always builds and `@twilio-labs/serverless-runtime-types` declares. Refused with 400 `request-key-reserved`: any other `request`, and any key that a
 * parser nesting brackets or dots would turn into `request` (a form body's `request[headers][x]`).
 * No `request` at all (no runtime builds that) reads as no headers: nothing is trusted from it.
 */
export function runtimeHeaders(event: Fields): Fields {
  for (const key of Object.keys(event)) {
    if (key.startsWith('request[') || key.startsWith('request.')) throw refuse(`"${key.slice(0, 40)}" would write it`);
  }
  if (!('request' in event)) return {};
  const request = event.request;
  if (!isFields(request) || !isFields(request.headers) || !isFields(request.cookies)) {
    throw refuse('the query or body replaced it');
  }
  const { headers } = request;
  for (const [name, value] of Object.entries(headers)) {
    const single = isScalar(value) || (Array.isArray(value) && value.every(isScalar));
    if (!HEADER_NAME.test(name) || !single) throw refuse('the query or body replaced it');
  }
  return headers;
}

/**
 * Refuses (413 request-too-large) a request over Twilio's 1 MB. A Function never sees the raw
 * request, so it measures what it can: the Content-Length the runtime passes (none for a chunked
 * body), and the parsed query and body written back as compact JSON — a lower bound on what came
 * over the wire (form encoding only grows it). Twilio's gateway, and the sandbox's in front of
 * twilio-run, refuse a larger request before any Function runs; this holds where nothing does
 * (twilio-run alone accepts 6 MB).
 */
export function requireRequestWithinLimit(headers: Fields, event: Fields): void {
  const declared = Number(headers['content-length']);
  const params = Object.fromEntries(Object.entries(event).filter(([key]) => key !== 'request'));
  const bytes = Math.max(Number.isFinite(declared) ? declared : 0, Buffer.byteLength(compactJson(params)));
  if (bytes > MAX_REQUEST_BYTES) {
    throw apiError(
      'request-too-large',
      `The request is ${bytes} bytes or more; a Function takes at most ${MAX_REQUEST_BYTES} (1 MB).`,
    );
  }
}
