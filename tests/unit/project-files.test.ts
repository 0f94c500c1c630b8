// What the deploy reads beside the code: the runtime, the service name, the dependencies Twilio
// installs. Each must agree with what the docs and the build say.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const rc = JSON.parse(read('.twilioserverlessrc')) as { serviceName?: string; runtime?: string };
const pkg = JSON.parse(read('package.json')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  engines: { node: string };
};

describe('project files', () => {
  it('.nvmrc names the Node major the Functions runtime runs (.twilioserverlessrc runtime)', () => {
    expect(rc.runtime).toMatch(/^node\d+$/);
    expect(`node${read('.nvmrc').trim()}`).toBe(rc.runtime);
  });

  it('names the service, and every example domain in the docs is that service on twil.io', () => {
    expect(rc.serviceName).toMatch(/^[a-z][a-z0-9-]*$/);
    const files = [
      'README.md',
      'CONTRIBUTING.md',
      'assets/openapi.json',
      ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`),
    ];
    const domains = files.flatMap((f) =>
      [...read(f).matchAll(/\b([a-z0-9-]+)-\d{4}-dev\.twil\.io\b/g)].map((m) => m[1]),
    );
    expect(domains.length).toBeGreaterThan(0);
    expect(new Set(domains)).toEqual(new Set([rc.serviceName]));
  });

  it('deploys only what the bundles require at run time: twilio (and the runtime handler)', () => {
    // Everything else (ajv included) is bundled by esbuild into dist/functions; installing it on
    // Twilio again would only slow the build (tests/integration/deploy-set.test.ts checks the bundles).
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['@twilio/runtime-handler', 'twilio']);
    expect(pkg.devDependencies).toHaveProperty('ajv');
  });

  it('engines allow the Node CI runs (util.parseEnv needs 20.12)', () => {
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    expect(pkg.engines.node).toBe('>=20.12');
    expect(major > 20 || (major === 20 && minor >= 12)).toBe(true);
  });

  it.each(['assets/index.html', 'assets/console.html', 'assets/status.html', 'assets/assets/index.html'])(
    '%s (deployed as it is) lets the page connect to no local host',
    (page) => {
      const csp = /http-equiv="Content-Security-Policy"\s+content="([^"]*)"/.exec(read(page))?.[1];
      expect(csp).toMatch(/connect-src 'self' https:\/\/\*\.twilio\.com/);
      expect(csp).not.toMatch(/localhost|127\.0\.0\.1|\[::1\]/);
    },
  );
});
