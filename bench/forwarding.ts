// Table 8 (issue #14): what forwarding to the app's backend adds to /message-callback. The same
// callbacks, one at a time on live SDK legs, against a stack without APP_WEBHOOK_URL and one
// forwarding to the example backend (scripts/example-backend.ts, on this machine: the delivery's
// own round trip is what a nearby backend costs): Twilio requests per callback, counted by the
// sandbox, and latency. Runs alone with `tsx bench/forwarding.ts` (after `npm run build`).
import { performance } from 'node:perf_hooks';
import { startExampleBackend } from '../scripts/example-backend';
import { childLeg, heldSdkLegs, messageCallback, startBenchStack, statusCallback, type BenchStack } from './stack';
import type { LegNames } from '../lib/calls/callback-urls';
import { markdownTable, ms, nth, percentile } from './stats';
import { randomCallSid, randomMessageSid } from '../testing/sids';

export interface ForwardingRow {
  event: string;
  samples: number;
  syncReads: number;
  syncWrites: number;
  rest: number;
  p50Ms: number;
  p95Ms: number;
}

const NOTE = '{"bench":"forwarding"}';
const PING = '{"ping":"bench"}';

/** Each leg's parent and identity, as /call-status writes them into its message callback URL. */
const names = new Map<string, LegNames>();
/** A message callback to `leg` at the URL /call-status issued for it (which names the leg). */
const messageTo = (b: BenchStack, leg: string, sid: string, sequence: number, content: string) =>
  messageCallback(b, leg, sid, sequence, content, names.get(leg));

async function legsWithState(b: BenchStack, identity: string, count: number): Promise<string[]> {
  const legs = await heldSdkLegs(b, identity, count);
  for (const sid of legs) {
    const leg = childLeg(sid, randomCallSid(), identity);
    names.set(sid, { parentCallSid: leg.parentCallSid, identity });
    for (const status of ['initiated', 'ringing', 'in-progress'] as const) await statusCallback(b, leg, status);
  }
  return legs;
}

/** Runs `event` once per sample, one at a time, and sums up the Twilio requests and latency of each. */
async function measure(
  b: BenchStack,
  name: string,
  samples: number,
  event: (i: number) => Promise<{ status: number; text: string }>,
): Promise<ForwardingRow> {
  const latencies: number[] = [];
  let reads = 0;
  let writes = 0;
  let rest = 0;
  for (let i = 0; i < samples; i++) {
    await b.control.idle();
    const before = b.sandbox.requests.length;
    const t = performance.now();
    const res = await event(i);
    latencies.push(performance.now() - t);
    if (res.status !== 200) throw new Error(`${name} answered ${res.status}: ${res.text.slice(0, 300)}`);
    await b.control.idle();
    for (const r of b.sandbox.requests.slice(before)) {
      if (r.product !== 'sync') rest++;
      else if (r.method === 'GET') reads++;
      else writes++;
    }
  }
  return {
    event: name,
    samples,
    syncReads: reads / samples,
    syncWrites: writes / samples,
    rest: rest / samples,
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
  };
}

export async function measureForwarding(samples: number): Promise<ForwardingRow[]> {
  const rows: ForwardingRow[] = [];
  const off = await startBenchStack(false);
  try {
    const legs = await legsWithState(off, 'fwd-off', 1);
    rows.push(
      await measure(off, '/message-callback, forwarding off', samples, (i) =>
        messageTo(off, nth(legs, 0), randomMessageSid(), i + 1, NOTE),
      ),
    );
  } finally {
    await off.stack.stop();
  }
  const backend = await startExampleBackend();
  const on = await startBenchStack(false, backend.env);
  try {
    // One message per leg, each the first its (warm) container sees: its URL names the leg, so no state read.
    const firsts = await legsWithState(on, 'fwd-first', samples);
    rows.push(
      await measure(on, '/message-callback, forwarded: first message of a leg', samples, (i) =>
        messageTo(on, nth(firsts, i), randomMessageSid(), 1, NOTE),
      ),
    );
    const leg = nth(await legsWithState(on, 'fwd-on', 1), 0);
    await messageTo(on, leg, randomMessageSid(), 1, NOTE);
    const sids = Array.from({ length: samples }, () => randomMessageSid());
    rows.push(
      await measure(on, '/message-callback, forwarded', samples, (i) => messageTo(on, leg, nth(sids, i), i + 2, NOTE)),
    );
    rows.push(
      await measure(on, '/message-callback, delivered again (forwarded already)', samples, (i) =>
        messageTo(on, leg, nth(sids, i), i + 2, NOTE),
      ),
    );
    rows.push(
      await measure(on, '/message-callback, forwarded, backend answers {"reply": …}', samples, (i) =>
        messageTo(on, leg, randomMessageSid(), samples + i + 2, PING),
      ),
    );
  } finally {
    await on.stack.stop();
    await backend.close();
  }
  return rows;
}

export function forwardingTable(rows: ForwardingRow[]): string {
  const off = rows[0];
  return markdownTable(
    ['event', 'samples', 'Sync reads', 'Sync writes', 'REST', 'p50', 'p95', 'p50 added'],
    rows.map((r) => [
      r.event,
      String(r.samples),
      r.syncReads.toFixed(1),
      r.syncWrites.toFixed(1),
      r.rest.toFixed(1),
      ms(r.p50Ms),
      ms(r.p95Ms),
      r === off || off === undefined ? '—' : ms(r.p50Ms - off.p50Ms),
    ]),
  );
}

if (require.main === module) {
  measureForwarding(Number(process.env.SAMPLES ?? 20))
    .then((rows) => process.stdout.write(`${forwardingTable(rows)}\n`))
    .catch((err: Error) => {
      process.stderr.write(`${err.stack ?? err.message}\n`);
      process.exit(1);
    });
}
