// In-memory Twilio Sync v1 REST (Services, Documents, Maps + Items, Lists + Items).
// Mounted by the caller at /sync/v1 after urlencoded body parsing and Basic auth; the caller
// adds twilioErrorHandler after it. Contract: the OAI spec
// twilio_sync_v1.json (field names, params, response shapes) and, where it is silent, the readings
// in docs/LIMITS.md's "What is not verified against live Twilio" (e.g. a missing Map's 404 codes).
//   state.ts        services and objects, TTL expiry, per-object write rates, lookups
//   params.ts       form parameters (TTL, Data, UniqueName, If-Match); paging.ts: pages and cursors
//   json.ts         resources as JSON
//   services.ts, documents.ts, collections.ts (Maps, Lists), items.ts (their items): the routes
import express from 'express';
import { registerCollection } from './collections';
import { registerDocuments } from './documents';
import { registerItems } from './items';
import { registerServices } from './services';
import { LIST_KIND, MAP_KIND, SyncState, type SyncOptions } from './state';

export type { SyncOptions } from './state';

export function createSyncRouter(opts: SyncOptions): {
  router: express.Router;
  reset(): void;
  stats(): { writesByObject: Record<string, number[]> };
  /** The state itself, for the sandbox's Sync client channel (sandbox/twilsock.ts). */
  state: SyncState;
} {
  const state = new SyncState(opts);
  const router = express.Router();
  registerServices(router, state);
  registerDocuments(router, state);
  registerCollection(router, state, MAP_KIND);
  registerCollection(router, state, LIST_KIND);
  registerItems(router, state, MAP_KIND);
  registerItems(router, state, LIST_KIND);
  return { router, reset: () => state.reset(), stats: () => state.stats(), state };
}
