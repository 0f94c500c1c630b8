// Twilio's hostnames, locally: an HTTP proxy that answers CONNECT for `<product>.twilio.com:443`,
// terminates the TLS itself with a certificate of the sandbox's own CA, and hands each request to
// the sandbox at `/<product><path>` (api.twilio.com/2010-04-01/… → /api/2010-04-01/…). Unmodified
// Twilio tools reach the sandbox through it with two variables: HTTP_PROXY (twilio-node's
// RequestClient and @twilio-labs/serverless-api's got client both read it) and NODE_EXTRA_CA_CERTS
// (Node reads it at start: the CA's PEM file). Any other host is refused (403): nothing leaves the
// machine through it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';
import { errorBody } from './http';

/** The Twilio hosts the proxy serves: `<product>.twilio.com` (the sandbox answers 404 for a product it does not play). */
const TWILIO_HOST = /^([a-z0-9-]{1,63})\.twilio\.com$/;

export interface TwilioProxy {
  /** `http://127.0.0.1:<port>`: the value of HTTP_PROXY. */
  url: string;
  port: number;
  /** The CA's certificate (PEM) and the file it is written to: the value of NODE_EXTRA_CA_CERTS. */
  caPem: string;
  caFile: string;
  /** The two variables a Node process needs, set before it starts, to reach the sandbox as Twilio. */
  env: { HTTP_PROXY: string; NODE_EXTRA_CA_CERTS: string };
  /** Hosts asked for, in order (`api.twilio.com`, …; refused ones too). */
  connects: { host: string; allowed: boolean }[];
  close(): Promise<void>;
}

export interface TwilioProxyOptions {
  /**
   * The sandbox's own request handler: the proxy runs in its process and hands each request to it
   * directly, its URL under the product's prefix (`/api/…`, `/sync/…`). No second HTTP hop: the
   * sandbox is one thread and every Twilio request of the functions comes through here, and a
   * client that gives up (its tunnel closed) is seen by the sandbox as it would be directly.
   */
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  /** 127.0.0.1 only; 0 = any free port. */
  port?: number;
}

async function certificates(): Promise<{ ca: string; key: string; cert: string }> {
  const notAfterDate = new Date(Date.now() + 30 * 86_400_000);
  const ca = await generate([{ name: 'commonName', value: 'Call Message Events sandbox CA' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const leaf = await generate([{ name: 'commonName', value: '*.twilio.com' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: '*.twilio.com' }] },
    ],
  });
  return { ca: ca.cert, key: leaf.private, cert: leaf.cert };
}

function refuse(socket: Socket, status: number, reason: string): void {
  const body = JSON.stringify(errorBody(status, status === 403 ? 20403 : 20001, reason));
  socket.end(
    `HTTP/1.1 ${status} ${status === 403 ? 'Forbidden' : 'Bad Request'}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

export async function startTwilioProxy(opts: TwilioProxyOptions): Promise<TwilioProxy> {
  const pems = await certificates();
  const dir = mkdtempSync(join(tmpdir(), 'cme-twilio-ca-'));
  const caFile = join(dir, 'ca.pem');
  // NODE_EXTRA_CA_CERTS names one file: the sandbox's CA, plus whatever this process was already given
  // (a company's CA, say), so a tool started with the file still trusts what it trusted before.
  const inherited = ((file) => {
    try {
      return file ? readFileSync(file, 'utf8') : '';
    } catch {
      return '';
    }
  })(process.env.NODE_EXTRA_CA_CERTS);
  writeFileSync(caFile, `${pems.ca.trim()}\n${inherited}`);
  const secureContext = createSecureContext({ key: pems.key, cert: pems.cert });
  const connects: TwilioProxy['connects'] = [];
  /** The product each terminated TLS connection was opened for. */
  const productOf = new WeakMap<Socket, string>();
  const open = new Set<Socket>();

  // The requests inside the tunnels: to the sandbox, under the product's prefix.
  const inner: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const product = productOf.get(req.socket);
    if (product === undefined) {
      res.writeHead(400).end();
      return;
    }
    req.url = `/${product}${req.url ?? '/'}`;
    req.headers['x-forwarded-host'] = `${product}.twilio.com`;
    opts.handle(req, res);
  });
  inner.on('clientError', (_err, socket) => socket.destroy());

  const server: Server = createServer((_req, res) => {
    // Plain-HTTP proxying (absolute URLs): Twilio's APIs are HTTPS only.
    res
      .writeHead(400, { 'content-type': 'application/json' })
      .end(
        JSON.stringify(
          errorBody(400, 20001, 'This proxy serves Twilio over HTTPS only (CONNECT <product>.twilio.com:443)'),
        ),
      );
  });
  server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => socket.destroy());
    const [, host, port] = /^([^:]+):(\d+)$/.exec(req.url ?? '') ?? [];
    const product = host === undefined ? undefined : TWILIO_HOST.exec(host.toLowerCase())?.[1];
    connects.push({ host: host ?? String(req.url), allowed: product !== undefined && port === '443' });
    if (product === undefined || port !== '443') {
      refuse(socket, host === undefined ? 400 : 403, `Only <product>.twilio.com:443 is served here, not ${req.url}`);
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) socket.unshift(head);
    const tls = new TLSSocket(socket, { isServer: true, secureContext });
    tls.on('error', () => socket.destroy());
    productOf.set(tls, product);
    inner.emit('connection', tls);
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    caPem: pems.ca,
    caFile,
    env: { HTTP_PROXY: url, NODE_EXTRA_CA_CERTS: caFile },
    connects,
    async close() {
      for (const s of open) s.destroy();
      inner.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
