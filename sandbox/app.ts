// The sandbox: a local Twilio. REST under /api/2010-04-01, /sync/v1 and /serverless/v1 (uploads:
// /serverless-upload/v1) (Twilio's contract, Basic auth), the call engine behind it, and a JSON
// control API under /sandbox for tests and people.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { SandboxClock } from './clock';
import { CallEngine } from './engine';
import { basicAuth, TwilioApiError, twilioErrorHandler } from './http';
import { startGateway, type SignalingGateway } from './gateway';
import { defaultFunctionsKnobs, startFunctionsGateway, type FunctionsGateway } from './functions-gateway';
import { createApiRouter } from './rest/api';
import { ApiKeyStore, createKeysRouter, defaultKeyKnobs } from './rest/keys';
import { createConferencesRouter } from './rest/conferences';
import { createSyncRouter } from './rest/sync';
import { createServerlessRouter, type ServerlessState } from './rest/serverless';
import { attachTwilsock, type TwilsockServer } from './twilsock';
import { startTwilioProxy, type TwilioProxy } from './twilio-proxy';
import { WebhookSender } from './webhooks';
import { createControlRouter } from './control';
import { SANDBOX_DEFAULTS } from './defaults';
import {
  applyKnobs,
  defaultCallKnobs,
  defaultConferenceKnobs,
  defaultIdempotencyKnobs,
  defaultMessageKnobs,
  defaultSyncKnobs,
  noFaults,
  resetKnobs,
  type KnobSettings,
  type Knobs,
  type RestFaults,
  type SandboxProfile,
} from './knobs';

export type { RestFaults } from './knobs';

export interface SandboxOptions {
  /** The REST and control port (127.0.0.1 only: the sandbox never listens on other interfaces); 0 = any free port. */
  port?: number;
  accountSid?: string;
  authToken?: string;
  apiKeySid?: string;
  apiKeySecret?: string;
  /** Where the functions run (`http://localhost:3000`): the default voice URLs point at `<functionsUrl>/voice`. */
  functionsUrl?: string;
  phoneNumber?: string;
  /** Keep every REST exchange (request and response) for contract checks. */
  recordExchanges?: boolean;
  /** Start the Voice SDK signaling gateway (wss://localhost:<port>/signal) on this port; 0 = any free port. */
  gatewayPort?: number;
  /** Start the Functions gateway on the functions' public `port`, in front of twilio-run at `upstream`. */
  functionsGateway?: { port: number; upstream: string };
  /** A named set of knobs to start with (sandbox/README.md): `deterministic` (the defaults) or `realistic`. */
  profile?: SandboxProfile | undefined;
  /** Knobs to start with, over the profile (as `POST /sandbox/knobs` takes them). `reset()` comes back to these. */
  knobs?: KnobSettings;
  /** The Serverless API's Builds: how long one stays `building` (ms, default 500) and how it ends. */
  serverless?: Partial<ServerlessSettings>;
  /** The port of the proxy that serves Twilio's hostnames (sandbox/twilio-proxy.ts); 0 (default) = any free port. */
  twilioProxyPort?: number;
}

/** How the sandbox's Serverless API plays Builds (live: change `sandbox.serverless.settings`). */
export interface ServerlessSettings {
  buildMs: number;
  buildOutcome: 'completed' | 'failed';
}

/** One REST request and its answer, as tests/support/openapi-contract.ts checks them. */
export interface Exchange {
  product: 'api' | 'sync' | 'serverless';
  method: string;
  /** Without the product prefix and the query: `/2010-04-01/Accounts/AC…/Calls.json`, `/v1/Services/default/Maps`. */
  path: string;
  query: Record<string, string | string[]>;
  form: Record<string, string | string[]>;
  status: number;
  responseBody: unknown;
}

export interface RequestRecord {
  at: number;
  product: string;
  method: string;
  /** Path with SIDs replaced by `{Sid}`: the counter key. */
  route: string;
  status: number;
  ms: number;
  injected?: string;
  /** The client went away before the answer was written (e.g. its timeout passed): it never saw `status`. */
  abandoned?: true;
}

