// The Functions gateway: what Twilio's platform does in front of a Function (docs: Functions
// "Request flow", "Headers and cookies", FAQ limits; /work/shared/TWILIO-FACTS.md §9). Every
// caller of the functions (tests, browsers, the sandbox's own webhooks) reaches twilio-run through
// it; twilio-run itself listens on loopback only (sandbox/stack.ts). Before the function runs it
//   - caps the request at 1 MB with its headers (413),
//   - on a protected path checks X-Twilio-Signature over the URL the caller used (400 when missing
//     or wrong: the function never runs),
//   - strips the headers a Function never sees;
// then it ends the invocation at 10 s (504) and turns an answer over 4 MB into an error answer.
// It listens on loopback only: the functions it fronts answer to the sandbox's published
// credentials. One sandbox-only change to what it passes on: a page's Content-Security-Policy gets
// the sandbox's signaling gateway (localhost) added to its connect-src, which the deployed pages
// never allow (sandboxPageCsp).
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { ROUTE_CONTRACTS } from '../lib/shared/route-contracts';
import { errorBody, TwilioApiError } from './http';
import type { WebhookKnobs } from './webhooks';

/**
 * The platform's limits and the readings of what Twilio leaves open. "1 MB" and "4 MB" are read as
 * decimal megabytes: the stricter reading, so nothing passes here that Twilio could refuse.
 */
export interface FunctionsKnobs {
  /** A request's size with its request line and headers, in bytes (Twilio: 1 MB); over it: 413. */
  requestMaxBytes: number;
  /** An answer's body, in bytes (Twilio: 4 MB); over it the caller gets `oversizeAnswerStatus`. */
  answerMaxBytes: number;
  /** How long an invocation may take, from the request reaching the function to its whole answer (10 s); then 504. */
  timeoutMs: number;
  /** The status of an answer the function made over `answerMaxBytes`: undocumented (a 5xx; default 502). */
  oversizeAnswerStatus: number;
  /**
   * Whether the gateway takes a SharedKey (HMAC-SHA256, X-Twilio-Webhooks-Signature-Settings)
   * signature on a protected path (undocumented): `accepted` checks it with the SharedKey's secret;
   * `refused` knows only the Auth Token's HMAC-SHA1, so every SharedKey-signed request gets 400.
   */
  sharedKeySignatures: 'accepted' | 'refused';
}

export const SHARED_KEY_READINGS: readonly FunctionsKnobs['sharedKeySignatures'][] = ['accepted', 'refused'];

export const defaultFunctionsKnobs = (): FunctionsKnobs => ({
  requestMaxBytes: 1_000_000,
  answerMaxBytes: 4_000_000,
  timeoutMs: 10_000,
  oversizeAnswerStatus: 502,
  sharedKeySignatures: 'accepted',
});

/**
 * Checks a `functions` knob section (POST /sandbox/knobs) and returns what it sets; throws 400 /
 * 20001 on a bad value, before anything changes.
 */
export function checkFunctionsKnobs(section: Record<string, unknown>): Partial<FunctionsKnobs> {
  const invalid = (message: string) => new TwilioApiError(400, 20001, message);
  const checked: Partial<FunctionsKnobs> = {};
  const positive = (name: 'requestMaxBytes' | 'answerMaxBytes' | 'timeoutMs') => {
    const value = section[name];
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
      throw invalid(`functions.${name} must be a positive integer`);
    checked[name] = value;
  };
  positive('requestMaxBytes');
  positive('answerMaxBytes');
  positive('timeoutMs');
  const status = section.oversizeAnswerStatus;
  if (status !== undefined) {
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 500 || status > 599)
      throw invalid('functions.oversizeAnswerStatus must be a 5xx status');
    checked.oversizeAnswerStatus = status;
  }
  const shared = section.sharedKeySignatures;
  if (shared !== undefined) {
    if (!SHARED_KEY_READINGS.includes(shared as FunctionsKnobs['sharedKeySignatures']))
      throw invalid(`functions.sharedKeySignatures must be one of ${SHARED_KEY_READINGS.join(', ')}`);
    checked.sharedKeySignatures = shared as FunctionsKnobs['sharedKeySignatures'];
  }
  const unknown = Object.keys(section).filter((k) => !(k in defaultFunctionsKnobs()));
  if (unknown.length) throw invalid(`functions has no knob ${unknown.join(', ')}`);
  return checked;
}

/**
 * Headers a Function never sees: the list `@twilio/runtime-handler` strips locally
 * (dev-runtime/checks/restricted-headers; tests/unit/functions-gateway.test.ts checks they agree).
 */
