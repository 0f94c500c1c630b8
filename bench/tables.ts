// The benchmark's tables, as markdown. Numbers and checks only: what they mean is written by hand
// in BENCHMARKS.md.
import type { ColdRow, ColdStart } from './coldstart';
import type { ConferenceEventRow } from './conference-events';
import type { CallKindRow, EventRow } from './events';
import { FIRST_MESSAGE_DELAYS_MS, SITUATIONS, type LegOutcome, type Situation } from './first-message';
import type { HistoryRow, PageCost } from './history';
import type { RouteRow } from './routes';
import type { ScaleResult } from './scale';
import type { SizeRateRow } from './size-rates';
import { int, markdownTable, mark, ms, percentile, ratio } from './stats';
import { CONSOLE_INDEX_SHARDS } from '../lib/shared/sync-names';

export const P50_TARGET = 1.5;
export const P99_TARGET = 3;
export const routeMet = (r: RouteRow) =>
  r.unexpected === 0 && r.p50 / r.floorP50 <= P50_TARGET && r.p99 / r.floorP99 <= P99_TARGET;
const tripsPerRequest = (r: RouteRow) => r.roundTrips.reduce((a, t) => a + t.perRequest, 0);

export function routeTable(rows: RouteRow[]): string {
  return markdownTable(
    [
      'route',
      'p50 ms',
      'p99 ms',
      'req/s',
      'empty p50',
      'empty p99',
      'empty req/s',
      'p50 ÷ empty',
      'Twilio round trips/req',
      'as Table 2 (k)',
      'floor p50',
      'floor p99',
      'p50 ÷ floor',
      'p99 ÷ floor',
      `p50 ≤ ${P50_TARGET}×, p99 ≤ ${P99_TARGET}× floor`,
      'errors',
    ],
    rows.map((r) => [
      r.route,
      ms(r.p50),
      ms(r.p99),
      int(r.rps),
      ms(r.emptyP50),
      ms(r.emptyP99),
      int(r.emptyRps),
      ratio(r.p50 / r.emptyP50),
      tripsPerRequest(r).toFixed(2),
      `${mark(Math.abs(tripsPerRequest(r) - r.k) < 0.01)} (${r.k})`,
      ms(r.floorP50),
      ms(r.floorP99),
      ratio(r.p50 / r.floorP50),
      ratio(r.p99 / r.floorP99),
      mark(routeMet(r)),
      r.unexpected ? `${r.unexpected} (first: ${r.firstUnexpected?.replace(/\|/g, '/').slice(0, 80)})` : '0',
    ]),
  );
}

export function whereTimeGoes(rows: RouteRow[]): string {
  return markdownTable(
    [
      'route',
      'its Twilio round trips (sandbox ms: mean / p99 each)',
      'k',
      'empty + k twilio-node round trips p50 / p99',
      'p50 ÷ that',
      'p99 ÷ that',
      'functions CPU ms/req (route / empty)',
      'sandbox + driver CPU ms/req (route / empty)',
    ],
    rows.map((r) => [
      r.route,
      r.roundTrips.length
        ? r.roundTrips
            .map(
              (t) =>
                `${t.key.replace('/2010-04-01/Accounts/{Sid}', '').replace('/v1/Services/default', '')} (${t.perRequest.toFixed(2)}/req): ${t.meanMs.toFixed(2)} / ${t.p99Ms}`,
            )
            .join('; ')
        : 'none',
      String(r.k),
      `${ms(r.clientFloorP50)} / ${ms(r.clientFloorP99)}`,
      ratio(r.p50 / r.clientFloorP50),
      ratio(r.p99 / r.clientFloorP99),
      `${r.cpu.fn.toFixed(2)} / ${r.cpu.fnEmpty.toFixed(2)}`,
      `${r.cpu.sandbox.toFixed(2)} / ${r.cpu.sandboxEmpty.toFixed(2)}`,
    ]),
  );
}

