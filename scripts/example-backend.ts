// An example app backend for forwarding (APP_WEBHOOK_URL): what an app built on this project runs
// to be told about call messages. It checks the Standard Webhooks signature over the raw body with
// the client package's verifier, drops a repeated webhook-id (answering as it did the first time),
// logs each event, and answers {"reply": {"pong": …}} to a message {"ping": …}, which the functions
// send back to the caller. Any content an SDK can send is handled: JSON is written back without
// recursion (compactJson), so a message nesting thousands of levels is answered like any other, and
// nothing a request does can throw out of a handler (that would end the process).
// `npm start` runs it on EXAMPLE_BACKEND_PORT (3003); alone: `APP_WEBHOOK_SECRET=… tsx scripts/example-backend.ts`.
// Knobs (POST /knobs) make it fail or slow down, so the retry path can be watched.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkForwardedRequest } from '../client/src';
import { compactJson } from '../lib/shared/json-text';
import { parseCommandLine } from './cli';

/** The demo's shared secret (not a secret: it only signs requests between two local processes). */
export const EXAMPLE_BACKEND_SECRET = `whsec_${Buffer.from('example-backend-key-of-32-bytes!').toString('base64')}`;
export const EXAMPLE_BACKEND_PATH = '/cme-events';

export interface BackendKnobs {
  /** Share (0-1) of messages whose FIRST delivery is answered 500 (later ones succeed). */
  failFirstRate: number;
  /** Share (0-1) of all deliveries answered 500. */
  failRate: number;
  /** Share (0-1) of FIRST deliveries answered only after `slowMs`. */
  slowFirstRate: number;
  slowMs: number;
}

export const defaultBackendKnobs = (): BackendKnobs => ({ failFirstRate: 0, failRate: 0, slowFirstRate: 0, slowMs: 0 });

export interface BackendStats {
  /** Requests with a valid signature. */
  received: number;
  /** Requests refused for their signature. */
  refused: number;
  /** Per webhook-id: answers of 2xx that reached the sender (the response was written in full). */
  delivered: Record<string, number>;
  /** Per webhook-id: how many times it arrived at all (first attempts and redeliveries). */
  attempts: Record<string, number>;
  /** The events, once each (first 2xx), in the order they were handled. */
  events: { key: string; type: string; body: Record<string, unknown> }[];
}

export interface ExampleBackend {
  url: string;
  secret: string;
  /** What the functions need to forward here. */
  env: { APP_WEBHOOK_URL: string; APP_WEBHOOK_SECRET: string };
  knobs: BackendKnobs;
  stats: BackendStats;
  close(): Promise<void>;
}

/** Largest request read (4 MB): far past any event the functions send. */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/** A stable draw in [0, 1) per key and purpose: the same key fails (or is slow) the same way every run. */
const draw = (key: string, salt: string) =>
  createHash('sha256').update(`${salt}:${key}`).digest().readUInt32BE(0) / 2 ** 32;