export const RESTRICTED_HEADER_PREFIXES: readonly string[] = [
  'i-twilio-',
  'i-t-',
  'ot-',
  'x-amz',
  'x-forwarded-',
  'x-accel-',
];
export const RESTRICTED_HEADERS: readonly string[] = [
  'via',
  'referer',
  'transfer-encoding',
  'proxy-authorization',
  'proxy-authenticate',
  'x-real-ip',
  'connection',
  'proxy-connection',
  'expect',
  'trailer',
  'upgrade',
];
/** Hop-by-hop headers (RFC 9110 §7.6.1) the list above leaves out; the gateway frames bodies itself. */
const HOP_BY_HOP = ['keep-alive', 'te', 'content-length'];

/** Whether a Function may see this header (lower-case name). */
export function reachesFunction(name: string): boolean {
  return (
    !RESTRICTED_HEADERS.includes(name) &&
    !HOP_BY_HOP.includes(name) &&
    !RESTRICTED_HEADER_PREFIXES.some((prefix) => name.startsWith(prefix))
  );
}

/**
 * The sandbox's webhook sender puts the connection-override fragment it signed here when the
 * `webhooks.signFragment` knob is on: the fragment never travels, but a Twilio that signed it would
 * know it. An `I-Twilio-` header, so it is stripped like Twilio's own internal headers.
 */
export const SIGNED_FRAGMENT_HEADER = 'i-twilio-sandbox-signed-fragment';

/** The deployed paths of `.protected` functions (a protected function's URL has no `.protected`). */
export const PROTECTED_PATHS: ReadonlySet<string> = new Set(
  ROUTE_CONTRACTS.filter((route) => route.access === 'twilio-signed').map((route) => route.path),
);

/** The paths of Functions; anything else twilio-run serves is an Asset, which the invocation limits leave alone. */
export const FUNCTION_PATHS: ReadonlySet<string> = new Set(ROUTE_CONTRACTS.map((route) => route.path));

/** Why the gateway answered itself instead of (or after) the function. */
export type GatewayRefusal = 'request-too-large' | 'signature-invalid' | 'timeout' | 'answer-too-large' | 'unreachable';

/** One request through the gateway, as GET /sandbox/functions-gateway shows it. */
export interface GatewayRecord {
  /** Counts up from 1 for each request: later records have larger numbers. */
  seq: number;
  at: number;
  method: string;
  path: string;
  status: number;
  /** Whether the request reached twilio-run (a refused one never runs the function). */
  forwarded: boolean;
  refused?: GatewayRefusal;
  /** The names of the headers the function received (values are left out: they carry secrets). */
  headerNames: string[];
  requestBytes: number;
  answerBytes: number;
  ms: number;
}

export interface FunctionsGateway {
  /** The public URL callers use: `http://localhost:<port>`. */
  url: string;
  port: number;
  /** twilio-run's own URL, on loopback. */
  upstream: string;
  records: GatewayRecord[];
  close(): Promise<void>;
}

export interface FunctionsGatewayOptions {
  /** The public port, on 127.0.0.1 only; 0 = any free port. */
  port: number;
  /** Origins the pages may connect to in the sandbox besides their own (the signaling gateway). */
  pageConnectSources?: readonly string[];
  /** twilio-run's loopback URL, e.g. `http://127.0.0.1:41234`. */
  upstream: string;
  /** Live knobs: read on every request, so POST /sandbox/knobs takes effect at once. */
  knobs: { functions: FunctionsKnobs; webhooks: WebhookKnobs };
  authToken: string;
}

/** Bytes of the request line and headers as they came on the wire. */
function headBytes(req: IncomingMessage): number {
  let bytes = `${req.method ?? ''} ${req.url ?? ''} HTTP/${req.httpVersion}\r\n`.length + 2;
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2)
    bytes += Buffer.byteLength(`${req.rawHeaders[i] ?? ''}: ${req.rawHeaders[i + 1] ?? ''}\r\n`);
  return bytes;
}

/** Past this much, an over-size body is no longer drained (its 413 is sent and the socket closed). */
const DRAIN_LIMIT_BYTES = 16_000_000;

/** Reads the body; `undefined` once it is over `maxBytes` (the rest is drained, up to DRAIN_LIMIT_BYTES). */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else if (size > DRAIN_LIMIT_BYTES) resolve(undefined);
    });
    req.on('end', () => resolve(size <= maxBytes ? Buffer.concat(chunks) : undefined));
    req.on('error', reject);
  });
}

