// How every Function is bundled (the build, and the benchmark's extra functions): one
// self-contained CommonJS file for Node 20+, `twilio` left to the Functions runtime.
export const FUNCTION_BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['twilio', 'twilio/*'],
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
};

/** Where the build keeps the functions' source maps: beside dist/functions, never deployed. */
export const SOURCE_MAP_DIR = 'sourcemaps/functions';

/**
 * Bundles `entryPoints` into `<dist>/functions`, each with a source map in `<dist>/sourcemaps/functions`
 * (sources relative to it, their text included). A bundle ends with a sourceMappingURL to its map:
 * local runs with --enable-source-maps (the sandbox stack) log TypeScript positions; a deployed
 * bundle (its map not uploaded: .twilioserverlessrc deploys dist/functions and dist/assets only)
 * stays its size, and `npm run map-stack` maps the positions its logs show.
 */
export async function buildFunctions(entryPoints, dist, options = FUNCTION_BUNDLE_OPTIONS) {
  const { build } = await import('esbuild');
  const { mkdirSync, readFileSync, writeFileSync } = await import('node:fs');
  const { basename, dirname, join, relative, resolve } = await import('node:path');
  const outDir = join(dist, 'functions');
  const mapDir = join(dist, SOURCE_MAP_DIR);
  mkdirSync(outDir, { recursive: true });
  mkdirSync(mapDir, { recursive: true });
  // package.json's version, baked in: what /operator-status reports as deployed (lib/platform/version.ts).
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const define = { ...options.define, __CME_VERSION__: JSON.stringify(version) };
  const result = await build({
    entryPoints,
    outdir: outDir,
    ...options,
    define,
    sourcemap: 'external',
    write: false,
  });
  for (const file of result.outputFiles) {
    const name = basename(file.path);
    if (name.endsWith('.map')) {
      const map = JSON.parse(file.text);
      map.sources = map.sources.map((source) => relative(mapDir, resolve(dirname(file.path), source)));
      writeFileSync(join(mapDir, name), JSON.stringify(map));
    } else {
      const url = `${relative(outDir, mapDir).split('\\').join('/')}/${name}.map`;
      writeFileSync(join(outDir, name), `${file.text}//# sourceMappingURL=${url}\n`);
    }
  }
  return result;
}
