// Sync v1 resources as JSON, field order as in the OAI schemas (twilio_sync_v1.json).
import { iso8601 } from '../../http';
import { isoOrNull } from './params';
import {
  MAP_KIND,
  type Collection,
  type CollectionKind,
  type Doc,
  type Item,
  type Service,
  type SyncObject,
  type SyncState,
} from './state';

export const PUBLIC_BASE = 'https://sync.twilio.com/v1';

export const serviceUrl = (svc: Service) => `${PUBLIC_BASE}/Services/${svc.sid}`;

export function serviceJson(state: SyncState, svc: Service) {
  const url = serviceUrl(svc);
  return {
    sid: svc.sid,
    unique_name: svc.uniqueName,
    account_sid: state.accountSid,
    friendly_name: svc.friendlyName,
    date_created: iso8601(svc.created),
    date_updated: iso8601(svc.updated),
    url,
    webhook_url: svc.webhookUrl,
    webhooks_from_rest_enabled: svc.webhooksFromRestEnabled,
    reachability_webhooks_enabled: svc.reachabilityWebhooksEnabled,
    acl_enabled: svc.aclEnabled,
    reachability_debouncing_enabled: svc.reachabilityDebouncingEnabled,
    reachability_debouncing_window: svc.reachabilityDebouncingWindow,
    links: {
      documents: `${url}/Documents`,
      lists: `${url}/Lists`,
      maps: `${url}/Maps`,
      streams: `${url}/Streams`,
    },
  };
}

export function documentJson(state: SyncState, svc: Service, d: Doc) {
  const url = `${serviceUrl(svc)}/Documents/${d.sid}`;
  return {
    sid: d.sid,
    unique_name: d.uniqueName,
    account_sid: state.accountSid,
    service_sid: svc.sid,
    url,
    links: { permissions: `${url}/Permissions` },
    revision: String(d.revision),
    data: d.data,
    date_expires: isoOrNull(d.expires),
    date_created: iso8601(d.created),
    date_updated: iso8601(d.updated),
    created_by: 'system',
  };
}

export function collectionUrl(svc: Service, kind: CollectionKind, c: SyncObject) {
  return `${serviceUrl(svc)}/${kind.path}/${c.sid}`;
}

export function collectionJson(state: SyncState, svc: Service, kind: CollectionKind, c: SyncObject) {
  const url = collectionUrl(svc, kind, c);
  return {
    sid: c.sid,
    unique_name: c.uniqueName,
    account_sid: state.accountSid,
    service_sid: svc.sid,
    url,
    links: { items: `${url}/Items`, permissions: `${url}/Permissions` },
    revision: String(c.revision),
    date_expires: isoOrNull(c.expires),
    date_created: iso8601(c.created),
    date_updated: iso8601(c.updated),
    created_by: 'system',
  };
}

export function itemJson<K extends string | number>(
  state: SyncState,
  svc: Service,
  kind: CollectionKind,
  c: Collection<K>,
  it: Item<K>,
) {
  const idField = kind === MAP_KIND ? 'key' : 'index';
  return {
    [idField]: it.id,
    account_sid: state.accountSid,
    service_sid: svc.sid,
    [kind.sidField]: c.sid,
    url: `${collectionUrl(svc, kind, c)}/Items/${encodeURIComponent(String(it.id))}`,
    revision: String(it.revision),
    data: it.data,
    date_expires: isoOrNull(it.expires),
    date_created: iso8601(it.created),
    date_updated: iso8601(it.updated),
    created_by: 'system',
  };
}