export interface Sandbox {
  url: string;
  port: number;
  accountSid: string;
  authToken: string;
  /** The published key /token signs with (a Standard key of `keys`). */
  apiKeySid: string;
  apiKeySecret: string;
  /** The account's API keys (the Keys API): REST, access and Sync tokens are checked against them. */
  keys: ApiKeyStore;
  phoneNumber: string;
  applicationSid: string;
  engine: CallEngine;
  /** The Voice SDK signaling gateway, when started (`gatewayPort`). */
  gateway?: SignalingGateway | undefined;
  /** The Functions gateway in front of twilio-run, when started (`functionsGateway`). */
  functionsGateway?: FunctionsGateway | undefined;
  webhooks: WebhookSender;
  clock: SandboxClock;
  faults: RestFaults;
  /** Every knob, live (faults and webhooks are `faults` and `webhooks.knobs`). */
  knobs: Knobs;
  requests: RequestRecord[];
  exchanges: Exchange[];
  syncStats(): { writesByObject: Record<string, number[]> };
  /** The Sync client channel (ws://127.0.0.1:<port>/v3/wsconnect) the twilio-sync SDK talks to: its counters. */
  twilsock: TwilsockServer;
  /** The Serverless API: what was deployed (Services, Builds, Variables…) and how Builds go. */
  serverless: { state: ServerlessState; settings: ServerlessSettings };
  /** Twilio's hostnames (api., sync., serverless., serverless-upload.twilio.com) over HTTPS: HTTP_PROXY + NODE_EXTRA_CA_CERTS. */
  twilioProxy: TwilioProxy;
  setFunctionsUrl(url: string): void;
  reset(): void;
  close(): Promise<void>;
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const accountSid = options.accountSid ?? SANDBOX_DEFAULTS.accountSid;
  const authToken = options.authToken ?? SANDBOX_DEFAULTS.authToken;
  const apiKeySid = options.apiKeySid ?? SANDBOX_DEFAULTS.apiKeySid;
  const apiKeySecret = options.apiKeySecret ?? SANDBOX_DEFAULTS.apiKeySecret;
  const phoneNumber = options.phoneNumber ?? SANDBOX_DEFAULTS.phoneNumber;
  const functionsUrl = (options.functionsUrl ?? 'http://localhost:3000').replace(/\/+$/, '');

  const clock = new SandboxClock();
  const keys = new ApiKeyStore();
  keys.add('Sandbox (published)', 'standard', { sid: apiKeySid, secret: apiKeySecret });
  const webhooks = new WebhookSender(authToken);
  const knobs: Knobs = {
    faults: noFaults(),
    webhooks: webhooks.knobs,
    sync: defaultSyncKnobs(),
    messages: defaultMessageKnobs(),
    idempotency: defaultIdempotencyKnobs(),
    calls: defaultCallKnobs(),
    functions: defaultFunctionsKnobs(),
    keys: defaultKeyKnobs(),
    conferences: defaultConferenceKnobs(),
    profile: null,
  };
  const startProfile = options.profile ?? options.knobs?.profile;
  const startKnobs: KnobSettings = {
    ...options.knobs,
    ...(startProfile === undefined ? {} : { profile: startProfile }),
  };
  applyKnobs(knobs, startKnobs);
  const { faults } = knobs;
  const engine = new CallEngine({ accountSid, authToken, clock, webhooks, knobs });
  const number = engine.addNumber(phoneNumber, `${functionsUrl}/voice`, 'Sandbox number');
  const app = engine.addApplication('Call Message Events (sandbox)', `${functionsUrl}/voice`);
  const sync = createSyncRouter({
    accountSid,
    clock,
    writeLimits: () => knobs.sync.writeLimits,
    writeRateLimit: () => faults.syncWriteRateLimit,
    writeRateWindowSeconds: () => faults.syncWriteWindowSeconds,
    missingMapCode: () => knobs.sync.missingMapCode,
  });
  const serverlessSettings: ServerlessSettings = { buildMs: 500, buildOutcome: 'completed', ...options.serverless };
  const serverless = createServerlessRouter({
    accountSid,
    buildMs: () => serverlessSettings.buildMs,
    buildOutcome: () => serverlessSettings.buildOutcome,
  });
  const requests: RequestRecord[] = [];
  const exchanges: Exchange[] = [];