export function eventTable(rows: EventRow[]): string {
  return markdownTable(
    [
      'event',
      'Twilio requests (sandbox count)',
      'expected from the code',
      'as expected',
      'what they were (most common)',
    ],
    rows.map((r) => [
      r.event,
      r.min === r.max ? String(r.typical) : `${r.typical} (${r.min}-${r.max} over ${r.samples})`,
      r.floor,
      r.floorValue === undefined ? '–' : mark(r.min === r.floorValue && r.max === r.floorValue),
      r.breakdown,
    ]),
  );
}

/** Table 2c: conference events, REST and Sync apart, next to docs/CONFERENCES.md §3.7's estimates. */
export function conferenceEventTable(rows: ConferenceEventRow[]): string {
  return markdownTable(
    [
      'event',
      'REST',
      'Sync',
      '§3.7 estimate (REST / Sync)',
      'as estimated',
      'why not (from the code)',
      'what they were (most common)',
    ],
    rows.map((r) => [
      r.event,
      String(r.rest),
      r.min === r.max ? String(r.sync) : `${r.sync} (total ${r.min}-${r.max} over ${r.samples})`,
      `${r.estimateRest} / ${r.estimateSync}: ${r.estimate}`,
      mark(r.rest === r.estimateRest && r.sync === r.estimateSync && r.min === r.max),
      r.why || '–',
      r.breakdown,
    ]),
  );
}

export function wholeCallTable(rows: CallKindRow[]): string {
  return markdownTable(
    [
      'call (one at a time)',
      'calls',
      'SDK legs',
      'messages each way per leg',
      'status callbacks per call',
      'Twilio requests per call',
      'sum of the per-event counts',
      'adds up',
      'of them answered 404 / 409 / 412 (per call)',
    ],
    rows.map((r) => [
      r.kind,
      String(r.calls),
      String(r.sdkLegs),
      String(r.messagesEachWay),
      r.statusCallbacksPerCall.toFixed(1),
      r.restPerCall.toFixed(1),
      String(r.expectedPerCall),
      mark(Math.abs(r.restPerCall - r.expectedPerCall) < 0.05),
      r.conflictsPerCall.toFixed(1),
    ]),
  );
}

export function coldTable(rows: ColdRow[]): string {
  const empty = rows.find((r) => r.name === 'empty.js')!;
  const withTwilio = rows.find((r) => r.name.startsWith('empty + '))!;
  return markdownTable(
    [
      'bundle',
      'bytes',
      'fresh process: load ms',
      '÷ empty',
      '÷ (empty + twilio)',
      'twilio preloaded (as the runtime): load ms',
      '÷ empty',
      '≤ 2× empty',
    ],
    rows.map((r) => {
      const isFloor = r === empty || r === withTwilio;
      return [
        r.name,
        int(r.bytes),
        ms(r.freshMs),
        ratio(r.freshMs / empty.freshMs),
        ratio(r.freshMs / withTwilio.freshMs),
        ms(r.runtimeMs),
        ratio(r.runtimeMs / empty.runtimeMs),
        isFloor
          ? '–'
          : `${mark(r.freshMs <= 2 * empty.freshMs)} fresh, ${mark(r.runtimeMs <= 2 * empty.runtimeMs)} preloaded`,
      ];
    }),
  );
}

export function twilioPartsTable(cold: ColdStart): string {
  return markdownTable(
    ['module', 'fresh process: load ms'],
    cold.twilioParts.map((p) => [`require('${p.module}')`, ms(p.freshMs)]),
  );
}

