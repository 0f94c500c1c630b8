// Whether Sync answers this deployment, for the operator's status page: one read (the named
// service, or the default service's first console index shard). Nothing is written.
import { CONSOLE_INDEX_MAPS } from '../shared/sync-names';
import type { StatusLevel } from '../shared/api-types';
import { isTwilioRestError } from '../platform/errors';
import { isNotFound, SyncAccess } from './sync';

export interface SyncHealth {
  level: StatusLevel;
  service: string;
  detail: string;
  twilioCode?: number;
}

export class SyncProbe extends SyncAccess {
  /** One Map read, retried like every Sync request within the deadline; never throws. */
  async check(): Promise<SyncHealth> {
    const service = this.config.syncServiceSid;
    try {
      if (service === 'default') {
        // The default service always exists; a Map that does not exist yet is an answer too.
        await this.retry(() => this.service().syncMaps(CONSOLE_INDEX_MAPS[0]!).fetch());
      } else {
        await this.retry(() => this.service().fetch());
      }
      return { level: 'ok', service, detail: 'Sync answered.' };
    } catch (err) {
      if (isNotFound(err)) {
        return service === 'default'
          ? { level: 'ok', service, detail: 'Sync answered (no call recorded yet).' }
          : { level: 'error', service, detail: 'SYNC_SERVICE_SID names no Sync service of this account.' };
      }
      const twilioCode = isTwilioRestError(err) ? err.code : undefined;
      const status = isTwilioRestError(err) ? err.status : undefined;
      const detail =
        status === 401 || status === 403
          ? `Sync refused this account's credentials (HTTP ${status}): check ACCOUNT_SID and AUTH_TOKEN.`
          : status !== undefined
            ? `Sync answered HTTP ${status}${twilioCode ? ` (code ${twilioCode})` : ''}.`
            : 'Sync did not answer in time.';
      return { level: 'error', service, detail, ...(twilioCode ? { twilioCode } : {}) };
    }
  }
}
