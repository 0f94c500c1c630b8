// `npm run wire`, the importable core: points the config's phone numbers and TwiML App at the
// deployed `/voice`, idempotently. plan → (refuse | print) → apply. Nothing is written before the
// whole plan is known, so a refusal or a missing number changes nothing.
import type { TwilioClient } from '../../lib/platform/twilio-client';
import { isTwilioRestError } from '../../lib/platform/errors';
import { resolveBaseUrl, type DeployedEnvironment, type EnvironmentLister } from './base-url';
import type { ServiceConfig } from './service-config';

export interface WireOptions {
  /** Print the plan, change nothing. */
  dryRun?: boolean;
  /** Rewire numbers that point somewhere else. */
  force?: boolean;
  /** Where the functions are (wins over the config's baseUrl/domain and .twiliodeployinfo). */
  baseUrl?: string | undefined;
  /** The project root: where `.twiliodeployinfo` is. Default: process.cwd(). */
  cwd?: string;
  /** Receives every output line (the plan, progress, the variables to set). */
  log?: (line: string) => void;
  /** Serverless environments lookup for .twiliodeployinfo; default: the Twilio client. */
  listEnvironments?: EnvironmentLister;
}

export type Change =
  | {
      kind: 'number';
      sid: string;
      phoneNumber: string;
      update: { voiceUrl: string; voiceMethod: 'POST'; voiceApplicationSid?: '' };
      forced: boolean;
      description: string;
    }
  | { kind: 'create-app'; friendlyName: string; voiceUrl: string; description: string }
  | {
      kind: 'update-app';
      sid: string;
      friendlyName: string;
      update: { voiceUrl: string; voiceMethod: 'POST' };
      description: string;
    };

/** A number that answers somewhere that is not our /voice. */
export interface Conflict {
  phoneNumber: string;
  sid: string;
  description: string;
}

export interface Plan {
  accountSid: string;
  baseUrl: string;
  baseUrlFrom: string;
  voiceUrl: string;
  changes: Change[];
  conflicts: Conflict[];
  warnings: string[];
  /** The TwiML App's SID when it already exists. */
  applicationSid?: string;
}

export interface WireResult {
  plan: Plan;
  applied: boolean;
  /** TWIML_APP_SID, CALLER_ID, CLIENT_IDENTITY, SYNC_SERVICE_SID (TWIML_APP_SID absent on a dry run that would create it). */
  variables: Record<string, string>;
}

/** Something is wrong with the account or the config (a number not in the account, …): exit 1. */
export class WireError extends Error {
  override name = 'WireError';
  readonly exitCode: number = 1;
}

/** Numbers answer somewhere else and --force was not given: exit 2. Nothing was changed. */
export class WireRefusal extends WireError {
  override name = 'WireRefusal';
  override readonly exitCode = 2;
  constructor(readonly conflicts: Conflict[]) {
    super(
      `Refusing to rewire ${conflicts.length === 1 ? 'a number that answers' : `${conflicts.length} numbers that answer`} somewhere else ` +
        `(nothing was changed):\n${conflicts.map((c) => `  ! ${c.description}`).join('\n')}\n` +
        'Check that nothing else needs them, then run again with --force to point them at this project.',
    );
  }
}

const q = (s: string | null | undefined) => `'${s ?? ''}'`;

const defaultEnvironments =
  (client: TwilioClient): EnvironmentLister =>
  async (serviceSid) =>
    (await client.serverless.v1.services(serviceSid).environments.list()).map((e): DeployedEnvironment => ({
      uniqueName: e.uniqueName,
      domainName: e.domainName,
      buildSid: e.buildSid ?? null,
    }));