export function scaleTable(s: ScaleResult, expectedPerCall: number, budgetMs: number): string {
  const subscribedFirst = s.answerToSubscription.filter((a) => a.ms <= 0).length;
  const rel = s.answerToSubscription.map((a) => a.ms);
  const rows: [string, string, string, string][] = [
    [
      // The budget, not the plan, ends a run on a small machine: every call it started must complete.
      `calls started within ${(budgetMs / 60_000).toFixed(0)} min (at most ${int(s.callsPlanned)}): completed / failed`,
      `${int(s.callsDone)} / ${s.callsFailed}${s.firstFailure ? ` (first: ${s.firstFailure.replace(/\|/g, '/').slice(0, 120)})` : ''}`,
      'all completed, 0 failed',
      mark(s.callsFailed === 0 && s.callsDone > 0),
    ],
    [
      'calls at once (workers / peak)',
      `${s.concurrency} / ${s.peakConcurrentCalls}`,
      '≥ 100',
      mark(s.peakConcurrentCalls >= 100),
    ],
    ['messages each way per call', String(s.messagesEachWay), '20', mark(s.messagesEachWay >= 20)],
    [
      'SDK → server: sent / answered 2xx / stored',
      `${int(s.fromSdkSent)} / ${int(s.fromSdkAccepted)} / ${int(s.fromSdkStored)}`,
      'all stored',
      mark(s.fromSdkStored === s.fromSdkSent),
    ],
    [
      'server → SDK: sent / 201 / stored / received by the SDK',
      `${int(s.toSdkSent)} / ${int(s.toSdkAccepted)} / ${int(s.toSdkStored)} / ${int(s.toSdkReceived)}`,
      'all stored and received',
      mark(s.toSdkStored === s.toSdkSent && s.toSdkReceived === s.toSdkSent),
    ],
    [
      'asked again after Retry-After: sends (409 in progress / 503) / history pages (503)',
      `${int(s.sendRetries)} / ${int(s.readRetries)}`,
      '–',
      '–',
    ],
    ['messages lost (every call read back, failed or not)', int(s.lost), '0', mark(s.lost === 0)],
    ['messages stored twice', int(s.duplicatesStored), '0', mark(s.duplicatesStored === 0)],
    ['legs whose SDK messages are not in SequenceNumber order', int(s.sequenceGaps), '0', mark(s.sequenceGaps === 0)],
    ['legs not closed out in Sync (state ≠ completed)', int(s.legsNotClosed), '0', mark(s.legsNotClosed === 0)],
    [
      'SDK legs subscribed before they were answered',
      `${int(subscribedFirst)} / ${int(rel.length)} (subscription − answer: p50 ${Math.round(percentile(rel, 50))} ms, p99 ${Math.round(percentile(rel, 99))} ms, max ${Math.round(Math.max(...rel))} ms)`,
      '–',
      '–',
    ],
    [
      'busiest Sync object: most writes in any 1 s',
      `${s.busiestWritesPerSecond} (${s.busiestObject})`,
      '≤ 20',
      mark(s.busiestWritesPerSecond <= 20),
    ],
    [
      `the console index's busiest shard (${CONSOLE_INDEX_SHARDS} Maps): most writes in any 1 s`,
      int(s.busiestIndexShardWritesPerSecond),
      '≤ 20',
      mark(s.busiestIndexShardWritesPerSecond <= 20),
    ],
    ['Sync 429s (limit enforced: 20/s per object)', int(s.sync429), '0', mark(s.sync429 === 0)],
    [
      'sandbox time per Sync request, first → last tenth of the run',
      `${s.syncMsFirstTenth.toFixed(2)} → ${s.syncMsLastTenth.toFixed(2)} ms`,
      '–',
      '–',
    ],
    ['Sync writes / Twilio REST requests', `${int(s.syncWrites)} / ${int(s.restRequests)}`, '–', '–'],
    [
      'Twilio REST requests per call',
      s.restPerCall.toFixed(2),
      `${expectedPerCall.toFixed(2)} (Table 2's counts for this mix)`,
      mark(s.restPerCall <= expectedPerCall + 0.005),
    ],
    ['of them answered 404 / 409 / 412, per call', s.conflictsPerCall.toFixed(2), '–', '–'],
    ['function invocations / per second', `${int(s.functionInvocations)} / ${int(s.invocationsPerSecond)}`, '–', '–'],
    [
      'scale run time',
      `${(s.totalMs / 1000).toFixed(1)} s`,
      `whole bench < ${budgetMs / 60_000} min`,
      mark(s.totalMs < budgetMs),
    ],
  ];
  return markdownTable(['measure', 'value', 'target', 'met'], rows);
}

export const SITUATION_LABELS: Record<Situation, string> = {
  'in-at-ring': 'phone → SDK, accepted as it rings (child leg)',
  'in-after-ringing': 'phone → SDK, accepted once the ringing callback was answered (child leg)',
  'out-number': 'SDK → number, answered 10 ms after it rings (parent leg)',
  'sdk-sdk': 'SDK → SDK, callee accepts as it rings (both legs send)',
};

