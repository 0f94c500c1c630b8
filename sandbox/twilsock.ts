// The sandbox's Sync client channel: what `wss://tsock.<region>.twilio.com/v3/wsconnect` (Twilsock)
// and the Sync service behind it (`https://cds.<region>.twilio.com`) are to the real `twilio-sync`
// JS SDK, for the sandbox. The SDK reaches it through its options `twilsock.uri` and `cdsUri`, which
// /operator-sync-token names only in the sandbox. Protocol: as measured from the twilio-sync 4.0.1 and
// twilsock sources (docs/SYNC-CLIENT-PROTOCOL.md); every frame is binary:
//   TWILSOCK V3.0 <header bytes>\r\n<JSON header>\r\n<payload of header.payload_size bytes>
//   SDK → sandbox                          sandbox → SDK
//   init {token, capabilities, …}          reply {status 200, continuation_token, capabilities: [client_update]}
//                                          (a token that is not the sandbox API key's, or has no data_sync
//                                          grant: reply status 401 with its errorCode)
//   update {token}                         reply {status 200} (or 401)
//   message {http_request, payload}        reply {status 200, http_status, http_headers} + the JSON body:
//     GET  /v3/Maps/<sid or unique name>     the Map (404 54200 when missing)
//     POST /v3/Maps {unique_name}            a new Map (409 54301 when the name is taken)
//     POST /v4/Subscriptions {action, correlation_id, requests}
//                                          {estimated_delivery_in_ms, max_batch_size}, then a notification
//                                          subscription_established (replay_status completed, after the
//                                          events since the SDK's last_event_id) | subscription_failed |
//                                          subscription_canceled
//   reply (the SDK's receipt of a notification): nothing
//   close                                  the socket closes
// Notifications: `{method: notification, message_type: twilio.sync.event}` with
// `{event_type, correlation_id?, event}`; an item written through the REST API to a subscribed Map
// becomes map_item_added / map_item_updated / map_item_removed (`id` = the Map's revision after it).
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { newSid } from './http';
import { readAccessToken, TokenError, type KeySecrets } from './gateway-token';
import { collectionJson } from './rest/sync/json';
import { MAP_KIND, findIn, type Collection, type ItemChange, type Service, type SyncState } from './rest/sync/state';

export const TWILSOCK_PATH = '/v3/wsconnect';
/** The events kept per Map for a subscription that asks for those since its last_event_id. */
const REPLAY_EVENTS = 200;
/** What the SDK waits for a subscription's answer before it asks again (Sync's field; the sandbox answers at once). */
const ESTIMATED_DELIVERY_MS = 5000;
const MAX_BATCH_SIZE = 100;

type Json = Record<string, unknown>;

interface Frame {
  header: Json;
  payload: unknown;
}

/** One Sync client channel's counters: what the console's live channel costs (bench/console-live.ts). */
export interface TwilsockStats {
  /** WebSockets opened since the sandbox started (or was reset). */
  connections: number;
  /** Open now. */
  open: number;
  /** Connected time of every socket, open ones counted up to now (ms). */
  connectedMs: number;
  /** Upstream requests (the SDK's requests to Sync through the socket), by `METHOD path-pattern`. */
  upstream: Record<string, number>;
  /** Notifications sent (events and subscription answers). */
  notifications: number;
}

export interface TwilsockOptions {
  state: SyncState;
  accountSid: string;
  /** The account's API keys: a Sync token is checked against the key it names. */
  keys: KeySecrets;
  /** Each upstream request, as the REST requests are logged (product `sync-client`). */
  record?: (request: { at: number; method: string; route: string; status: number; ms: number }) => void;
}

export interface TwilsockServer {
  stats(): TwilsockStats;
  reset(): void;
  close(): void;
}

