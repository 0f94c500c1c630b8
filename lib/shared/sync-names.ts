// The Sync objects the functions write that an operator's console subscribes to (Sync's live
// channel, docs/SYNC-CLIENT-PROTOCOL.md): named once here for lib/store and the console page.

/** A leg's own Map (`cme.call.<callsid>`): its state and its messages both ways (lib/store/keys.ts). */
export const legMapName = (callSid: string) => `cme.call.${callSid.toLowerCase()}`;

/**
 * A conference room's Map (`cme.conf.<room>`, the room named by lib/calls/conference.ts): its state
 * and a record per participant (lib/store/conference-store.ts).
 */
export const conferenceMapName = (room: string) => `cme.conf.${room.toLowerCase()}`;

/**
 * The console's index of live SDK legs, in shards (`cme.calls.0` … `cme.calls.7`): an item per leg,
 * keyed by its CallSid, in the shard its CallSid hashes to; added as the leg is claimed and removed at
 * its end (each item has the active-call TTL, a safety net for an end never reported). One write at
 * each end of a leg; a console subscribed to every shard sees a new call or an ended one as an event
 * instead of polling the Calls API. Shards because Sync allows about 20 writes/s per object (item
 * writes count against their Map): one account-wide Map took 77 writes in a second at the scale run's
 * 100 calls at once and refused thousands; eight share that load (BENCHMARKS.md, table 4).
 */
export const CONSOLE_INDEX_SHARDS = 8;
const CONSOLE_INDEX_PREFIX = 'cme.calls.';
/** Every shard of the console's index: what a console subscribes to and `/operator-calls` reads. */
export const CONSOLE_INDEX_MAPS: readonly string[] = Array.from(
  { length: CONSOLE_INDEX_SHARDS },
  (_, i) => `${CONSOLE_INDEX_PREFIX}${i}`,
);
/** The shard a leg's index item lives in: FNV-1a of its CallSid (any string, case-insensitive). */
export function consoleIndexMapOf(callSid: string): string {
  let hash = 0x811c9dc5;
  for (const ch of callSid.toLowerCase()) {
    hash ^= ch.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return CONSOLE_INDEX_MAPS[hash % CONSOLE_INDEX_SHARDS]!;
}

/** Keys of a leg's Map the console reacts to: its state and messages (never send claims or parts). */
export const isLiveKey = (key: string) => key === 'state' || isMessageKey(key);
/** A message's head item (one per message, either direction): what a message count counts. */
export const isMessageKey = (key: string) => /^(from-sdk|to-sdk-r)\./.test(key) && !key.includes('~');
