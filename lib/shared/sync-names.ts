// The Sync objects the functions write that an operator's console subscribes to (Sync's live
// channel, docs/SYNC-CLIENT-PROTOCOL.md): named once here for lib/store and the console page.

/** A leg's own Map (`cme.call.<callsid>`): its state and its messages both ways (lib/store/keys.ts). */
export const legMapName = (callSid: string) => `cme.call.${callSid.toLowerCase()}`;

/**
 * The console's index of live SDK legs (`cme.calls`): an item per leg, keyed by its CallSid, added
 * as the leg is claimed and removed at its end (each item has the active-call TTL, a safety net for
 * an end never reported). One write at each end of a leg; a console subscribed to it sees a new call
 * or an ended one as an event instead of polling the Calls API.
 */
export const CONSOLE_INDEX_MAP = 'cme.calls';

/** Keys of a leg's Map the console reacts to: its state and messages (never send claims or parts). */
export const isLiveKey = (key: string) => key === 'state' || isMessageKey(key);
/** A message's head item (one per message, either direction): what a message count counts. */
export const isMessageKey = (key: string) => /^(from-sdk|to-sdk-r)\./.test(key) && !key.includes('~');