export async function startExampleBackend(
  options: {
    port?: number;
    secret?: string;
    log?: (line: string) => void;
    /** Sees every request to the events path as it arrived (raw body, headers), before any check. */
    onRequest?: (raw: Buffer, headers: http.IncomingHttpHeaders) => void;
  } = {},
): Promise<ExampleBackend> {
  const secret = options.secret ?? EXAMPLE_BACKEND_SECRET;
  const log = options.log ?? (() => undefined);
  const knobs = defaultBackendKnobs();
  const stats: BackendStats = { received: 0, refused: 0, delivered: {}, attempts: {}, events: [] };
  /** The answer given to each key, so a repeat is answered the same (its reply is keyed: sent once anyway). */
  const answers = new Map<string, unknown>();

  const handleEvent = (raw: Buffer, req: http.IncomingMessage, res: http.ServerResponse) => {
    options.onRequest?.(raw, req.headers);
    const check = checkForwardedRequest(raw, req.headers, secret);
    if (!check.valid) {
      stats.refused++;
      log(`refused: ${check.reason}`);
      return sendJson(res, 400, { error: check.reason });
    }
    stats.received++;
    const key = check.id;
    const attempt = (stats.attempts[key] = (stats.attempts[key] ?? 0) + 1);
    // Signed by the functions, so JSON; JSON.parse does not recurse, whatever the depth.
    const event = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    const first = attempt === 1;
    if ((first && draw(key, 'fail') < knobs.failFirstRate) || Math.random() < knobs.failRate) {
      log(`${String(event.type)} ${key}: answering 500 (knob)`);
      return sendJson(res, 500, { error: 'failing on purpose (knob)' });
    }
    const answer = () => {
      const known = answers.has(key);
      const body = known ? answers.get(key) : answerTo(event);
      if (!known) answers.set(key, body);
      // Counted only once the answer went out in full: a sender that gave up first did not get it.
      res.once('finish', () => {
        stats.delivered[key] = (stats.delivered[key] ?? 0) + 1;
        if (!known) stats.events.push({ key, type: String(event.type), body: event });
      });
      log(`${String(event.type)} ${key}${known ? ' (repeat: answered as before)' : ''} ${describe(event)}`);
      sendJson(res, 200, body);
    };
    if (first && draw(key, 'slow') < knobs.slowFirstRate) {
      // Later, outside the request's try (route's caller): this one catches for itself.
      setTimeout(() => {
        try {
          answer();
        } catch (err) {
          failed(res, err);
        }
      }, knobs.slowMs);
    } else answer();
  };

  /** A request that threw: logged and answered 500, never thrown on (that would end the process). */
  const failed = (res: http.ServerResponse, err: unknown) => {
    log(`error: ${(err as Error)?.name ?? 'unknown'}`);
    sendJson(res, 500, { error: 'the example backend failed on this request' });
  };

  const route = (raw: Buffer, req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'POST' && path === EXAMPLE_BACKEND_PATH) return handleEvent(raw, req, res);
    if (path === '/knobs' && req.method === 'GET') return sendJson(res, 200, knobs);
    if (path === '/knobs' && req.method === 'POST') {
      const changed = setKnobs(knobs, raw.toString('utf8'));
      return changed ? sendJson(res, 200, knobs) : sendJson(res, 400, { error: 'knobs: numbers, rates 0-1' });
    }
    if (path === '/stats' && req.method === 'GET') return sendJson(res, 200, stats);
    sendJson(res, 404, { error: 'not found' });
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      // The functions never send more than a message's few hundred KB; anything far larger is not theirs.
      if (size > MAX_REQUEST_BYTES) req.destroy();
      else chunks.push(c);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      // Nothing a request holds may throw out of here: an uncaught exception would end the process.
      try {
        route(Buffer.concat(chunks), req, res);
      } catch (err) {
        failed(res, err);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${EXAMPLE_BACKEND_PATH}`;
  return {
    url,
    secret,
    env: { APP_WEBHOOK_URL: url, APP_WEBHOOK_SECRET: secret },
    knobs,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `{"reply": {"pong": …}}` to a message `{"ping": …}`; an empty acknowledgement to anything else. */
function answerTo(event: Record<string, unknown>): unknown {
  const content = event.content as Record<string, unknown> | null | undefined;
  if (event.type === 'call.message' && typeof content === 'object' && content !== null && 'ping' in content) {
    return { reply: { pong: content.ping, at: new Date().toISOString() } };
  }
  return {};
}

function describe(event: Record<string, unknown>): string {
  if (event.type === 'call.message') return `from ${String(event.identity)} on ${String(event.callSid)}`;
  return `${String(event.identity)} ${String(event.status)} on ${String(event.callSid)}`;
}

function setKnobs(knobs: BackendKnobs, text: string): boolean {
  let given: Record<string, unknown>;
  try {
    given = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return false;
  }
  const next = { ...knobs };
  for (const name of Object.keys(defaultBackendKnobs()) as (keyof BackendKnobs)[]) {
    if (given[name] === undefined) continue;
    const value = Number(given[name]);
    const rate = name !== 'slowMs';
    if (!Number.isFinite(value) || value < 0 || (rate && value > 1) || (!rate && value > 60_000)) return false;
    next[name] = value;
  }
  Object.assign(knobs, next);
  return true;
}

/** Writes `body` as JSON without recursion (compactJson): an SDK's deepest content is written like any other. */
function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.destroyed || res.headersSent) return;
  const text = compactJson(body);
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(text);
}

if (require.main === module) {
  parseCommandLine(
    `Usage: tsx scripts/example-backend.ts   (npm start runs it for you)
An example app backend for forwarding: checks each event's Standard Webhooks signature, logs it,
answers {"reply": {"pong": …}} to {"ping": …}. Knobs: POST /knobs, GET /stats.
Environment: EXAMPLE_BACKEND_PORT (3003), APP_WEBHOOK_SECRET (default: the demo's whsec_ secret).`,
    {},
  );
  const secret = process.env.APP_WEBHOOK_SECRET || EXAMPLE_BACKEND_SECRET;
  startExampleBackend({ port: Number(process.env.EXAMPLE_BACKEND_PORT ?? 3003), secret, log: console.log })
    .then((b) => console.log(`example backend: APP_WEBHOOK_URL=${b.url}`))
    .catch((err: Error) => {
      console.error(`example backend: ${err.message}`);
      process.exit(1);
    });
}
