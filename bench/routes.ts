// Table 1: each route's latency and throughput at a fixed concurrency, next to the empty function
// served by the same twilio-run in the same run, and next to that floor plus the route's own Twilio
// round trips (their time as the sandbox measured it, from sandbox.requests).
import { post, runLoad, type LoadResult } from './http';
import { mean, nth, percentile } from './stats';
import {
  callMessagesRequest,
  childLeg,
  emptyRequest,
  functionsPid,
  ownCpuMs,
  processCpuMs,
  heldSdkLegs,
  messageCallback,
  restRoute,
  sendMessageRequest,
  statusCallback,
  tokenRequest,
  voiceInbound,
  type BenchStack,
  type StatusCallbackLeg,
} from './stack';
import { randomCallSid, randomMessageSid } from '../testing/sids';

export interface RoundTrip {
  /** `POST sync /v1/Services/default/Maps/cme.call.{Sid}/Items` */
  key: string;
  perRequest: number;
  meanMs: number;
  p99Ms: number;
}

export interface RouteRow {
  route: string;
  n: number;
  concurrency: number;
  p50: number;
  p99: number;
  rps: number;
  emptyP50: number;
  emptyP99: number;
  emptyRps: number;
  roundTrips: RoundTrip[];
  floorP50: number;
  floorP99: number;
  /** The round-trips function with k = the route's expected round trips (the empty function when 0). */
  k: number;
  clientFloorP50: number;
  clientFloorP99: number;
  /** CPU ms per request: in the functions process (twilio-run, with its forks) and in this one (sandbox + driver). */
  cpu: { fn: number; fnEmpty: number; sandbox: number; sandboxEmpty: number };
  unexpected: number;
  firstUnexpected?: string | undefined;
}

interface RouteSpec {
  route: string;
  /** The Twilio round trips the route needs (its floor in Table 2). */
  k: number;
  /** Requests needing a fresh leg each (the first in-progress of a leg) get it by index. */
  request: (i: number) => Promise<{ status: number; text?: string }>;
  expected: (status: number) => boolean;
}

export interface RouteBenchOptions {
  n: number;
  concurrency: number;
  warmup: number;
  /** Live SDK legs that messages and reads are spread over (Sync's 20 writes/s is per object). */
  legs: number;
  /** Warm-up rounds over every route before measuring. */
  warmupRounds: number;
  /** Also measure the round-trips function (`round-trips.js`) as a second floor. */
  clientFloor: boolean;
}

