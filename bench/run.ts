// `npm run bench`: the functions' performance against the local sandbox, in one run, printed as
// markdown tables (stdout, and tmp/bench-tables.md). BENCHMARKS.md holds the latest tables with the
// prose that reads them, written by hand. Not part of `npm test`. Tables:
//   1. per route: p50/p99 and throughput next to an empty function served by the same twilio-run and
//      next to that floor plus the route's own Twilio round trips (--no-fork-process; 1c forking)
//   2. Twilio REST requests per event, counted by the sandbox (2b: whole calls add up; 2c: conference
//      mode's events, on a stack of its own with CONFERENCE_MODE=always)
//   3. cold start: loading each bundle in a fresh Node process, and bundle sizes
//   4. scale: 1,000 calls, 100 at once, 20 messages each way
//   6. the first SDK message, sent at accept + t (issue #11): quiet, realistic profile, under load
//   7. history: one /call-messages page at 10 to 5,000 messages (issue #13)
//   8. forwarding to the app's backend: what it adds to /message-callback (issue #14)
//   9. the operator console in Chromium: render time and Sync reads per refresh (issue #13)
//  10. sustained messages/s per leg by message size under Sync's write limits by size (issue #20;
//      alone: `npx tsx bench/size-rates-run.ts` after `npm run build`)
//  11. the operator console per idle hour and store → screen, live over Sync (issue #23; alone:
//      `npx tsx bench/console-live.ts` after `npm run build`)
import { execSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { measureColdStart } from './coldstart';
import { consoleLiveTable, measureConsoleLive } from './console-live';
import { consoleRenderTable, measureConsoleRender } from './console-render';
import { countConferenceEvents } from './conference-events';
import { countEvents, E, wholeCalls, type EventRow } from './events';
import { forwardingTable, measureForwarding } from './forwarding';
import { firstMessagesLoaded, firstMessagesQuiet, prepareProbes, type LegOutcome } from './first-message';
import { measureHistory } from './history';
import { benchRoutes } from './routes';
import { runScale, type ScaleResult } from './scale';
import { measureSizeRates } from './size-rates';
import { makeSnapshot, ROOT } from './snapshot';
import { startBenchStack, type BenchStack } from './stack';
import { markdownTable } from './stats';
import * as T from './tables';

/** The whole `npm run bench` must fit 8 minutes on 2 cores; the scale run gets what is left. */
const BUDGET_MS = 8 * 60_000;
/** The least time the scale run gets, whatever the tables before it took. */
const SCALE_MIN_MS = 90_000;
const SETTINGS = {
  concurrency: 8,
  noFork: { n: 1000, warmup: 100, warmupRounds: 3, legs: 64 },
  fork: { n: 24, warmup: 8, warmupRounds: 1, legs: 8 },
  events: { samples: 20, callsPerKind: 10, messagesPerLeg: 3, conferenceSamples: 10 },
  cold: { runs: 5 },
  scale: { calls: 1000, concurrency: 100, messages: 20, messageIntervalMs: 125 },
  firstMessage: { quietPerCell: 8, realisticPerCell: 4, loadedPerCell: 5, loadedWorkers: 2 },
  history: { lengths: [10, 100, 1000, 5000], pageSize: 100, samples: 30 },
  forwarding: { samples: 30 },
  console: { repeats: 5 },
  consoleLive: { legs: 20, idleSeconds: 60, messages: 20, calls: 10 },
  sizeRates: {
    inFlight: 4,
    sizes: [
      { chars: 1_000, messagesEachWay: 80 },
      { chars: 5_000, messagesEachWay: 80 },
      { chars: 10_000, messagesEachWay: 80 },
    ],
  },
};

const t0 = performance.now();
const log = (s: string) =>
  process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${s}\n`);

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  let nproc = String(cpus().length);
  try {
    nproc = execSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    // keep os.cpus()
  }
  return { nproc, model, node: process.version, memoryGb: (totalmem() / 2 ** 30).toFixed(1) };
}

const loadText = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');

async function withStack<T>(
  fork: boolean,
  body: (b: BenchStack) => Promise<T>,
  env: Record<string, string> = {},
): Promise<T> {
  const b = await startBenchStack(fork, env);
  try {
    return await body(b);
  } finally {
    await b.stack.stop();
  }
}

/** What Table 2's counts add up to per call of the scale run's mix, 20 messages each way and one page read. */
function scaleExpected(events: EventRow[], s: ScaleResult): number {
  const ev = (name: string) => events.find((e) => e.event === name)?.typical ?? NaN;
  const into = ev(E.childInitiated) + ev(E.childRinging) + ev(E.childInProgress) + ev(E.childCompleted);
  const out = ev(E.parentInitiated) + ev(E.parentRinging) + ev(E.parentInProgress) + ev(E.parentCompleted);
  const page = events.find((e) => e.event.startsWith('/call-messages'))?.typical ?? NaN;
  const calls = s.callsIn + s.callsOut;
  return (s.callsIn * into + s.callsOut * out) / calls + s.messagesEachWay * (ev(E.message) + ev(E.send)) + page;
}

async function main() {
  const m = machine();
  const startedAt = new Date();
  const loadAtStart = loadText();
  log(`machine: ${m.nproc} cores, ${m.model}, node ${m.node}; load ${loadAtStart}`);
  const snapshot = await makeSnapshot();
  // twilio-run serves the snapshot (dist + the floors), so a rebuild of dist/ meanwhile cannot disturb it.
  process.env.CME_DIST_DIR = snapshot.dir;

  log('3. cold start');
  const cold = measureColdStart(snapshot, SETTINGS.cold.runs);

  log('1. routes, --no-fork-process');
  const quiet = await withStack(false, async (b) => {
    const noFork = await benchRoutes(
      b,
      { ...SETTINGS.noFork, concurrency: SETTINGS.concurrency, clientFloor: true },
      log,
    );
    log('2. Twilio requests per event');
    const events = await countEvents(b, SETTINGS.events.samples);
    const calls = await wholeCalls(b, SETTINGS.events.callsPerKind, SETTINGS.events.messagesPerLeg, events);
    log('7. history pages');
    const history = await measureHistory(b, SETTINGS.history);
    log('9. the operator console in Chromium');
    const consoleRender = await measureConsoleRender(b, SETTINGS.console);
    log('6. first message, one call at a time');
    const prober = await prepareProbes(b);
    const firstQuiet = await firstMessagesQuiet(b, prober, SETTINGS.firstMessage.quietPerCell);
    log('6. first message, one call at a time, realistic profile');
    await b.control.knobs({ profile: 'realistic' });
    const firstRealistic = await firstMessagesQuiet(b, prober, SETTINGS.firstMessage.realisticPerCell);
    await b.control.knobs({ profile: 'deterministic' });
    return { noFork, events, calls, history, consoleRender, firstQuiet, firstRealistic };
  });

  log('2c. Twilio requests per conference event (CONFERENCE_MODE=always)');
  const conferenceEvents = await withStack(false, (b) => countConferenceEvents(b, SETTINGS.events.conferenceSamples), {
    CONFERENCE_MODE: 'always',
  });

  log('1. routes, forking (twilio-run default)');
  const fork = await withStack(true, (b) =>
    benchRoutes(b, { ...SETTINGS.fork, concurrency: SETTINGS.concurrency, clientFloor: false }, log),
  );

  log("10. messages/s per leg by size, under Sync's write limits by size");
  const sizeRates = await withStack(false, (b) => measureSizeRates(b, SETTINGS.sizeRates, log));

  log('11. the operator console, live over Sync');
  const consoleLive = await withStack(false, (b) => measureConsoleLive(b, SETTINGS.consoleLive));

  log('8. forwarding to the app backend');
  const forwarding = await measureForwarding(SETTINGS.forwarding.samples);

  // On a busy machine the tables before it can use up the whole run's budget: the scale run still
  // gets SCALE_MIN_MS (the whole-bench row then shows the overrun) rather than starting no call.
  const remaining = Math.max(SCALE_MIN_MS, BUDGET_MS - (performance.now() - t0) - 30_000);
  log(`4. scale with 6's probes alongside (budget ${(remaining / 1000).toFixed(0)} s)`);
  const { scale, firstLoaded, loadedFailures } = await withStack(false, async (b) => {
    const { loadedPerCell, loadedWorkers } = SETTINGS.firstMessage;
    const prober = await prepareProbes(b, loadedWorkers);
    let probes: ReturnType<typeof firstMessagesLoaded> | undefined;
    let done: { legs: LegOutcome[]; failures: string[] } = { legs: [], failures: [] };
    const scale = await runScale(b, {
      ...SETTINGS.scale,
      budgetMs: Math.min(remaining, 300_000),
      progress: log,
      registerInbound: false,
      alongside: {
        start: () => (probes = firstMessagesLoaded(prober, loadedPerCell, loadedWorkers)),
        stop: async () => {
          done = (await probes?.stop()) ?? done;
          return done.legs.map((l) => l.callSid);
        },
      },
    });
    return { scale, firstLoaded: done.legs, loadedFailures: done.failures };
  });
  const runMs = performance.now() - t0;

  const { noFork, events, calls, history, consoleRender, firstQuiet, firstRealistic } = quiet;
  const allFirst = [...firstQuiet, ...firstRealistic, ...firstLoaded];
  const sections: [string, string][] = [
    [
      'Run',
      markdownTable(
        ['measure', 'value'],
        [
          ['command', '`npm run bench` (`npm run build && tsx bench/run.ts`)'],
          ['started', startedAt.toISOString()],
          ['machine', `${m.nproc} cores (\`nproc\`), ${m.model}, ${m.memoryGb} GB; Node ${m.node}`],
          ['load average (1/5/15 min) at start / end', `${loadAtStart} / ${loadText()}`],
          ['bench/run.ts time (build excluded)', `${(runMs / 1000).toFixed(0)} s`],
        ],
      ),
    ],
    [`1. Routes at concurrency ${SETTINGS.concurrency}, --no-fork-process`, T.routeTable(noFork)],
    ['1b. Where the time goes (--no-fork-process)', T.whereTimeGoes(noFork)],
    ["1c. Routes with twilio-run's default forking", T.routeTable(fork)],
    ['2. Twilio REST requests per event', T.eventTable(events)],
    ['2b. Whole calls through the call engine', T.wholeCallTable(calls)],
    ['2c. Twilio REST and Sync requests per conference event', T.conferenceEventTable(conferenceEvents)],
    ['3. Cold start and bundle sizes', T.coldTable(cold.rows)],
    ['3b. The parts of twilio, each alone in a fresh process', T.twilioPartsTable(cold)],
    [
      `4. Scale: ${SETTINGS.scale.calls} calls, ${SETTINGS.scale.concurrency} at once, ${SETTINGS.scale.messages} messages each way`,
      T.scaleTable(scale, scaleExpected(events, scale), BUDGET_MS),
    ],
    ['6a. First message at accept + t: one call at a time', T.firstMessageTable(firstQuiet)],
    ['6b. First message at accept + t: one call at a time, profile realistic', T.firstMessageTable(firstRealistic)],
    [
      `6c. First message at accept + t: under the scale run's load (${loadedFailures.length} probe calls failed${loadedFailures[0] ? `; first: ${loadedFailures[0].slice(0, 100)}` : ''})`,
      T.firstMessageTable(firstLoaded),
    ],
    [
      `6d. Drops the sandbox counted vs the send answers' \`dropped\` (all of 6): mismatches`,
      String(T.dropMismatches(allFirst)),
    ],
    [
      `7. History: one /call-messages page (pageSize ${SETTINGS.history.pageSize}), ${SETTINGS.history.samples} reads of each`,
      T.historyTable(history),
    ],
    [
      `8. Forwarding to the app backend (example backend on this machine): ${SETTINGS.forwarding.samples} callbacks each, one at a time`,
      forwardingTable(forwarding),
    ],
    [
      `9. The operator console in Chromium (${SETTINGS.console.repeats} of each; a render's own measure, layout included)`,
      consoleRenderTable(consoleRender),
    ],
    [
      `10. Sustained messages/s on one leg by message size, under Sync's write limits by size (${SETTINGS.sizeRates.inFlight} in flight each way)`,
      T.sizeRateTable(sizeRates),
    ],
    [
      `11. The operator console per idle console-hour (${SETTINGS.consoleLive.legs} calls listed, ${SETTINGS.consoleLive.idleSeconds} s idle measured) and store → screen`,
      consoleLiveTable(consoleLive),
    ],
  ];
  const text = sections.map(([title, table]) => `### ${title}\n\n${table}\n`).join('\n');
  mkdirSync(join(ROOT, 'tmp'), { recursive: true });
  writeFileSync(join(ROOT, 'tmp', 'bench-tables.md'), text);
  process.stdout.write(text);
  log(`done in ${(runMs / 1000).toFixed(0)} s; tables in tmp/bench-tables.md`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