/** Reads the account and works out what has to change. Writes nothing. */
export async function planWiring(
  client: TwilioClient,
  config: ServiceConfig,
  options: WireOptions = {},
): Promise<Plan> {
  const accountSid = client.accountSid;
  const { baseUrl, from } = await resolveBaseUrl({
    override: options.baseUrl,
    config,
    accountSid,
    dir: options.cwd ?? process.cwd(),
    listEnvironments: options.listEnvironments ?? defaultEnvironments(client),
  });
  const voiceUrl = `${baseUrl}/voice`;
  const changes: Change[] = [];
  const conflicts: Conflict[] = [];
  const warnings: string[] = [];

  // The TwiML App, found by its friendly name.
  const { friendlyName } = config.twimlApp;
  const apps = (await client.applications.list({ friendlyName })).filter((a) => a.friendlyName === friendlyName);
  if (apps.length > 1) {
    throw new WireError(
      `${apps.length} TwiML Apps are named '${friendlyName}' (${apps.map((a) => a.sid).join(', ')}): ` +
        'delete or rename all but one, or choose another twimlApp.friendlyName.',
    );
  }
  const app = apps[0];
  if (!app) {
    changes.push({
      kind: 'create-app',
      friendlyName,
      voiceUrl,
      description: `TwiML App ${q(friendlyName)}: create with voice URL ${q(voiceUrl)} (POST)`,
    });
  } else if (app.voiceUrl !== voiceUrl || app.voiceMethod !== 'POST') {
    const parts = [];
    if (app.voiceUrl !== voiceUrl) parts.push(`voice URL ${q(app.voiceUrl)} → ${q(voiceUrl)}`);
    if (app.voiceMethod !== 'POST') parts.push(`voice method ${app.voiceMethod} → POST`);
    changes.push({
      kind: 'update-app',
      sid: app.sid,
      friendlyName,
      update: { voiceUrl, voiceMethod: 'POST' },
      description: `TwiML App ${q(friendlyName)} (${app.sid}): ${parts.join(', ')}`,
    });
  }

  // The numbers.
  const missing: string[] = [];
  for (const phoneNumber of config.phoneNumbers) {
    const found = (await client.incomingPhoneNumbers.list({ phoneNumber })).filter(
      (n) => n.phoneNumber === phoneNumber,
    );
    const n = found[0];
    if (!n) {
      missing.push(phoneNumber);
      continue;
    }
    const viaOurApp = !!n.voiceApplicationSid && n.voiceApplicationSid === app?.sid;
    const pointsElsewhere = n.voiceApplicationSid
      ? !viaOurApp
      : n.voiceUrl !== '' && n.voiceUrl !== voiceUrl && n.voiceUrl != null;
    if (pointsElsewhere) {
      conflicts.push({
        phoneNumber,
        sid: n.sid,
        description: n.voiceApplicationSid
          ? `number ${phoneNumber} (${n.sid}) is wired to TwiML App ${n.voiceApplicationSid}, which is not ${q(friendlyName)}`
          : `number ${phoneNumber} (${n.sid}) answers at ${q(n.voiceUrl)}, not at ${q(voiceUrl)}`,
      });
    }
    if (n.voiceApplicationSid || n.voiceUrl !== voiceUrl || n.voiceMethod !== 'POST') {
      const parts = [];
      if (n.voiceApplicationSid) parts.push(`TwiML App ${n.voiceApplicationSid} → none`);
      if (n.voiceUrl !== voiceUrl) parts.push(`voice URL ${q(n.voiceUrl)} → ${q(voiceUrl)}`);
      if (n.voiceMethod !== 'POST') parts.push(`voice method ${n.voiceMethod} → POST`);
      changes.push({
        kind: 'number',
        sid: n.sid,
        phoneNumber,
        update: {
          voiceUrl,
          voiceMethod: 'POST',
          ...(n.voiceApplicationSid ? { voiceApplicationSid: '' as const } : {}),
        },
        forced: pointsElsewhere,
        description: `number ${phoneNumber} (${n.sid}): ${parts.join(', ')}${pointsElsewhere ? ' [needs --force]' : ''}`,
      });
    }
  }
  if (missing.length > 0) {
    throw new WireError(
      `${missing.length === 1 ? 'This number is' : 'These numbers are'} not in account ${accountSid}: ${missing.join(', ')}. ` +
        'Buy or port it in the Console, or fix phoneNumbers in the service config.',
    );
  }

  warnings.push(...(await checkCallerId(client, config.callerId)));
  warnings.push(...(await checkSyncService(client, config.syncServiceSid)));

  return {
    accountSid,
    baseUrl,
    baseUrlFrom: from,
    voiceUrl,
    changes,
    conflicts,
    warnings,
    ...(app ? { applicationSid: app.sid } : {}),
  };
}

/** Twilio only lets calls show a number the account owns or has verified. */
async function checkCallerId(client: TwilioClient, callerId: string): Promise<string[]> {
  const owned = await client.incomingPhoneNumbers.list({ phoneNumber: callerId });
  if (owned.some((n) => n.phoneNumber === callerId)) return [];
  try {
    const verified = await client.outgoingCallerIds.list({ phoneNumber: callerId });
    if (verified.some((c) => c.phoneNumber === callerId)) return [];
  } catch {
    return [
      `callerId ${callerId} is not a number of this account, and its verified caller IDs could not be read: calls to phones may be refused.`,
    ];
  }
  return [
    `callerId ${callerId} is neither a number of this account nor a verified caller ID: Twilio will refuse it for calls to phones.`,
  ];
}

