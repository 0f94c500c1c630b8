// A scratch copy of the project root for the tests that run its own npm scripts (deploy, setup):
// their builds, env files and .twiliodeployinfo never touch the checkout. Sources are linked, the
// scripts and assets copied (a build writes next to them).
import { copyFileSync, cpSync, existsSync, mkdtempSync, realpathSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

/**
 * The scratch root. `linkDist`: use the checkout's build (dist/, from `npm run build`) as it is, for
 * a deploy with `--skip-build`; otherwise the scratch root builds its own.
 */
export function scratchProject(prefix: string, opts: { linkDist?: boolean } = {}): string {
  const work = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  cpSync(join(ROOT, 'scripts'), join(work, 'scripts'), { recursive: true });
  const linked = ['functions', 'lib', 'node_modules', 'sandbox', ...(opts.linkDist ? ['dist'] : [])];
  for (const d of linked) if (existsSync(join(ROOT, d))) symlinkSync(join(ROOT, d), join(work, d), 'dir');
  if (existsSync(join(ROOT, 'assets'))) cpSync(join(ROOT, 'assets'), join(work, 'assets'), { recursive: true });
  for (const f of ['package.json', '.twilioserverlessrc']) copyFileSync(join(ROOT, f), join(work, f));
  return work;
}
