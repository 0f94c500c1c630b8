// Every command in scripts/ answers --help (exit 0, its usage on stdout) and refuses an unknown
// option (exit 1, the problem and the usage on stderr); `npm run send-message` with nothing
// listening names the URL it could not reach.
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

jest.setTimeout(30_000);

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules/tsx/dist/cli.mjs');

function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      args,
      { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, timeout: 20_000 },
      (err, stdout, stderr) => done({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const COMMANDS: [string, string[]][] = [
  ['npm run send-message', [TSX, 'scripts/send-message.ts']],
  ['npm run wire', [TSX, 'scripts/wire.ts']],
  ['npm run deploy', [TSX, 'scripts/deploy.ts']],
  ['npm start', [TSX, 'scripts/start.ts']],
  ['npm run openapi', [TSX, 'scripts/openapi.ts']],
  ['tsx scripts/example-backend.ts', [TSX, 'scripts/example-backend.ts']],
  ['npm run build', ['scripts/build.mjs']],
  ['npm run map-stack', [TSX, 'scripts/map-stack.ts']],
];

describe('the scripts’ command lines', () => {
  it.each(COMMANDS)('%s --help prints its usage and exits 0', async (name, command) => {
    const help = await run([...command, '--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toContain(`Usage: ${name}`);
  });

  it.each(COMMANDS)('%s refuses an unknown option with its usage (exit 1)', async (name, command) => {
    const bad = await run([...command, '--frobnicate']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("Unknown option '--frobnicate'");
    expect(bad.stderr).toContain(`Usage: ${name}`);
  });

  it('npm run send-message names the URL it could not reach', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const res = await run([TSX, 'scripts/send-message.ts', '--call', `CA${'0'.repeat(32)}`, '{"a":1}'], {
      FUNCTIONS_URL: `http://127.0.0.1:${port}`,
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`Could not reach http://127.0.0.1:${port}/`);
    expect(res.stderr).toContain('FUNCTIONS_URL');
  });
});