async function checkSyncService(client: TwilioClient, sid: string): Promise<string[]> {
  try {
    await client.sync.v1.services(sid).fetch();
    return [];
  } catch (err) {
    if (isTwilioRestError(err) && err.status === 404 && sid !== 'default') {
      throw new WireError(`syncServiceSid ${sid} is not a Sync service of this account (Sync answered 404).`);
    }
    return [`Sync service ${q(sid)} could not be checked: ${(err as Error).message}`];
  }
}

export function formatPlan(plan: Plan, force = false): string[] {
  const lines = [`Wiring account ${plan.accountSid} to ${plan.voiceUrl} (base URL from ${plan.baseUrlFrom})`];
  if (plan.changes.length === 0) {
    lines.push('Plan: no changes (everything already points at this /voice).');
  } else {
    lines.push(`Plan: ${plan.changes.length} change${plan.changes.length === 1 ? '' : 's'}`);
    for (const c of plan.changes) {
      const mark = c.kind === 'create-app' ? '+' : '~';
      lines.push(
        `  ${mark} ${c.kind === 'number' && c.forced && force ? c.description.replace('[needs --force]', '[--force]') : c.description}`,
      );
    }
  }
  for (const w of plan.warnings) lines.push(`Warning: ${w}`);
  return lines;
}

export function wiringVariables(config: ServiceConfig, applicationSid: string | undefined): Record<string, string> {
  return {
    ...(applicationSid ? { TWIML_APP_SID: applicationSid } : {}),
    CALLER_ID: config.callerId,
    CLIENT_IDENTITY: config.clientIdentity,
    SYNC_SERVICE_SID: config.syncServiceSid,
  };
}

export function formatVariables(result: WireResult): string[] {
  const lines = [
    'Set these in .env, then run `npm run deploy` again (`npm run setup` sets them on the deployed environment and in .env, without a second deploy):',
    ...Object.entries(result.variables).map(([k, v]) => `  ${k}=${v}`),
  ];
  if (!result.variables.TWIML_APP_SID) lines.push('  TWIML_APP_SID=<the SID of the TwiML App this run would create>');
  if (!/\.twil\.io$/i.test(new URL(result.plan.baseUrl).hostname)) {
    lines.push(
      `Where the functions run behind ${result.plan.baseUrl} (a tunnel, the sandbox), also set PUBLIC_BASE_URL=${result.plan.baseUrl} there.`,
    );
  }
  return lines;
}

/** Makes the plan's changes, in order; the TwiML App's SID (made now, or as it was). */
export async function applyWiring(
  client: TwilioClient,
  plan: Plan,
  log: (line: string) => void,
): Promise<string | undefined> {
  let applicationSid = plan.applicationSid;
  for (const c of plan.changes) {
    if (c.kind === 'create-app') {
      const created = await client.applications.create({
        friendlyName: c.friendlyName,
        voiceUrl: c.voiceUrl,
        voiceMethod: 'POST',
      });
      applicationSid = created.sid;
      log(`  done: TwiML App ${q(c.friendlyName)} created: ${created.sid}`);
    } else if (c.kind === 'update-app') {
      await client.applications(c.sid).update(c.update);
      log(`  done: TwiML App ${q(c.friendlyName)} (${c.sid}) updated`);
    } else {
      await client.incomingPhoneNumbers(c.sid).update(c.update);
      log(`  done: number ${c.phoneNumber} (${c.sid}) updated`);
    }
  }
  return applicationSid;
}

/** Plans, prints, refuses or applies. Throws WireRefusal (exit 2) or WireError (exit 1). */
export async function wire(
  client: TwilioClient,
  config: ServiceConfig,
  options: WireOptions = {},
): Promise<WireResult> {
  const log = options.log ?? (() => {});
  const plan = await planWiring(client, config, options);
  for (const line of formatPlan(plan, options.force)) log(line);
  if (plan.conflicts.length > 0 && !options.force) throw new WireRefusal(plan.conflicts);

  const applied = !options.dryRun && plan.changes.length > 0;
  let applicationSid = plan.applicationSid;
  if (options.dryRun) {
    if (plan.changes.length > 0) log('Dry run: nothing was changed.');
  } else {
    applicationSid = await applyWiring(client, plan, log);
  }
  const result: WireResult = { plan, applied, variables: wiringVariables(config, applicationSid) };
  for (const line of formatVariables(result)) log(line);
  return result;
}
