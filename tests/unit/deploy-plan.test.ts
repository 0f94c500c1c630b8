// What `npm run deploy` deploys (scripts/deploy/plan.ts): the env file minus the sandbox's own
// variables, the plan against the deployed environment, and the env file twilio-run reads back.
import { deployEnv, envFileText, isSandboxOnly, planVariables } from '../../scripts/deploy/plan';

// twilio-run's own parser of the file it deploys (dotenv 6, its dependency).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dotenv = require(require.resolve('dotenv', { paths: [require.resolve('twilio-run')] })) as {
  parse(text: string): Record<string, string>;
};

describe('deployEnv', () => {
  it('leaves out the credentials, the sandbox-only variables and the empty ones', () => {
    const { env, dropped } = deployEnv({
      ACCOUNT_SID: 'AC…',
      AUTH_TOKEN: 'secret',
      CLIENT_IDENTITY: 'alice',
      TOKEN_SECRET: '',
      TWILIO_SANDBOX_URL: 'http://127.0.0.1:3001',
      SANDBOX_GATEWAY: 'wss://localhost:3002/signal',
      SANDBOX_PROFILE: 'realistic',
      HTTP_PROXY: 'http://127.0.0.1:4000',
      https_proxy: 'http://127.0.0.1:4000',
      NODE_EXTRA_CA_CERTS: '/tmp/ca.pem',
      PORT: '3000',
    });
    expect(env).toEqual({ CLIENT_IDENTITY: 'alice' });
    expect(dropped.empty).toEqual(['TOKEN_SECRET']);
    expect(dropped.sandboxOnly.sort()).toEqual(
      [
        'HTTP_PROXY',
        'NODE_EXTRA_CA_CERTS',
        'PORT',
        'SANDBOX_GATEWAY',
        'SANDBOX_PROFILE',
        'TWILIO_SANDBOX_URL',
        'https_proxy',
      ].sort(),
    );
  });

  it('knows every variable the sandbox stack gives the functions that is not the deployment’s', () => {
    for (const key of ['TWILIO_SANDBOX_URL', 'SANDBOX_GATEWAY', 'HTTP_PROXY', 'NODE_EXTRA_CA_CERTS'])
      expect(isSandboxOnly(key)).toBe(true);
    for (const key of ['CLIENT_IDENTITY', 'PUBLIC_BASE_URL', 'SYNC_SERVICE_SID', 'API_KEY_SID'])
      expect(isSandboxOnly(key)).toBe(false);
  });
});

describe('planVariables', () => {
  it('names what is added, changed, removed and unchanged, and never removes the credentials', () => {
    const plan = planVariables({ A: '1', B: '2', C: '3' }, [
      { key: 'B', value: '2' },
      { key: 'C', value: 'old' },
      { key: 'GONE', value: 'x' },
      { key: 'AUTH_TOKEN', value: 'y' },
    ]);
    expect(plan).toEqual({ added: ['A'], changed: ['C'], removed: ['GONE'], unchanged: ['B'] });
  });
});

describe('envFileText', () => {
  it('writes values twilio-run reads back exactly', () => {
    const vars = {
      PLAIN: 'alice',
      HASH: 'a # not a comment',
      DOUBLE: '"quoted"',
      SINGLE: "'quoted'",
      ONE_SIDED: '"open',
      OTHER_SIDE: "close'",
      MIXED: `'both"`,
      EQUALS: 'a=b=c',
      MULTI: 'line 1\nline 2',
      JSON: '{"a": [1, 2]}',
      MULTI_QUOTED: '"line 1\nline 2\'',
    };
    expect(dotenv.parse(envFileText(vars))).toEqual(vars);
  });

  it('refuses what it cannot write faithfully', () => {
    expect(() => envFileText({ 'BAD KEY': 'x' })).toThrow(/BAD KEY/);
    expect(() => envFileText({ X: "it's\nliteral \\n" })).toThrow(/X/);
    expect(() => envFileText({ PADDED: '  padded  ' })).toThrow(/PADDED: its value has spaces at an end/);
    expect(() => envFileText({ CR: 'a\r\nb' })).toThrow(/CR/);
  });
});