/** A form body as twilio-node's validateRequest takes it: a repeated key becomes an array. */
function formParams(body: string): Record<string, string | string[]> {
  const params: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const seen = params[key];
    params[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return params;
}

/**
 * A JSON body without bodySHA256 signs as its parsed top-level keys, as twilio-node's
 * validateIncomingRequest takes `request.body`; anything but an object signs as no parameters.
 */
function jsonParams(body: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? { ...parsed } : {};
  } catch {
    return {};
  }
}

/**
 * X-Twilio-Signature as Twilio's gateway checks it, over the public URL the caller used: form
 * bodies with `validateRequest`, a JSON body with `bodySHA256` in the URL with
 * `validateRequestWithBody` (without it, over its top-level keys), anything else over the URL alone.
 */
export function signatureIsValid(
  req: Pick<IncomingMessage, 'headers' | 'url'>,
  body: Buffer,
  secrets: { authToken: string; functions: FunctionsKnobs; webhooks: WebhookKnobs },
): boolean {
  const signature = req.headers['x-twilio-signature'];
  const host = req.headers.host;
  if (typeof signature !== 'string' || signature === '' || !host) return false;
  const settings = req.headers[twilio.SIGNATURE_SETTINGS_HEADER.toLowerCase()];
  let key = { secret: secrets.authToken, algorithm: twilio.HMAC_SHA1 };
  if (settings !== undefined) {
    if (secrets.functions.sharedKeySignatures === 'refused' || typeof settings !== 'string') return false;
    const id = /(?:^|,)\s*key=([^,]+)/.exec(settings)?.[1]?.trim();
    if (id !== secrets.webhooks.sharedKey.id) return false;
    key = {
      secret: secrets.webhooks.sharedKey.secret,
      algorithm: twilio.getSignatureAlgorithm(settings).toUpperCase(),
    };
    // Only what twilio-node can compute (it would log a warning for anything else).
    if (key.algorithm !== twilio.HMAC_SHA256 && key.algorithm !== twilio.HMAC_SHA1) return false;
  }
  const url = `http://${host}${req.url ?? '/'}`;
  const fragment = req.headers[SIGNED_FRAGMENT_HEADER];
  const urls =
    secrets.webhooks.signFragment && typeof fragment === 'string' && fragment.startsWith('#')
      ? [url, url + fragment]
      : [url];
  const contentType = req.headers['content-type'] ?? '';
  const text = body.toString('utf8');
  try {
    const bodyHashed = contentType.startsWith('application/json') && new URL(url).searchParams.has('bodySHA256');
    const params = contentType.startsWith('application/x-www-form-urlencoded')
      ? formParams(text)
      : contentType.startsWith('application/json') && !bodyHashed
        ? jsonParams(text)
        : {};
    return urls.some((signed) =>
      bodyHashed
        ? twilio.validateRequestWithBody(key.secret, signature, signed, text, key.algorithm)
        : twilio.validateRequest(key.secret, signature, signed, params, key.algorithm),
    );
  } catch {
    // A Host or path no URL can be made of: nothing can have been signed for it.
    return false;
  }
}

/** Starts the gateway on `options.port`, in front of twilio-run at `options.upstream`. */
/**
 * A page as the sandbox serves it: the production CSP (`connect-src 'self' https://*.twilio.com …`)
 * with `sources` added, so the real Voice SDK may reach the local gateway. Anything else unchanged.
 */
export function sandboxPageCsp(html: string, sources: readonly string[]): string {
  if (sources.length === 0) return html;
  return html.replace(
    /(http-equiv="Content-Security-Policy"\s+content="[^"]*connect-src 'self')/,
    `$1 ${sources.join(' ')}`,
  );
}