function parseFrame(data: Buffer): Frame | undefined {
  const lineEnd = data.indexOf('\r\n');
  if (lineEnd < 0) return undefined;
  const [protocol, version, size] = data.subarray(0, lineEnd).toString('latin1').split(' ');
  if (protocol !== 'TWILSOCK' || version !== 'V3.0') return undefined;
  const headerEnd = lineEnd + 2 + Number(size);
  let header: Json;
  try {
    header = JSON.parse(data.subarray(lineEnd + 2, headerEnd).toString('utf8')) as Json;
  } catch {
    return undefined;
  }
  const payloadSize = Number(header.payload_size ?? 0);
  let payload: unknown;
  if (payloadSize > 0) {
    const text = data.subarray(headerEnd + 2, headerEnd + 2 + payloadSize).toString('utf8');
    try {
      payload = JSON.parse(text);
    } catch {
      payload = text;
    }
  }
  return { header, payload };
}

function packet(header: Json, payload?: unknown): Buffer {
  const body = payload === undefined ? '' : JSON.stringify(payload);
  const head = JSON.stringify({ ...header, payload_size: Buffer.byteLength(body) });
  return Buffer.from(`TWILSOCK V3.0 ${Buffer.byteLength(head)}\r\n${head}\r\n${body}`, 'utf8');
}

const HTTP_STATUS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  400: 'Bad Request',
  404: 'Not Found',
  409: 'Conflict',
};

class UpstreamError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const TYPES = { added: 'map_item_added', updated: 'map_item_updated', removed: 'map_item_removed' } as const;

interface MapEvent {
  id: number;
  type: 'map_item_added' | 'map_item_updated' | 'map_item_removed';
  event: Json;
}