  const server = express();
  server.set('etag', false);
  server.disable('x-powered-by');
  server.use(express.urlencoded({ extended: false, limit: '1mb' }));
  server.use(express.json({ limit: '1mb' }));

  // Request log, counters and exchanges for every REST call.
  const products = ['/api', '/sync', '/serverless', '/serverless-upload'];
  server.use(products, (req: Request, res: Response, next: NextFunction) => {
    const started = Date.now();
    const product = req.baseUrl.slice(1) as Exchange['product'] | 'serverless-upload';
    // e.g. /2010-04-01/Accounts/AC…/Calls.json or /v1/Services/default/Maps (without the product);
    // split always yields a first part, so the default is never used.
    const path = (req.originalUrl.split('?')[0] ?? '').slice(req.baseUrl.length);
    const send = res.json.bind(res);
    let body: unknown;
    res.json = (b: unknown) => {
      body = b;
      return send(b);
    };
    // 'close', not 'finish': a request whose client gave up (timed out) never finishes, and is counted too.
    res.on('close', () => {
      const route = path.replace(/\b[A-Z]{2}[0-9a-f]{32}\b/g, '{Sid}');
      const injected = res.locals.injected as string | undefined;
      requests.push({
        at: started,
        product,
        method: req.method,
        route,
        // 0: the client never got an answer (what it did, if anything, is unknown to it).
        status: res.writableFinished ? res.statusCode : 0,
        ms: Date.now() - started,
        ...(injected === undefined ? {} : { injected }),
        ...(res.writableFinished ? {} : { abandoned: true }),
      });
      // Trimmed in chunks: one splice per 10,000 requests, not one per request.
      if (requests.length > 110_000) requests.splice(0, requests.length - 100_000);
      // Uploads (multipart, to serverless-upload.twilio.com) have no operation in Twilio's spec.
      if (options.recordExchanges && res.writableFinished && product !== 'serverless-upload') {
        exchanges.push({
          product,
          method: req.method,
          path,
          query: req.query as Exchange['query'],
          form: (req.body ?? {}) as Exchange['form'],
          status: res.statusCode,
          responseBody: body,
        });
      }
    });
    next();
  });

  // Fault injection: latency, failures and slow answers on the REST side. Whether a request fails is
  // decided as it arrives (the knobs then), so a knob changed while it waits out its latency does not
  // change its fate.
  server.use(['/api', '/sync'], async (req: Request, res: Response, next: NextFunction) => {
    const product = req.baseUrl.slice(1) as 'api' | 'sync';
    const targeted =
      !faults.routes?.length || faults.routes.some((r) => (req.originalUrl.split('?')[0] ?? '').includes(r));
    const fails = faults.rate > 0 && faults.products.includes(product) && targeted && Math.random() < faults.rate;
    const kind = fails ? faults.kinds[Math.floor(Math.random() * faults.kinds.length)] : undefined;
    const slowMs = faults.slowMs;
    const jitter = faults.latency
      ? faults.latency.minMs + Math.random() * (faults.latency.maxMs - faults.latency.minMs)
      : 0;
    if (faults.latencyMs + jitter > 0) await new Promise((r) => setTimeout(r, faults.latencyMs + jitter));
    if (kind !== undefined) {
      res.locals.injected = String(kind);
      if (kind === 'slow') {
        await new Promise((r) => setTimeout(r, slowMs));
      } else {
        if (kind === 429) res.setHeader('Retry-After', '1');
        const code = kind === 429 ? (product === 'sync' ? 54009 : 20429) : 20500;
        return next(
          new TwilioApiError(
            kind,
            code,
            kind === 429 ? 'Too Many Requests' : 'Service unavailable (injected by the sandbox)',
          ),
        );
      }
    }
    next();
  });

