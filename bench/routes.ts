// Table 1: each route's latency and throughput at a fixed concurrency, next to the empty function
// served by the same twilio-run in the same run, and next to that floor plus the route's own Twilio
// round trips (their time as the sandbox measured it, from sandbox.requests).
import { fakeSid, runLoad, type LoadResult } from './http';
import { mean, percentile } from './stats';
import {
  callMessagesRequest,
  childLeg,
  emptyRequest,
  heldSdkLegs,
  messageCallback,
  sendMessageRequest,
  statusCallback,
  tokenRequest,
  voiceInbound,
  type BenchStack,
} from './stack';

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
  unexpected: number;
  firstUnexpected?: string;
}

interface RouteSpec {
  route: string;
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
}

export async function benchRoutes(b: BenchStack, opts: RouteBenchOptions, progress: (s: string) => void): Promise<RouteRow[]> {
  const { n, concurrency, warmup } = opts;
  const ok = (s: number) => s === 200;
  // Legs for in-progress: one fresh leg per request (the first in-progress of a leg is the event),
  // its Map already made by the ringing callback, as in a real call.
  const fresh = await heldSdkLegs(b, 'bench-fresh', n + warmup);
  const parentOf = new Map(fresh.map((sid) => [sid, fakeSid('CA')]));
  for (let i = 0; i < fresh.length; i += 16) {
    await Promise.all(fresh.slice(i, i + 16).map((sid) => statusCallback(b, childLeg(sid, parentOf.get(sid)!, 'bench-fresh'), 'ringing')));
  }
  // Subscribed legs for messages and reads.
  const live = await heldSdkLegs(b, 'bench-live', opts.legs);
  for (const sid of live) {
    const leg = childLeg(sid, fakeSid('CA'), 'bench-live');
    await statusCallback(b, leg, 'ringing');
    await statusCallback(b, leg, 'in-progress');
  }
  const sequences = new Map<string, number>();
  let freshNext = 0;

  const specs: RouteSpec[] = [
    { route: '/voice', request: () => voiceInbound(b, fakeSid('CA')), expected: ok },
    {
      route: '/call-status (in-progress)',
      request: () => {
        const sid = fresh[freshNext++];
        return statusCallback(b, childLeg(sid, parentOf.get(sid)!, 'bench-fresh'), 'in-progress');
      },
      expected: ok,
    },
    {
      route: '/message-callback',
      request: (i) => {
        const sid = live[i % live.length];
        const seq = sequences.get(sid) ?? 0;
        sequences.set(sid, seq + 1);
        return messageCallback(b, sid, fakeSid('KX'), seq, JSON.stringify({ type: 'note', seq, text: 'hello from the Voice SDK' }));
      },
      expected: ok,
    },
    {
      route: '/send-message',
      request: (i) => sendMessageRequest(b, { callSid: live[i % live.length], content: JSON.stringify({ type: 'note', i, text: 'hello from the server' }) }),
      expected: (s) => s === 201,
    },
    { route: '/call-messages', request: (i) => callMessagesRequest(b, live[i % live.length]), expected: ok },
    { route: '/token', request: (i) => tokenRequest(b, `agent-${i % 50}`), expected: ok },
  ];

  const empty = () => emptyRequest(b);
  // Warm the functions (and their Twilio client) first, as a warm container would be.
  await runLoad(warmup, concurrency, empty, ok);
  const rows: RouteRow[] = [];
  for (const spec of specs) {
    progress(`${b.fork ? 'fork' : 'no-fork'} ${spec.route}`);
    await runLoad(warmup, concurrency, spec.request, spec.expected);
    // Empty and route alternate in two halves, so drift in machine load hits both alike.
    const route: LoadResult[] = [];
    const floor: LoadResult[] = [];
    const rest: typeof b.sandbox.requests = [];
    for (let half = 0; half < 2; half++) {
      floor.push(await runLoad(n / 2, concurrency, empty, ok));
      const since = Date.now();
      const before = b.sandbox.requests.length;
      route.push(await runLoad(n / 2, concurrency, spec.request, spec.expected));
      rest.push(...b.sandbox.requests.slice(before).filter((r) => r.at >= since));
    }
    const lat = route.flatMap((r) => r.latencies);
    const emptyLat = floor.flatMap((r) => r.latencies);
    const groups = new Map<string, number[]>();
    for (const r of rest) {
      const key = `${r.method} ${r.product} ${r.route}${r.status >= 400 ? ` → ${r.status}` : ''}`;
      groups.set(key, [...(groups.get(key) ?? []), r.ms]);
    }
    const roundTrips = [...groups].map(([key, times]) => ({ key, perRequest: times.length / n, meanMs: mean(times), p99Ms: percentile(times, 99) }));
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
      roundTrips,
      floorP50: emptyP50 + roundTrips.reduce((a, t) => a + t.perRequest * t.meanMs, 0),
      floorP99: emptyP99 + roundTrips.reduce((a, t) => a + t.perRequest * t.p99Ms, 0),
      unexpected: route.reduce((a, r) => a + r.unexpected, 0),
      firstUnexpected: route.find((r) => r.firstUnexpected)?.firstUnexpected,
    });
  }
  return rows;
}
