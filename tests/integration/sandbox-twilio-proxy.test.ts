// Twilio's hostnames, locally: unmodified Twilio tools (twilio-node's RequestClient,
// @twilio-labs/serverless-api's got client) reach the sandbox through its proxy with nothing but
// HTTP_PROXY and NODE_EXTRA_CA_CERTS, each in a Node process of its own (NODE_EXTRA_CA_CERTS is
// read when a process starts).
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { startSandbox, type Sandbox } from '../../sandbox/app';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ profile: 'deterministic' });
});

afterAll(async () => {
  await sandbox.close();
});

/** Runs `script` (CommonJS, in the project root) in a fresh Node with `env` added; its stdout. */
function node(script: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ['-e', script],
      { cwd: `${__dirname}/../..`, env: { ...process.env, HTTPS_PROXY: '', ...env }, timeout: 30_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim())),
    ),
  );
}

/** What the proxy answers to `CONNECT <target>`: the status line. */
function connectLine(target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(sandbox.twilioProxy.port, '127.0.0.1', () =>
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`),
    );
    socket.once('data', (chunk) => {
      resolve(chunk.toString('latin1').split('\r\n')[0] ?? '');
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

describe('the Twilio proxy', () => {
  it('serves api., serverless. and serverless-upload.twilio.com to the unmodified twilio client', async () => {
    const out = await node(
      `const twilio = require('twilio');
       const c = twilio(${JSON.stringify(sandbox.accountSid)}, ${JSON.stringify(sandbox.authToken)});
       (async () => {
         const svc = await c.serverless.v1.services.create({ uniqueName: 'proxied', friendlyName: 'proxied' });
         const numbers = await c.incomingPhoneNumbers.list();
         const map = await c.sync.v1.services('default').syncMaps.create({ uniqueName: 'proxied' });
         console.log(JSON.stringify({ svc: svc.uniqueName, numbers: numbers.map((n) => n.phoneNumber), map: map.uniqueName }));
       })().catch((e) => { console.error(e); process.exit(1); });`,
      sandbox.twilioProxy.env,
    );
    expect(JSON.parse(out)).toEqual({ svc: 'proxied', numbers: [sandbox.phoneNumber], map: 'proxied' });
    expect(sandbox.twilioProxy.connects.filter((c) => c.allowed).map((c) => c.host)).toEqual(
      expect.arrayContaining(['serverless.twilio.com', 'api.twilio.com', 'sync.twilio.com']),
    );
  });

  it('serves @twilio-labs/serverless-api (hpagent), uploads to serverless-upload included', async () => {
    const out = await node(
      `const { TwilioServerlessApiClient } = require('@twilio-labs/serverless-api');
       const api = new TwilioServerlessApiClient({ username: ${JSON.stringify(sandbox.accountSid)}, password: ${JSON.stringify(sandbox.authToken)} });
       api.deployProject({
         serviceName: 'labs', functionsEnv: 'dev', env: { A: '1' }, pkgJson: { dependencies: { twilio: '^6' } }, runtime: 'node22',
         functions: [{ name: 'hi', path: '/hi', access: 'public', content: 'exports.handler = () => {};', filePath: 'hi.js' }],
         assets: [{ name: 'a.txt', path: '/a.txt', access: 'private', content: 'text', filePath: 'a.txt' }],
       }).then((r) => console.log(JSON.stringify({ domain: r.domain, service: r.serviceName })),
               (e) => { console.error(e); process.exit(1); });`,
      sandbox.twilioProxy.env,
    );
    const state = sandbox.serverless.state;
    const svc = [...state.services.values()].find((s) => s.uniqueName === 'labs');
    expect(JSON.parse(out)).toEqual({ domain: `${svc?.domainBase}-dev.twil.io`, service: 'labs' });
    expect([...state.versions.values()].map((v) => [v.path, v.visibility]).sort()).toEqual([
      ['/a.txt', 'private'],
      ['/hi', 'public'],
    ]);
    expect(sandbox.twilioProxy.connects.map((c) => c.host)).toContain('serverless-upload.twilio.com');
  });

  it('refuses every host that is not Twilio, and a port that is not 443', async () => {
    expect(await connectLine('example.com:443')).toBe('HTTP/1.1 403 Forbidden');
    expect(await connectLine('api.twilio.com.example.com:443')).toBe('HTTP/1.1 403 Forbidden');
    expect(await connectLine('api.twilio.com:80')).toBe('HTTP/1.1 403 Forbidden');
    expect(await connectLine('nonsense')).toBe('HTTP/1.1 400 Bad Request');
    const plain = await fetch(`${sandbox.twilioProxy.url}/2010-04-01/Accounts.json`);
    expect(plain.status).toBe(400);
  });

  it('survives a client that speaks no TLS in the tunnel, and one that hangs up', async () => {
    await new Promise<void>((resolve) => {
      const socket = connect(sandbox.twilioProxy.port, '127.0.0.1', () =>
        socket.write('CONNECT api.twilio.com:443 HTTP/1.1\r\nHost: api.twilio.com:443\r\n\r\nGET / HTTP/1.1\r\n\r\n'),
      );
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
      socket.on('data', () => undefined);
    });
    // A TLS client that does not trust the CA is refused by its own side; the proxy goes on.
    await new Promise<void>((resolve) => {
      const socket = connect(sandbox.twilioProxy.port, '127.0.0.1', () =>
        socket.write('CONNECT api.twilio.com:443 HTTP/1.1\r\nHost: api.twilio.com:443\r\n\r\n'),
      );
      socket.once('data', () => {
        const tls = tlsConnect({ socket, servername: 'api.twilio.com' });
        tls.on('error', () => resolve());
        tls.on('secureConnect', () => resolve());
      });
    });
    expect(await connectLine('sync.twilio.com:443')).toBe('HTTP/1.1 200 Connection Established');
  });
});