  const auth = basicAuth({ accountSid, authToken, keys });
  server.use(
    '/api/2010-04-01',
    auth,
    createKeysRouter(keys, accountSid, knobs.keys),
    createApiRouter(engine, accountSid),
    createConferencesRouter(engine, accountSid),
  );
  server.use('/sync/v1', auth, sync.router);
  server.use('/serverless/v1', auth, serverless.router);
  server.use('/serverless-upload/v1', auth, serverless.uploadRouter);
  server.use(products, (req: Request, _res: Response, next: NextFunction) =>
    next(new TwilioApiError(404, 20404, `The requested resource ${req.originalUrl.split('?')[0]} was not found`)),
  );
  // Mounted now (before the error handler); filled in once the sandbox exists.
  const control = express.Router();
  server.use('/sandbox', control);
  server.use(twilioErrorHandler);

  const httpServer: Server = await new Promise((resolve) => {
    const s = server.listen(options.port ?? 0, '127.0.0.1', () => resolve(s));
  });
  const port = (httpServer.address() as AddressInfo).port;
  // The Sync client channel (Twilsock) on the same port: ws://127.0.0.1:<port>/v3/wsconnect.
  const twilsock = attachTwilsock(httpServer, {
    state: sync.state,
    accountSid,
    keys,
    record: (r) => requests.push({ ...r, product: 'sync-client' }),
  });
  const twilioProxy = await startTwilioProxy({
    handle: server,
    port: options.twilioProxyPort ?? 0,
  }).catch((err: Error) => {
    httpServer.close();
    throw err;
  });
  const gateway =
    options.gatewayPort === undefined
      ? undefined
      : await startGateway({
          engine,
          accountSid,
          keys,
          port: options.gatewayPort,
        }).catch(async (err: Error) => {
          await twilioProxy.close();
          httpServer.close();
          throw err;
        });

  const functionsGateway =
    options.functionsGateway === undefined
      ? undefined
      : await startFunctionsGateway({
          ...options.functionsGateway,
          knobs,
          authToken,
          // The pages reach the signaling gateway (wss) and its certificate page (https): sandbox only;
          // and the Sync client channel (ws) on this server's port: the console's live channel.
          pageConnectSources: [
            ...(gateway ? [`wss://localhost:${gateway.port}`, `https://localhost:${gateway.port}`] : []),
            `ws://127.0.0.1:${port}`,
            `ws://localhost:${port}`,
          ],
        }).catch(async (err: Error) => {
          await gateway?.close();
          await twilioProxy.close();
          httpServer.close();
          throw err;
        });

  const sandbox: Sandbox = {
    url: `http://127.0.0.1:${port}`,
    port,
    accountSid,
    authToken,
    apiKeySid,
    apiKeySecret,
    keys,
    phoneNumber: number.phoneNumber,
    applicationSid: app.sid,
    engine,
    gateway,
    functionsGateway,
    webhooks,
    clock,
    faults,
    knobs,
    requests,
    exchanges,
    syncStats: () => sync.stats(),
    twilsock,
    serverless: { state: serverless.state, settings: serverlessSettings },
    twilioProxy,
    setFunctionsUrl(url: string) {
      const voiceUrl = `${url.replace(/\/+$/, '')}/voice`;
      number.voiceUrl = voiceUrl;
      app.voiceUrl = voiceUrl;
    },
    reset() {
      engine.reset();
      sync.reset();
      serverless.reset();
      Object.assign(serverlessSettings, { buildMs: 500, buildOutcome: 'completed' }, options.serverless);
      twilsock.reset();
      for (const key of keys.list()) if (key.sid !== apiKeySid) keys.remove(key.sid); // the published key stays
      requests.length = 0;
      exchanges.length = 0;
      webhooks.log.length = 0;
      webhooks.statusOrder.reset();
      // Knobs back to how the sandbox started (its profile and start knobs).
      resetKnobs(knobs);
      applyKnobs(knobs, startKnobs);
    },
    close: async () => {
      webhooks.statusOrder.reset();
      twilsock.close();
      await gateway?.close();
      await functionsGateway?.close();
      await twilioProxy.close();
      await new Promise<void>((resolve) => {
        engine.reset();
        httpServer.closeAllConnections();
        httpServer.close(() => resolve());
      });
    },
  };
  control.use(createControlRouter(sandbox, { phoneNumberSid: number.sid, functionsUrl }));
  return sandbox;
}