export async function startFunctionsGateway(options: FunctionsGatewayOptions): Promise<FunctionsGateway> {
  const upstream = new URL(options.upstream);
  const records: GatewayRecord[] = [];
  let seq = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = Date.now();
    const limits = options.knobs.functions;
    const path = new URL(req.url ?? '/', 'http://gateway').pathname;
    const record: GatewayRecord = {
      seq: ++seq,
      at: started,
      method: req.method ?? 'GET',
      path,
      status: 0,
      forwarded: false,
      headerNames: [],
      requestBytes: 0,
      answerBytes: 0,
      ms: 0,
    };
    let answered = false;
    const answer = (
      status: number,
      body: Buffer,
      headers: Record<string, string | string[]>,
      refused?: GatewayRefusal,
    ) => {
      // A timeout, an over-size answer and the upstream error that follows may all try: the first wins.
      if (answered) return;
      answered = true;
      record.status = status;
      record.answerBytes = body.length;
      record.ms = Date.now() - started;
      if (refused) record.refused = refused;
      records.push(record);
      if (records.length > 600) records.splice(0, records.length - 500);
      if (res.headersSent || res.destroyed) return;
      res.writeHead(status, { ...headers, 'content-length': String(body.length) });
      res.end(body);
    };
    const refuse = (status: number, code: number, message: string, refused: GatewayRefusal) =>
      answer(
        status,
        Buffer.from(JSON.stringify(errorBody(status, code, message))),
        { 'content-type': 'application/json' },
        refused,
      );

    const head = headBytes(req);
    const declared = Number(req.headers['content-length'] ?? 0);
    const tooLarge = () =>
      refuse(
        413,
        20413,
        `The request is larger than ${limits.requestMaxBytes} bytes with its headers`,
        'request-too-large',
      );
    if (Number.isFinite(declared) && declared > DRAIN_LIMIT_BYTES) {
      // Too big to be worth draining: answer now and close; the caller may see the reset instead.
      res.setHeader('connection', 'close');
      return tooLarge();
    }
    // An over-size body is still read (and dropped), so the caller sees the 413 and not a reset.
    const body = head > limits.requestMaxBytes ? undefined : await readBody(req, limits.requestMaxBytes - head);
    if (body === undefined) {
      res.setHeader('connection', 'close');
      return tooLarge();
    }
    record.requestBytes = head + body.length;

    if (PROTECTED_PATHS.has(path) && !signatureIsValid(req, body, { authToken: options.authToken, ...options.knobs })) {
      return refuse(400, 20001, 'Invalid or missing X-Twilio-Signature for a protected Function', 'signature-invalid');
    }

    // Headers named in Connection are hop-by-hop too.
    const connectionNamed = String(req.headers.connection ?? '')
      .split(',')
      .map((name) => name.trim().toLowerCase());
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headersDistinct)) {
      if (value === undefined || !reachesFunction(name) || connectionNamed.includes(name)) continue;
      headers[name] = value.length === 1 ? (value[0] ?? '') : value;
    }
    headers['content-length'] = String(body.length);
    record.headerNames = Object.keys(headers);
    record.forwarded = true;

    const upstreamReq = httpRequest({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers,
    });
    // An Asset is not an invocation: neither the time limit nor the answer limit applies to it.
    const invocation = FUNCTION_PATHS.has(path);
    const answerMaxBytes = invocation ? limits.answerMaxBytes : Infinity;
    const timer = setTimeout(
      () => {
        upstreamReq.destroy();
        refuse(504, 82002, `The Function did not answer within ${limits.timeoutMs} ms`, 'timeout');
      },
      invocation ? limits.timeoutMs : 60_000,
    );
    upstreamReq.on('error', () => {
      clearTimeout(timer);
      refuse(502, 82002, 'The Function could not be reached', 'unreachable');
    });
    upstreamReq.on('response', (upstreamRes) => {
      const tooBig = () => {
        clearTimeout(timer);
        upstreamReq.destroy();
        refuse(
          limits.oversizeAnswerStatus,
          82002,
          `The Function's answer is larger than ${answerMaxBytes} bytes`,
          'answer-too-large',
        );
      };
      if (Number(upstreamRes.headers['content-length'] ?? 0) > answerMaxBytes) return tooBig();
      const chunks: Buffer[] = [];
      let size = 0;
      upstreamRes.on('error', () => {
        clearTimeout(timer);
        refuse(502, 82002, 'The Function broke off its answer', 'unreachable');
      });
      upstreamRes.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > answerMaxBytes) return tooBig();
        chunks.push(chunk);
      });
      upstreamRes.on('end', () => {
        clearTimeout(timer);
        if (size > answerMaxBytes) return;
        const answerHeaders: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(upstreamRes.headersDistinct)) {
          if (value === undefined || ['connection', 'keep-alive', 'transfer-encoding', 'content-length'].includes(name))
            continue;
          answerHeaders[name] = value.length === 1 ? (value[0] ?? '') : value;
        }
        let answerBody = Buffer.concat(chunks);
        const type = String(answerHeaders['content-type'] ?? '');
        if (!invocation && type.startsWith('text/html') && options.pageConnectSources?.length) {
          answerBody = Buffer.from(sandboxPageCsp(answerBody.toString('utf8'), options.pageConnectSources));
        }
        answer(upstreamRes.statusCode ?? 502, answerBody, answerHeaders);
      });
    });
    upstreamReq.end(body);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      console.error('[functions gateway] internal error', err);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify(errorBody(500, 20500, 'Internal Server Error')));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://localhost:${port}`,
    port,
    upstream: options.upstream,
    records,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
