// `/operator-status`: the status page's one read, behind the operator's session. Whether the
// configuration is complete (which variables are set, never their values), Sync answers, the TwiML
// App and the numbers send their calls to this deployment's /voice, and which version runs. Each
// check runs in parallel and ends as a line of the report: a deployment half configured, or a
// Twilio that does not answer, gets a 200 that says so, never a 500.
import { json, type RouteContext, type RouteResult } from '../http/function-handler';
import { configurationStatus } from '../platform/config-status';
import { DEPLOYED_VERSION } from '../platform/version';
import { isLocalDomain } from '../platform/config';
import { SyncProbe } from '../store/sync-health';
import { wiringStatus } from '../calls/wiring-status';
import type { OperatorStatus } from '../shared/api-types';
import { requireOperator } from './operator';

/** The checks end by then, leaving the rest of the invocation to answer. */
const CHECKS_BUDGET_MS = 6000;

/** The /voice URLs that are this deployment's: PUBLIC_BASE_URL's (ctx.base) and its own domain's. */
function voiceUrls(ctx: RouteContext): string[] {
  const domain = ctx.config.raw.DOMAIN_NAME;
  const own = domain ? `${isLocalDomain(domain) ? 'http' : 'https'}://${domain}/voice` : undefined;
  return [...new Set([`${ctx.base}/voice`, ...(own ? [own] : [])])];
}

export async function operatorStatus(ctx: RouteContext): Promise<RouteResult> {
  requireOperator(ctx);
  const { config } = ctx;
  const deadline = Math.min(ctx.deadline, Date.now() + CHECKS_BUDGET_MS);
  const urls = voiceUrls(ctx);
  const configuration = configurationStatus(config.raw);
  const [sync, wiring] = await Promise.all([
    new SyncProbe(ctx.client(), config, deadline).check(),
    wiringStatus(ctx.client(), { voiceUrls: urls, twimlAppSid: config.raw.TWIML_APP_SID || undefined }, deadline),
  ]);
  const answer: OperatorStatus = {
    version: DEPLOYED_VERSION,
    checkedAt: new Date().toISOString(),
    voiceUrl: `${ctx.base}/voice`,
    configuration,
    sync,
    ...wiring,
  };
  ctx.log.info({
    configuration: configuration.level,
    sync: sync.level,
    twimlApp: wiring.twimlApp.level,
    numbers: wiring.numbers.level,
  });
  return json(200, answer);
}
