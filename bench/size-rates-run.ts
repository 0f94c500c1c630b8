// Table 10 alone (bench/size-rates.ts): `npm run build && npx tsx bench/size-rates-run.ts`.
// BENCH_SIZES=chars:messagesEachWay,… picks the sizes; SANDBOX_SYNC_OVER_1KIB (writes/s or
// by-size) measures under another reading of Sync's limit over 1 KiB.
import { makeSnapshot } from './snapshot';
import { startBenchStack } from './stack';
import { measureSizeRates } from './size-rates';
import { sizeRateTable } from './tables';

async function main() {
  const snapshot = await makeSnapshot();
  process.env.CME_DIST_DIR = snapshot.dir;
  const b = await startBenchStack(false);
  try {
    const over1KiB = process.env.SANDBOX_SYNC_OVER_1KIB;
    if (over1KiB)
      await b.control.knobs({
        sync: { writeLimits: { over1KiB: over1KiB === 'by-size' ? over1KiB : Number(over1KiB) } },
      });
    const chars = (process.env.BENCH_SIZES ?? '1000:80,5000:80,10000:80').split(',').map((pair) => {
      const [size = '', count = ''] = pair.split(':');
      return { chars: Number(size), messagesEachWay: Number(count) };
    });
    const rows = await measureSizeRates(b, { inFlight: 4, sizes: chars }, (s) => process.stderr.write(`${s}\n`));
    process.stdout.write(`${sizeRateTable(rows)}\n`);
  } finally {
    await b.stack.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
