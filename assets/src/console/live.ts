// The console's live channel: Sync's own (the `twilio-sync` SDK with a Sync token from
// /operator-sync-token), subscribed to every shard of the console's index of live legs (`cme.calls.<n>`) and to the open
// call's leg Maps. An event only says "look again": the console then reads through the
// /operator-* functions as before, so what it shows is what the API answers. An idle console makes
// no request at all. When the channel cannot be had, the console falls back to slow polling
// (FALLBACK_POLL_MS), within the budget of issue 23 (docs/SYNC-CLIENT-PROTOCOL.md, BENCHMARKS.md).

import { SyncClient, type SyncMap } from 'twilio-sync';
import type { OperatorSyncToken } from '../../../lib/shared/api-types';
import { CONSOLE_INDEX_MAPS, isLiveKey, legMapName } from '../../../lib/shared/sync-names';
import { api } from './api';
import { el } from './elements';

/** Without the live channel: the calls list and the open live call, once a minute (≤ 120 invocations an hour). */
export const FALLBACK_POLL_MS = 60_000;

export interface LiveHandlers {
  /** Something changed in the calls: read the list again. */
  calls(): void;
  /**
   * Something was stored on this leg (`added`: a new item at `key`), or its Map was just opened
   * (no key: read once more): read its new messages, and its count when a message was added.
   */
  messages(legSid: string, change?: { key: string; added: boolean }): void;
  /** The channel (re)connected after a gap: read everything once. */
  resync(): void;
}

type ItemEvent = { item: { key: string } } | { key: string };
const keyOf = (e: ItemEvent) => ('item' in e ? e.item.key : e.key);

let client: SyncClient | undefined;
let indexShards: SyncMap[] = [];
const legMaps = new Map<string, SyncMap>();
/** The legs last asked to be watched: watched once the client exists, if it did not yet. */
let wanted: string[] = [];
let fallbackTimer: number | undefined;
let handlers: LiveHandlers | undefined;
let generation = 0;
let wasConnected = false;

function setStatus(text: string, live: string) {
  el.liveStatus.textContent = text;
  document.body.dataset.live = live;
}

async function syncToken(): Promise<OperatorSyncToken> {
  return api<OperatorSyncToken>('operator-sync-token');
}

function startFallback() {
  if (fallbackTimer !== undefined || !handlers) return;
  setStatus('Live updates unavailable: refreshing every minute.', 'polling');
  const h = handlers;
  fallbackTimer = window.setInterval(() => h.resync(), FALLBACK_POLL_MS);
}

function stopFallback() {
  window.clearInterval(fallbackTimer);
  fallbackTimer = undefined;
}

/** Connects the live channel; falls back to slow polling when it cannot. */
export async function startLive(h: LiveHandlers): Promise<void> {
  stopLive();
  handlers = h;
  const mine = ++generation;
  setStatus('Connecting live updates…', 'connecting');
  try {
    const answer = await syncToken();
    if (mine !== generation) return;
    const options: Record<string, unknown> = { logLevel: 'silent' };
    // Only the sandbox names its own endpoints (the route answers `sandbox` only there).
    if (answer.sandbox)
      Object.assign(options, { twilsock: { uri: answer.sandbox.twilsock }, cdsUri: answer.sandbox.cds });
    const c = new SyncClient(answer.token, options);
    client = c;
    c.on('connectionStateChanged', (s) => {
      if (mine !== generation) return;
      if (s === 'connected') {
        stopFallback();
        setStatus('Live: new calls and messages appear as they are stored.', 'connected');
        // Events missed while away are replayed by Sync for each subscription; reading once more
        // also covers a subscription re-established from scratch.
        if (wasConnected) h.resync();
        wasConnected = true;
      } else if (s === 'denied' || s === 'error') {
        startFallback();
      } else if (s === 'disconnected' || s === 'connecting') {
        setStatus('Live updates reconnecting…', 'connecting');
      }
    });
    const renew = async () => {
      try {
        await c.updateToken((await syncToken()).token);
      } catch {
        startFallback();
      }
    };
    c.on('tokenAboutToExpire', () => void renew());
    c.on('tokenExpired', () => void renew());
    const shards = await Promise.all(CONSOLE_INDEX_MAPS.map((id) => c.map({ id, mode: 'open_or_create' })));
    if (mine !== generation) {
      for (const map of shards) map.close();
      return;
    }
    indexShards = shards;
    watchLegs(wanted);
    const changed = () => h.calls();
    for (const map of shards) {
      map.on('itemAdded', changed);
      map.on('itemUpdated', changed);
      map.on('itemRemoved', changed);
    }
  } catch {
    if (mine === generation) startFallback();
  }
}

/** Subscribes to exactly these legs' Maps (the open call's and the listed live ones), dropping the others. */
export function watchLegs(legSids: string[]): void {
  wanted = legSids;
  const c = client;
  for (const [sid, map] of legMaps) {
    if (!legSids.includes(sid)) {
      map.close();
      legMaps.delete(sid);
    }
  }
  if (!c || !handlers) return;
  const h = handlers;
  for (const sid of legSids) {
    if (legMaps.has(sid)) continue;
    const mine = generation;
    void c
      .map({ id: legMapName(sid), mode: 'open_existing' })
      .then((map) => {
        if (mine !== generation || !legSids.includes(sid) || legMaps.has(sid)) {
          map.close();
          return;
        }
        legMaps.set(sid, map);
        const stored = (added: boolean) => (e: ItemEvent) => {
          const key = keyOf(e);
          if (!isLiveKey(key)) return;
          if (key === 'state') h.calls();
          h.messages(sid, { key, added });
        };
        map.on('itemAdded', stored(true));
        map.on('itemUpdated', stored(false));
        // Opened after the first read: read once more, so nothing stored in between is missed.
        h.messages(sid);
      })
      .catch(() => {
        // No Map yet (a leg that never rang): nothing to watch, and nothing stored to count.
        if (mine === generation) h.messages(sid);
      });
  }
}

/** Whether the live channel is up (else the console polls slowly). */
export const isLive = () => document.body.dataset.live === 'connected';

export function stopLive(): void {
  generation++;
  stopFallback();
  for (const map of legMaps.values()) map.close();
  legMaps.clear();
  wanted = [];
  for (const map of indexShards) map.close();
  indexShards = [];
  void client?.shutdown().catch(() => undefined);
  client = undefined;
  handlers = undefined;
  wasConnected = false;
  setStatus('', 'off');
}