export function attachTwilsock(server: Server, opts: TwilsockOptions): TwilsockServer {
  const { state } = opts;
  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<Connection>();
  let counters = { connections: 0, closedMs: 0, upstream: {} as Record<string, number>, notifications: 0 };
  /** The last events of each Map (by SID), for a subscription's replay. */
  const recent = new Map<string, MapEvent[]>();

  const serviceOf = (grantService: string | undefined): Service | undefined =>
    state.findService(grantService ?? 'default');

  const mapEvent = (change: ItemChange): MapEvent => {
    const { collection: c, item } = change;
    const type = TYPES[change.type];
    return {
      id: change.eventId,
      type,
      event: {
        id: change.eventId,
        map_sid: c.sid,
        map_unique_name: c.uniqueName,
        map_revision: String(c.revision),
        item_key: String(item.id),
        item_revision: String(item.revision),
        item_data: item.data,
        item_url: `${collectionJson(state, change.svc, MAP_KIND, c).url}/Items/${encodeURIComponent(String(item.id))}`,
        date_created: new Date(item.updated).toISOString(),
        date_expires: item.expires === null ? null : new Date(item.expires).toISOString(),
      },
    };
  };

  const onChange = (change: ItemChange) => {
    if (change.kind !== MAP_KIND) return;
    const event = mapEvent(change);
    let log = recent.get(change.collection.sid);
    if (!log) recent.set(change.collection.sid, (log = []));
    log.push(event);
    if (log.length > REPLAY_EVENTS) log.splice(0, log.length - REPLAY_EVENTS);
    for (const socket of sockets) socket.deliver(change.collection.sid, event);
  };
  state.itemListeners.add(onChange);

  class Connection {
    readonly opened = Date.now();
    serviceSid: string | undefined;
    initialised = false;
    readonly subscribed = new Set<string>();

    constructor(readonly ws: WebSocket) {
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        const frame = parseFrame(isBinary ? data : Buffer.from(data.toString(), 'utf8'));
        if (!frame) {
          this.send({
            method: 'close',
            id: `TM${newSid('').slice(0, 32)}`,
            status: { code: 406, status: 'Not Acceptable' },
          });
          ws.close();
          return;
        }
        this.handle(frame);
      });
      ws.on('close', () => {
        sockets.delete(this);
        counters.closedMs += Date.now() - this.opened;
      });
    }

    send(header: Json, payload?: unknown) {
      if (this.ws.readyState === this.ws.OPEN) this.ws.send(packet(header, payload), { binary: true });
    }

    notify(payload: Json) {
      counters.notifications++;
      this.send(
        {
          method: 'notification',
          id: `TM${newSid('').slice(0, 32)}`,
          message_type: 'twilio.sync.event',
          payload_type: 'application/json',
        },
        payload,
      );
    }

    deliver(mapSid: string, event: MapEvent) {
      if (this.subscribed.has(mapSid)) this.notify({ event_type: event.type, event: event.event });
    }

    /** Checks a token (HS256 with one of the account's API keys, a data_sync grant): its service, or an error status. */
    authorise(token: unknown): { ok: true; service: string | undefined } | { ok: false; status: Json } {
      try {
        readAccessToken(token, opts);
        const [, body = ''] = String(token).split('.');
        const grants = (JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { grants?: Json }).grants ?? {};
        const sync = grants.data_sync as { service_sid?: unknown } | undefined;
        if (!sync) throw new TokenError(20151, 'Access token has no Sync grant');
        const service = typeof sync.service_sid === 'string' ? sync.service_sid : undefined;
        if (!serviceOf(service)) throw new TokenError(20151, `Sync service ${service ?? 'default'} not found`);
        return { ok: true, service };
      } catch (err) {
        const code = err instanceof TokenError ? err.code : 20101;
        // 20104: "Access Token expired or expiration date invalid" (Twilio's error dictionary).
        const errorCode = code === 31205 ? 20104 : code === 31202 ? 20107 : code === 20151 ? 20151 : 20101;
        return {
          ok: false,
          status: { code: 401, status: 'Unauthorized', errorCode, description: (err as Error).message },
        };
      }
    }

    handle({ header, payload }: Frame) {
      const id = header.id;
      switch (header.method) {
        case 'init':
        case 'update': {
          const auth = this.authorise(header.token);
          if (!auth.ok) {
            this.send({ method: 'reply', id, status: auth.status });
            return;
          }
          this.serviceSid = auth.service;
          this.initialised = true;
          this.send({
            method: 'reply',
            id,
            status: { code: 200, status: 'OK' },
            ...(header.method === 'init'
              ? { continuation_token: `sandbox-${newSid('').slice(0, 16)}`, capabilities: ['client_update'] }
              : {}),
          });
          return;
        }
        case 'message': {
          if (!this.initialised) {
            this.send({
              method: 'reply',
              id,
              status: { code: 401, status: 'Unauthorized', description: 'init first' },
            });
            return;
          }
          this.upstream(id, header.http_request as Json | undefined, payload);
          return;
        }
        case 'close':
          this.ws.close();
          return;
        default:
          // reply (the SDK's receipt of a notification), telemetry (never confirmed): nothing to answer.
          return;
      }
    }

    upstream(id: unknown, request: Json | undefined, body: unknown) {
      const started = Date.now();
      const method = String(request?.method ?? 'GET');
      const path = String(request?.path ?? '');
      let status: number;
      let answer: unknown;
      let after: (() => void) | undefined;
      try {
        const result = this.route(method, path, (body ?? {}) as Json);
        status = result.status;
        answer = result.body;
        after = result.after;
      } catch (err) {
        const e = err instanceof UpstreamError ? err : new UpstreamError(400, 20001, (err as Error).message);
        status = e.status;
        answer = { status: e.status, code: e.code, message: e.message };
      }
      const route = `${method} ${path.replace(/\/(MP|ES|ET|TO)[0-9a-f]{32}\b/g, '/{Sid}').replace(/\/Maps\/(?!\{Sid\})[^/]+/, '/Maps/{UniqueName}')}`;
      counters.upstream[route] = (counters.upstream[route] ?? 0) + 1;
      opts.record?.({ at: started, method, route, status, ms: Date.now() - started });
      this.send(
        {
          method: 'reply',
          id,
          payload_type: 'application/json',
          status: { code: 200, status: 'OK' },
          http_status: { code: status, status: HTTP_STATUS[status] ?? 'Error' },
          http_headers: { 'Content-Type': 'application/json' },
        },
        answer,
      );
      after?.();
    }

    route(method: string, path: string, body: Json): { status: number; body: unknown; after?: () => void } {
      const svc = serviceOf(this.serviceSid);
      if (!svc) throw new UpstreamError(404, 54050, 'Service not found');
      state.purge();
      const map = /^\/v3\/Maps\/([^/]+)$/.exec(path);
      if (method === 'GET' && map) {
        const c = findIn(svc.maps, decodeURIComponent(map[1] ?? ''));
        if (!c) throw new UpstreamError(404, 54200, `Map ${map[1] ?? ''} not found`);
        return { status: 200, body: this.mapJson(svc, c) };
      }
      if (method === 'POST' && path === '/v3/Maps') {
        const uniqueName = typeof body.unique_name === 'string' ? body.unique_name : null;
        if (uniqueName !== null && findIn(svc.maps, uniqueName))
          throw new UpstreamError(409, 54301, `Unique name already exists: ${uniqueName}`);
        const ttl = typeof body.ttl === 'number' && body.ttl > 0 ? body.ttl : undefined;
        const c = state.newCollection<string>('MP', uniqueName, ttl);
        svc.maps.set(c.sid, c);
        return { status: 201, body: this.mapJson(svc, c) };
      }
      if (method === 'POST' && path === '/v4/Subscriptions') return this.subscriptions(svc, body);
      throw new UpstreamError(404, 20404, `The requested resource ${path} was not found`);
    }

    mapJson(svc: Service, c: Collection<string | number>) {
      return { ...collectionJson(state, svc, MAP_KIND, c), last_event_id: c.revision };
    }

    subscriptions(svc: Service, body: Json): { status: number; body: unknown; after: () => void } {
      const action = body.action === 'cancel' ? 'cancel' : 'establish';
      const correlationId = body.correlation_id;
      const requests = (Array.isArray(body.requests) ? body.requests : []) as Json[];
      const after = () => {
        for (const request of requests) {
          const sid = String(request.object_sid ?? '');
          if (action === 'cancel') {
            this.subscribed.delete(sid);
            this.notify({
              event_type: 'subscription_canceled',
              correlation_id: correlationId,
              event: { object_sid: sid },
            });
            continue;
          }
          const c = request.object_type === 'map' ? findIn(svc.maps, sid) : undefined;
          if (!c) {
            this.notify({
              event_type: 'subscription_failed',
              correlation_id: correlationId,
              event: { object_sid: sid, error: { status: 404, code: 54200, message: `Map ${sid} not found` } },
            });
            continue;
          }
          this.subscribed.add(c.sid);
          // What was written since the SDK's copy (its last_event_id), then the subscription is ready.
          const since = Number(request.last_event_id ?? -1);
          for (const event of recent.get(c.sid) ?? []) {
            if (event.id > since) this.notify({ event_type: event.type, event: event.event });
          }
          this.notify({
            event_type: 'subscription_established',
            correlation_id: correlationId,
            event: { object_sid: c.sid, object_type: 'map', replay_status: 'completed', last_event_id: c.revision },
          });
        }
      };
      return {
        status: 200,
        body: { estimated_delivery_in_ms: ESTIMATED_DELIVERY_MS, max_batch_size: MAX_BATCH_SIZE },
        after: () => setImmediate(after),
      };
    }
  }

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if ((req.url ?? '').split('?')[0] !== TWILSOCK_PATH) return;
    wss.handleUpgrade(req, socket, head, (ws) => {
      counters.connections++;
      sockets.add(new Connection(ws));
    });
  };
  server.on('upgrade', onUpgrade);

  return {
    stats: () => {
      const now = Date.now();
      return {
        connections: counters.connections,
        open: sockets.size,
        connectedMs: counters.closedMs + [...sockets].reduce((sum, s) => sum + (now - s.opened), 0),
        upstream: { ...counters.upstream },
        notifications: counters.notifications,
      };
    },
    reset: () => {
      recent.clear();
      counters = { connections: sockets.size, closedMs: 0, upstream: {}, notifications: 0 };
    },
    close: () => {
      server.off('upgrade', onUpgrade);
      state.itemListeners.delete(onChange);
      for (const s of sockets) s.ws.terminate();
      wss.close();
    },
  };
}
