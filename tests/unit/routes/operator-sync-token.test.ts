// /operator-sync-token: a Sync access token for the console's live channel, only with an operator
// session, never outliving it, and naming the sandbox's endpoints only in the sandbox.
import { readConfig } from '../../../lib/platform/config';
import type { RouteContext } from '../../../lib/http/function-handler';
import { routeLog } from '../../../lib/platform/log';
import { issueSession } from '../../../lib/auth/sessions';
import { operatorSyncToken } from '../../../lib/routes/operator';
import type { OperatorSyncToken } from '../../../lib/shared/api-types';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../../support/sync-sandbox';

const OPERATOR_SECRET = 'operator-secret-for-unit-tests-0123456789';
const API_KEY_SID = `SK${'1'.repeat(32)}`;

function context(env: Record<string, string>, session?: string): RouteContext {
  const config = readConfig({
    ACCOUNT_SID: TEST_ACCOUNT_SID,
    AUTH_TOKEN: TEST_AUTH_TOKEN,
    OPERATOR_SECRET,
    API_KEY_SID,
    API_KEY_SECRET: 'api-key-secret-for-unit-tests',
    ...env,
  });
  return {
    event: { request: { headers: {} } },
    headers: session ? { authorization: `Bearer ${session}` } : {},
    config,
    base: 'https://example.test',
    deadline: Date.now() + 9_000,
    client: () => {
      throw new Error('no Twilio request expected');
    },
    store: () => {
      throw new Error('no Sync request expected');
    },
    log: routeLog('/operator-sync-token'),
  };
}

const claims = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
    iss: string;
    sub: string;
    exp: number;
    grants: { identity: string; data_sync?: { service_sid?: string } };
  };

describe('/operator-sync-token', () => {
  it('refuses a request without an operator session', () => {
    expect(() => operatorSyncToken(context({}))).toThrow(expect.objectContaining({ code: 'operator-session-invalid' }));
  });

  it('gives the session a Sync token for identity operator, ending no later than the session', () => {
    const { session, expiresAt } = issueSession(TEST_AUTH_TOKEN, OPERATOR_SECRET, Date.now() - 1_800_000);
    const res = operatorSyncToken(context({}, session));
    const body = (res as { json: OperatorSyncToken }).json;
    expect(res.status).toBe(200);
    expect(body.identity).toBe('operator');
    expect(body.sandbox).toBeUndefined();
    const c = claims(body.token);
    expect(c).toMatchObject({ iss: API_KEY_SID, sub: TEST_ACCOUNT_SID, grants: { identity: 'operator' } });
    // The default service: no service named (the grant's default); a session half over: half an hour.
    expect(c.grants.data_sync).toEqual({});
    expect(c.exp).toBeLessThanOrEqual(Date.parse(expiresAt) / 1000 + 1);
    expect(body.ttl).toBeLessThanOrEqual(1800);
  });

  it('names the service when SYNC_SERVICE_SID is set, and the sandbox endpoints only in the sandbox', () => {
    const { session } = issueSession(TEST_AUTH_TOKEN, OPERATOR_SECRET);
    const service = `IS${'2'.repeat(32)}`;
    const sandboxEnv = { SYNC_SERVICE_SID: service, SANDBOX_TWILSOCK_URL: 'ws://127.0.0.1:3001/v3/wsconnect' };
    const res = operatorSyncToken(context({ ...sandboxEnv, DOMAIN_NAME: 'localhost:3000' }, session));
    const body = (res as { json: OperatorSyncToken }).json;
    expect(claims(body.token).grants.data_sync).toEqual({ service_sid: service });
    expect(body.sandbox).toEqual({ twilsock: 'ws://127.0.0.1:3001/v3/wsconnect', cds: 'https://cds.sandbox.invalid' });
    // A deployed Function never names a sandbox, whatever its environment holds.
    const deployed = operatorSyncToken(context({ ...sandboxEnv, DOMAIN_NAME: 'cme-1234-dev.twil.io' }, session));
    expect((deployed as { json: OperatorSyncToken }).json.sandbox).toBeUndefined();
  });
});