/** Table 6: one row per situation; per t, SDK legs sent / delivered / dropped. */
export function firstMessageTable(legs: LegOutcome[]): string {
  const headers = [
    'situation',
    ...FIRST_MESSAGE_DELAYS_MS.map((t) => `t = ${t} ms: sent / delivered / dropped`),
    'dropped though the early callbacks were answered first (target 0)',
    'subscribed by initiated / ringing / in-progress',
    'early callback sent → subscribed: p50 / max ms',
  ];
  const rows = SITUATIONS.map((situation) => {
    const mine = legs.filter((l) => l.situation === situation);
    const cells = FIRST_MESSAGE_DELAYS_MS.map((t) => {
      const at = mine.filter((l) => l.t === t);
      const dropped = at.filter((l) => l.dropped).length;
      return `${at.length} / ${at.filter((l) => l.delivered).length} / ${dropped}`;
    });
    const droppedAfterEarly = mine.filter((l) => l.dropped && l.earlyFirst).length;
    const by = (s: string) => mine.filter((l) => l.subscribedBy === s).length;
    // Only legs an early callback subscribed: in-progress's subscription says nothing of them.
    const windows = mine.filter((l) => l.subscribedBy && l.subscribedBy !== 'in-progress').map((l) => l.windowMs);
    return [
      SITUATION_LABELS[situation],
      ...cells,
      `${droppedAfterEarly} of ${mine.filter((l) => l.earlyFirst).length} ${mark(droppedAfterEarly === 0)}`,
      `${by('initiated')} / ${by('ringing')} / ${by('in-progress')}`,
      windows.length ? `${Math.round(percentile(windows, 50))} / ${Math.round(Math.max(...windows))}` : '–',
    ];
  });
  return markdownTable(headers, rows);
}

/** Drops the sandbox counted that the send's answer did not report, or the reverse (should be 0). */
export const dropMismatches = (legs: LegOutcome[]) => legs.filter((l) => l.dropped !== l.answerSaidDropped).length;

const pages = (c: PageCost[], f: (p: PageCost) => string) => c.map(f).join(' / ');

/** Table 7: the cost of a /call-messages page as the history grows. */
export function historyTable(rows: HistoryRow[]): string {
  return markdownTable(
    [
      'messages on the leg',
      'pages',
      'filled in (s)',
      'Sync requests per page: first / middle / last / after=',
      'p50 ms per page: first / middle / last / after=',
      "sandbox's ms per Sync request: first / middle / last / after=",
      'most Sync requests on any page of the walk',
      'every message once, in order',
    ],
    rows.map((r) => {
      const c = [r.first, r.middle, r.last, r.caughtUp];
      return [
        int(r.messages),
        `${int(r.pages)} of ${r.pageSize}`,
        (r.fillMs / 1000).toFixed(1),
        pages(c, (p) => (p.syncMin === p.syncMax ? String(p.syncMax) : `${p.syncMin}-${p.syncMax}`)),
        pages(c, (p) => ms(p.p50Ms)),
        pages(c, (p) => ms(p.sandboxMs)),
        `${r.walkSyncMax} ${mark(r.walkSyncMax <= 2)}`,
        mark(r.complete),
      ];
    }),
  );
}

/** Table 10: sustained messages/s on one leg by message size, under Sync's write limits by size. */
export function sizeRateTable(rows: SizeRateRow[]): string {
  return markdownTable(
    [
      'message (characters of JSON)',
      'its record (bytes)',
      'messages each way',
      'sustained messages/s per leg, both ways (from SDK + to SDK)',
      'all done in (s)',
      'Sync writes refused (429)',
      'sender told it failed',
      'lost',
    ],
    rows.map((r) => [
      int(r.chars),
      int(r.itemBytes),
      int(r.messagesEachWay),
      `${r.sustainedPerSecond.toFixed(1)} (${r.fromSdkPerSecond.toFixed(1)} + ${r.toSdkPerSecond.toFixed(1)})`,
      r.totalSeconds.toFixed(1),
      int(r.refused),
      `${r.failed} ${mark(r.failed === 0)}`,
      `${r.lost} ${mark(r.lost === 0)}`,
    ]),
  );
}
