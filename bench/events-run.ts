// Tables 2, 2b and 2c alone (bench/events.ts, bench/conference-events.ts):
// `npm run build && npx tsx bench/events-run.ts`. BENCH_EVENT_SAMPLES and BENCH_CALLS_PER_KIND make
// it quicker (defaults: the whole bench's); BENCH_ONLY=2c runs Table 2c alone.
import { countConferenceEvents } from './conference-events';
import { countEvents, wholeCalls } from './events';
import { makeSnapshot } from './snapshot';
import { startBenchStack } from './stack';
import { conferenceEventTable, eventTable, wholeCallTable } from './tables';

async function main() {
  const snapshot = await makeSnapshot();
  process.env.CME_DIST_DIR = snapshot.dir;
  const samples = Number(process.env.BENCH_EVENT_SAMPLES ?? 20);
  if (process.env.BENCH_ONLY !== '2c') {
    const b = await startBenchStack(false);
    try {
      const events = await countEvents(b, samples);
      const calls = await wholeCalls(b, Number(process.env.BENCH_CALLS_PER_KIND ?? 10), 3, events);
      process.stdout.write(`${eventTable(events)}\n\n${wholeCallTable(calls)}\n\n`);
    } finally {
      await b.stack.stop();
    }
  }
  // Conference mode is the functions' configuration: a stack of its own.
  const c = await startBenchStack(false, { CONFERENCE_MODE: 'always' });
  try {
    process.stdout.write(`${conferenceEventTable(await countConferenceEvents(c, Math.min(samples, 10)))}\n`);
  } finally {
    await c.stack.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