export async function benchRoutes(
  b: BenchStack,
  opts: RouteBenchOptions,
  progress: (s: string) => void,
): Promise<RouteRow[]> {
  const { n, concurrency, warmup, warmupRounds } = opts;
  const ok = (s: number) => s === 200;
  // Legs for in-progress: one fresh leg per request (the first in-progress of a leg is the event),
  // after the initiated and ringing callbacks a real call sends first (ringing subscribes it).
  const fresh = await heldSdkLegs(b, 'bench-fresh', n + (warmupRounds + 1) * warmup);
  const parentOf = new Map(fresh.map((sid) => [sid, randomCallSid()]));
  const beforeAnswer = async (leg: StatusCallbackLeg) => {
    const initiated = await statusCallback(b, leg, 'initiated');
    return initiated.status === 200 ? statusCallback(b, leg, 'ringing') : initiated;
  };
  await runLoad(
    fresh.length,
    concurrency,
    (i) => beforeAnswer(childLeg(nth(fresh, i), parentOf.get(nth(fresh, i))!, 'bench-fresh')),
    ok,
  );
  // Subscribed legs for messages and reads.
  const live = await heldSdkLegs(b, 'bench-live', opts.legs);
  const liveLegs = live.map((sid) => childLeg(sid, randomCallSid(), 'bench-live'));
  await runLoad(live.length, concurrency, (i) => beforeAnswer(nth(liveLegs, i)), ok);
  await runLoad(live.length, concurrency, (i) => statusCallback(b, nth(liveLegs, i), 'in-progress'), ok);
  const sequences = new Map<string, number>();
  let freshNext = 0;

  const specs: RouteSpec[] = [
    { route: '/voice', k: 0, request: () => voiceInbound(b, randomCallSid()), expected: ok },
    {
      route: '/call-status (in-progress)',
      k: 2,
      request: () => {
        const sid = nth(fresh, freshNext++);
        return statusCallback(b, childLeg(sid, parentOf.get(sid)!, 'bench-fresh'), 'in-progress');
      },
      expected: ok,
    },
    {
      route: '/message-callback',
      k: 1,
      request: (i) => {
        const sid = nth(live, i % live.length);
        const seq = sequences.get(sid) ?? 0;
        sequences.set(sid, seq + 1);
        return messageCallback(
          b,
          sid,
          randomMessageSid(),
          seq,
          JSON.stringify({ type: 'note', seq, text: 'hello from the Voice SDK' }),
        );
      },
      expected: ok,
    },
    {
      route: '/send-message',
      // claim + the leg's state + send + record (bench/events.ts)
      k: 4,
      request: (i) =>
        sendMessageRequest(b, {
          callSid: nth(live, i % live.length),
          content: JSON.stringify({ type: 'note', i, text: 'hello from the server' }),
        }),
      expected: (s) => s === 201,
    },
    { route: '/call-messages', k: 2, request: (i) => callMessagesRequest(b, nth(live, i % live.length)), expected: ok },
    { route: '/token', k: 0, request: (i) => tokenRequest(b, `agent-${i % 50}`), expected: ok },
  ];

  const empty = () => emptyRequest(b);
  const pid = functionsPid();
  // Warm everything first (twilio-run, the functions' JIT, their Twilio client, the sandbox), as a
  // warm container would be: the first seconds after start are several times slower.
  progress(`${b.fork ? 'fork' : 'no-fork'} warm-up`);
  for (let round = 0; round < warmupRounds; round++) {
    await runLoad(warmup, concurrency, empty, ok);
    if (opts.clientFloor) await runLoad(warmup, concurrency, () => post(b.fn, '/round-trips', { k: '1' }), ok);
    for (const spec of specs) await runLoad(warmup, concurrency, spec.request, spec.expected);
  }
  const rows: RouteRow[] = [];
  for (const spec of specs) {
    progress(`${b.fork ? 'fork' : 'no-fork'} ${spec.route}`);
    await runLoad(warmup, concurrency, spec.request, spec.expected);
    // Empty and route alternate in two halves, so drift in machine load hits both alike.
    const route: LoadResult[] = [];
    const floor: LoadResult[] = [];
    const client: LoadResult[] = [];
    const rest: typeof b.sandbox.requests = [];
    const roundTrips = () => post(b.fn, '/round-trips', { k: String(spec.k) });
    const measureClient = opts.clientFloor && spec.k > 0;
    const cpu = { fn: 0, fnEmpty: 0, sandbox: 0, sandboxEmpty: 0 };
    const timed = async (which: 'route' | 'empty', load: () => Promise<LoadResult>) => {
      const fn0 = processCpuMs(pid);
      const own0 = ownCpuMs();
      const result = await load();
      cpu[which === 'route' ? 'fn' : 'fnEmpty'] += processCpuMs(pid) - fn0;
      cpu[which === 'route' ? 'sandbox' : 'sandboxEmpty'] += ownCpuMs() - own0;
      return result;
    };
    if (measureClient) await runLoad(warmup, concurrency, roundTrips, ok);
    for (let half = 0; half < 2; half++) {
      floor.push(await timed('empty', () => runLoad(n / 2, concurrency, empty, ok)));
      if (measureClient) client.push(await runLoad(n / 2, concurrency, roundTrips, ok));
      const since = Date.now();
      const before = b.sandbox.requests.length;
      route.push(await timed('route', () => runLoad(n / 2, concurrency, spec.request, spec.expected)));
      rest.push(...b.sandbox.requests.slice(before).filter((r) => r.at >= since));
    }
    const lat = route.flatMap((r) => r.latencies);
    const emptyLat = floor.flatMap((r) => r.latencies);
    const clientLat = measureClient ? client.flatMap((r) => r.latencies) : emptyLat;
    const groups = new Map<string, number[]>();
    for (const r of rest) {
      const key = `${r.method} ${r.product} ${restRoute(r.route)}${r.status >= 400 ? ` → ${r.status}` : ''}`;
      groups.set(key, [...(groups.get(key) ?? []), r.ms]);
    }
    const trips = [...groups].map(([key, times]) => ({
      key,
      perRequest: times.length / n,
      meanMs: mean(times),
      p99Ms: percentile(times, 99),
    }));
    const emptyP50 = percentile(emptyLat, 50);
    const emptyP99 = percentile(emptyLat, 99);
    rows.push({
      route: spec.route,
      n,
      concurrency,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      rps: (n * 1000) / route.reduce((a, r) => a + r.wallMs, 0),
      emptyP50,
      emptyP99,
      emptyRps: (n * 1000) / floor.reduce((a, r) => a + r.wallMs, 0),
      roundTrips: trips,
      floorP50: emptyP50 + trips.reduce((a, t) => a + t.perRequest * t.meanMs, 0),
      floorP99: emptyP99 + trips.reduce((a, t) => a + t.perRequest * t.p99Ms, 0),
      k: spec.k,
      clientFloorP50: percentile(clientLat, 50),
      clientFloorP99: percentile(clientLat, 99),
      cpu: { fn: cpu.fn / n, fnEmpty: cpu.fnEmpty / n, sandbox: cpu.sandbox / n, sandboxEmpty: cpu.sandboxEmpty / n },
      unexpected: route.reduce((a, r) => a + r.unexpected, 0),
      firstUnexpected: route.find((r) => r.firstUnexpected)?.firstUnexpected,
    });
  }
  return rows;
}
