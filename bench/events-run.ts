// Tables 2 and 2b alone (bench/events.ts): `npm run build && npx tsx bench/events-run.ts`.
// BENCH_EVENT_SAMPLES and BENCH_CALLS_PER_KIND make it quicker (defaults: the whole bench's).
import { countEvents, wholeCalls } from './events';
import { makeSnapshot } from './snapshot';
import { startBenchStack } from './stack';
import { eventTable, wholeCallTable } from './tables';

async function main() {
  const snapshot = await makeSnapshot();
  process.env.CME_DIST_DIR = snapshot.dir;
  const b = await startBenchStack(false);
  try {
    const samples = Number(process.env.BENCH_EVENT_SAMPLES ?? 20);
    const events = await countEvents(b, samples);
    const calls = await wholeCalls(b, Number(process.env.BENCH_CALLS_PER_KIND ?? 10), 3, events);
    process.stdout.write(`${eventTable(events)}\n\n${wholeCallTable(calls)}\n`);
  } finally {
    await b.stack.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
