// The sandbox's Sync v1 REST router mounted in-process (express + Basic auth + Twilio-shaped
// errors), and the real `twilio` client pointed at it. For unit tests of the Sync store and of the
// functions: while it runs, every `twilio` client of the test's process sends what it addresses to
// https://<product>.twilio.com here instead (the functions' own client included, unchanged: on a
// stack they reach the sandbox through its proxy, which a test process cannot trust after start).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import twilio from 'twilio';
import { SandboxClock } from '../../sandbox/clock';
import { basicAuth, twilioErrorHandler } from '../../sandbox/http';
import { createSyncRouter } from '../../sandbox/rest/sync';
import { MISSING_MAP_CODES, type MissingMapCode } from '../../sandbox/rest/sync/state';
import { rewriteTwilioUrl, SandboxRequestClient } from '../../sandbox/request-client';
import { accountSid } from '../../testing/sids';

export const TEST_ACCOUNT_SID = accountSid(0x0123456789abcdef0123456789abcdefn);
export const TEST_AUTH_TOKEN = 'unit-test-auth-token';

export interface SyncSandbox {
  /** `http://127.0.0.1:<port>`: where the process's `twilio` clients are sent while it runs. */
  url: string;
  /** The real twilio client, talking to this sandbox. */
  client: twilio.Twilio;
  clock: SandboxClock;
  /** How many Sync REST requests the sandbox has answered so far (cost of a read or write). */
  requestCount(): number;
  /** How many of them changed something: any method but GET, answered 2xx (a refused write wrote nothing). */
  writeCount(): number;
  /** The code of the 404 for a missing Map (Twilio gives 20404, 54200 or 54300; see sandbox/README.md). */
  setMissingMapCode(code: MissingMapCode): void;
  /** Forgets every Sync object (call between tests). The missing-Map code stays. */
  reset(): void;
  close(): Promise<void>;
}

export async function startSyncSandbox(
  /** missingMapCode: default SANDBOX_MISSING_MAP_CODE, else 20404 (the sandbox's default). */
  creds: { accountSid?: string; authToken?: string; missingMapCode?: MissingMapCode } = {},
  /** Extra routes (a stub of a REST endpoint a test needs), mounted before Sync. */
  extraRoutes?: (app: express.Express) => void,
): Promise<SyncSandbox> {
  const accountSid = creds.accountSid ?? TEST_ACCOUNT_SID;
  const authToken = creds.authToken ?? TEST_AUTH_TOKEN;
  const clock = new SandboxClock();
  let missingMapCode =
    creds.missingMapCode ?? (Number(process.env.SANDBOX_MISSING_MAP_CODE ?? 20404) as MissingMapCode);
  if (!MISSING_MAP_CODES.includes(missingMapCode))
    throw new Error(`missing-Map code must be one of ${MISSING_MAP_CODES.join(', ')}`);
  const sync = createSyncRouter({ accountSid, clock, missingMapCode: () => missingMapCode });
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(basicAuth({ accountSid, authToken }));
  extraRoutes?.(app);
  let requests = 0;
  let writes = 0;
  app.use('/sync/v1', (req, res, next) => {
    requests++;
    res.on('finish', () => {
      if (req.method !== 'GET' && res.statusCode < 300) writes++;
    });
    next();
  });
  app.use('/sync/v1', sync.router);
  app.use(twilioErrorHandler);
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = twilio(accountSid, authToken, { httpClient: new SandboxRequestClient(url) });
  // Every RequestClient of this module registry (a test file's): the functions' clients too.
  const proto = twilio.RequestClient.prototype;
  // Taken off the prototype to be put back and called with each client as `this`.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const previous = proto.request;
  proto.request = function <T>(this: twilio.RequestClient, opts: Parameters<typeof previous<T>>[0]) {
    return previous.call(this, { ...opts, uri: rewriteTwilioUrl(opts.uri, url) }) as ReturnType<typeof previous<T>>;
  };
  return {
    url,
    client,
    clock,
    requestCount: () => requests,
    writeCount: () => writes,
    setMissingMapCode: (code) => (missingMapCode = code),
    reset: () => sync.reset(),
    close: () =>
      new Promise<void>((resolve) => {
        proto.request = previous;
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
