// npm run map-stack < log.txt: rewrites each `<function>.js:line:column` of a stack trace (as a
// deployed Function's logs show it) into the TypeScript file and line it came from, with the
// source maps the build left in dist/sourcemaps/functions. Map with the build you deployed.
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { parseCommandLine } from './cli';

const ROOT = join(__dirname, '..');
const USAGE = `Usage: npm run map-stack [-- --maps DIR] < stack.txt
Reads a stack trace on stdin and prints it with each <function>.js:line:column of the function
bundles mapped to the TypeScript source (lib/…/x.ts:line:column); other lines pass unchanged.
  --maps DIR   the source maps of the build that was deployed (default: dist/sourcemaps/functions)`;

const cache = new Map<string, SourceMap | undefined>();

function mapOf(dir: string, bundle: string): SourceMap | undefined {
  const path = join(dir, `${bundle}.map`);
  if (!cache.has(path)) {
    cache.set(
      path,
      existsSync(path) ? new SourceMap(JSON.parse(readFileSync(path, 'utf8')) as SourceMapPayload) : undefined,
    );
  }
  return cache.get(path);
}

/** `text` with every `<name>.js:L:C` that a map in `dir` knows replaced by its source position. */
export function mapStack(text: string, dir: string): string {
  return text.replace(
    /(?:[^\s()]*\/)?([\w.-]+\.js):(\d+):(\d+)/g,
    (whole, bundle: string, line: string, column: string) => {
      const entry = mapOf(dir, bundle)?.findEntry(Number(line) - 1, Number(column) - 1);
      if (!entry || !('originalSource' in entry) || !entry.originalSource) return whole;
      const source = relative(ROOT, resolve(dir, entry.originalSource.replace(/^file:\/\//, '')));
      return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
    },
  );
}

if (require.main === module) {
  const { values } = parseCommandLine(USAGE, { maps: { type: 'string' } });
  const dir = resolve(values.maps ?? join(ROOT, 'dist/sourcemaps/functions'));
  if (!existsSync(dir)) {
    console.error(`No source maps at ${dir}: run npm run build (the same code you deployed) first.`);
    process.exit(1);
  }
  process.stdout.write(mapStack(readFileSync(0, 'utf8'), dir));
}
