// A long leg history, written straight into Sync through the project's own store (lib/store/call-store.ts),
// so a 5,000-message leg takes seconds instead of 5,000 calls' worth of SDK sends. The keys, parts
// and ordering are exactly what /message-callback and /send-message write.
import twilio from 'twilio';
import { CallStore } from '../lib/store/call-store';
import { SandboxRequestClient } from '../sandbox/request-client';
import type { SandboxControl } from '../sandbox/control-client';
import { sid } from './sids';

export interface FillOptions {
  /** Messages to write: alternately from the SDK (even i) and to it (odd i). */
  count: number;
  /** The SequenceNumber of the first message from the SDK (later ones count up from it). */
  firstSequence: number;
  /** Message i is timestamped startMs + i seconds (from-SDK Timestamps have whole seconds, as Twilio's). */
  startMs: number;
  /** Writes in flight at once. */
  concurrency?: number;
  /** Continues an earlier fill of the same leg: the index i of the first message written (default 0). */
  firstIndex?: number;
  /** The content of message i (default `{"i": i}`, which the history test and bench check order by). */
  content?: (i: number) => string;
}

/** The store the functions use, on the sandbox's Sync (service `default`, the functions' TTLs). */
export function sandboxStore(sandbox: { url: string; accountSid: string; authToken: string }): CallStore {
  const client = twilio(sandbox.accountSid, sandbox.authToken, {
    lazyLoading: true,
    httpClient: new SandboxRequestClient(sandbox.url, { keepAlive: true }),
  });
  return new CallStore(client, { syncServiceSid: 'default', finishedCallTtl: 86_400, activeCallTtl: 172_800 });
}

/** Message i's Sid (KX…): 16 hex digits of i, then 16 of the leg's Sid, so Sids differ across legs. */
export const filledMessageSid = (i: number, callSid: string) =>
  sid('KX', (BigInt(i) << 64n) | BigInt(`0x${callSid.slice(2, 18)}`));

/**
 * Writes `count` messages on `callSid`'s Map; message i carries `{"i": i}` so a reader can check
 * order and completeness. Returns the Sid or idempotency key of each, in history order.
 */
export async function fillLeg(store: CallStore, callSid: string, opts: FillOptions): Promise<string[]> {
  const ids: string[] = [];
  const first = opts.firstIndex ?? 0;
  const write = async (n: number) => {
    const i = first + n;
    const at = opts.startMs + i * 1000;
    const content = opts.content?.(i) ?? JSON.stringify({ i });
    if (i % 2 === 0) {
      const inboundSid = filledMessageSid(i, callSid);
      ids[n] = inboundSid;
      await store.saveInbound({
        sid: inboundSid,
        callSid,
        direction: 'from-sdk',
        sequence: opts.firstSequence + i / 2,
        contentType: 'application/json',
        content,
        timestamp: new Date(at).toISOString(),
      });
    } else {
      const idempotencyKey = `fill-${callSid}-${i}`;
      ids[n] = idempotencyKey;
      const claim = await store.claimSend(callSid, idempotencyKey, new Date(at));
      if (claim.outcome !== 'claimed') throw new Error(`fill: send claim ${i} was ${claim.outcome}`);
      await store.saveOutbound(
        {
          sid: filledMessageSid(i, callSid),
          callSid,
          direction: 'to-sdk',
          contentType: 'application/json',
          content,
          timestamp: new Date(claim.sentAtMs).toISOString(),
          idempotencyKey,
        },
        claim.sentAtMs,
      );
    }
  };
  // The first write creates the Map; the rest go in parallel.
  if (opts.count > 0) await write(0);
  let next = 1;
  const worker = async () => {
    for (let i = next++; i < opts.count; i = next++) await write(i);
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, worker));
  return ids;
}

/**
 * Runs `fill` with the sandbox's Sync write limits off, then puts them back: a fill stands for a
 * history written over a long call, in seconds (5,000 writes to one Map would take Sync minutes).
 */
export async function withoutWriteLimits<T>(control: SandboxControl, fill: () => Promise<T>): Promise<T> {
  const { writeLimits } = (await control.getKnobs()).sync;
  await control.knobs({ sync: { writeLimits: null } });
  try {
    return await fill();
  } finally {
    await control.knobs({ sync: { writeLimits } });
  }
}
