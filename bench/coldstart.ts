// Cold start: how long `require(bundle)` takes in a fresh Node process, several times, median.
// Two ways: "fresh" (nothing loaded: what the brief's `node -e` measures, `twilio` included) and
// "runtime" (`twilio` and a client already loaded, as @twilio/runtime-handler's constructGlobalScope
// does before it requires a Function, so only the bundle's own code is timed).
import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { statSync } from 'node:fs';
import { median } from './stats';
import type { Snapshot } from './snapshot';

const SCRIPT = [
  'const file = process.argv[1];',
  "if (process.argv[2] === 'runtime') {",
  "  const twilio = require('twilio');",
  "  new twilio.Twilio('AC00000000000000000000000000000000', '00000000000000000000000000000000', { lazyLoading: true });",
  '}',
  'const t = process.hrtime.bigint();',
  'require(file);',
  'process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6));',
].join('\n');

export interface ColdRow {
  name: string;
  bytes: number;
  freshMs: number;
  runtimeMs: number;
}

function loadOnce(file: string, mode: 'fresh' | 'runtime'): number {
  const r = spawnSync(process.execPath, ['-e', SCRIPT, file, mode], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' },
  });
  if (r.status !== 0) throw new Error(`loading ${file} failed: ${r.stderr}`);
  return Number(r.stdout);
}

export interface ColdStart {
  rows: ColdRow[];
  /** Fresh-process load time of each part of twilio on its own. */
  twilioParts: { module: string; freshMs: number }[];
}

export function measureColdStart(snapshot: Snapshot, runs: number): ColdStart {
  const files = [
    snapshot.empty,
    snapshot.emptyWithTwilio,
    ...snapshot.bundles.filter((b) => b !== 'empty.js').map((b) => `${snapshot.functionsDir}/${b}`),
  ];
  const samples = new Map<string, { fresh: number[]; runtime: number[] }>(
    files.map((f) => [f, { fresh: [], runtime: [] }]),
  );
  const parts = new Map(snapshot.twilioParts.map((p) => [p.file, [] as number[]]));
  // Round-robin over the files so drift in machine load hits them all alike.
  for (let run = 0; run < runs; run++) {
    for (const file of files) {
      samples.get(file)!.fresh.push(loadOnce(file, 'fresh'));
      samples.get(file)!.runtime.push(loadOnce(file, 'runtime'));
    }
    for (const [file, times] of parts) times.push(loadOnce(file, 'fresh'));
  }
  const rows = files.map((file) => ({
    name: file === snapshot.emptyWithTwilio ? 'empty + require("twilio")' : basename(file),
    bytes: statSync(file).size,
    freshMs: median(samples.get(file)!.fresh),
    runtimeMs: median(samples.get(file)!.runtime),
  }));
  return {
    rows,
    twilioParts: snapshot.twilioParts.map((p) => ({ module: p.module, freshMs: median(parts.get(p.file)!) })),
  };
}
