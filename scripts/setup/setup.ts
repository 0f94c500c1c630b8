// `npm run setup`, the importable core: after the first `npm run deploy`, one command makes the
// deployment answer calls. It finds the deployed environment, makes (or keeps) the API key /token
// signs with, points the TwiML App and the numbers at its /voice (scripts/wire), sets the variables
// those steps decide on the environment through the Variables API (Twilio: "subsequent Function
// executions use the new value without the need for deploying new code") and in `.env` (so the next
// `npm run deploy`, which makes the environment equal `.env`, keeps them), and creates the first
// agent (CLIENT_IDENTITY) with a password shown once. plan → (refuse | print) → apply; idempotent.
import { randomBytes } from 'node:crypto';
import type { TwilioClient } from '../../lib/platform/twilio-client';
import { isTwilioRestError } from '../../lib/platform/errors';
import { findDeployment } from '../deploy/deployed';
import { AgentStore, generatePassword, newAgentRecord } from '../../lib/auth/agents';
import type { ServiceConfig } from '../wire/service-config';
import { applyWiring, formatPlan, planWiring, WireRefusal, type Plan as WiringPlan } from '../wire/wire';

/** What setup writes: the variables /voice, /token and the console need that a deploy cannot know. */
export const SETUP_VARIABLES = [
  'API_KEY_SID',
  'API_KEY_SECRET',
  'TWIML_APP_SID',
  'CALLER_ID',
  'CLIENT_IDENTITY',
  'SYNC_SERVICE_SID',
  'OPERATOR_SECRET',
] as const;
type SetupVariable = (typeof SETUP_VARIABLES)[number];

/** The shortest OPERATOR_SECRET the functions accept (lib/platform/config.ts). */
const OPERATOR_SECRET_MIN = 32;
/** Twilio's limits on a Variable (Serverless API: Key ≤ 128 characters, Value ≤ 450 bytes). */
const VARIABLE_VALUE_MAX_BYTES = 450;

export interface SetupOptions {
  serviceName: string;
  /** The environment's domain suffix (`dev`; '' for the production environment). */
  environment: string;
  /** `.env` as it is now (what setup keeps, and where it adds what it makes). */
  dotEnv: Record<string, string>;
  dryRun?: boolean;
  /** Rewire numbers that point somewhere else (as `npm run wire -- --force`). */
  force?: boolean;
  /** Where the functions are, when not https://<the environment's domain> (a custom domain). */
  baseUrl?: string | undefined;
  /** What the client authenticates with: an API key may be a Standard one, which cannot make keys. */
  credential: 'auth-token' | 'api-key';
  log?: (line: string) => void;
  /**
   * Writes these variables into `.env` (replacing their lines, keeping every other line). Called as
   * soon as a new key exists (its secret is shown only once) and once everything is set.
   */
  saveDotEnv: (values: Record<string, string>) => void;
}

export interface SetupResult {
  /** What `.env` holds now for the setup's variables (nothing on a dry run). */
  dotEnvValues: Partial<Record<SetupVariable, string>>;
  /** The variables set on the environment, by name (values never logged). */
  environmentChanges: { added: string[]; changed: string[] };
  /** The first agent's password when this run created it (shown once). */
  agentPassword?: string;
  applied: boolean;
}

export class SetupError extends Error {
  override name = 'SetupError';
}

/** Plans and (unless a dry run) applies; every line of the plan goes to `log`, values never (but the password, once). */
export async function setup(client: TwilioClient, config: ServiceConfig, options: SetupOptions): Promise<SetupResult> {
  const log = options.log ?? (() => {});
  const env = options.dotEnv;
  const where = `service ${options.serviceName}, environment ${options.environment || '(production)'}`;
  const {
    service,
    environment,
    variables: variablesNow,
  } = await findDeployment(client, options.serviceName, options.environment);
  if (!service || !environment)
    throw new SetupError(`Nothing is deployed yet (${where}): run \`npm run deploy\` first, then setup.`);
  const baseUrl = options.baseUrl ?? `https://${environment.domainName}`;
  log(`Setting up ${baseUrl} (${where}).`);

  // 1. The API key /token signs with: kept when `.env` has one, else made (Auth Token or Main key).
  const keyKept = Boolean(env.API_KEY_SID && env.API_KEY_SECRET);
  log(
    keyKept
      ? `API key: ${env.API_KEY_SID} (from .env) kept.`
      : `API key: a new Standard key, for /token${options.credential === 'api-key' ? ' (only a Main key may make one: a Standard key, as the Twilio CLI stores, is refused)' : ''}.`,
  );

  // 2. The TwiML App and the numbers (scripts/wire).
  const wiring: WiringPlan = await planWiring(client, config, { baseUrl });
  for (const line of formatPlan(wiring, options.force)) log(line);
  if (wiring.conflicts.length > 0 && !options.force) throw new WireRefusal(wiring.conflicts);

  // 3. The first agent.
  const agents = new AgentStore(client, { syncServiceSid: config.syncServiceSid });
  const agentExists = (await agents.get(config.clientIdentity)) !== undefined;
  log(
    agentExists
      ? `First agent: ${config.clientIdentity} exists (kept; reset its password in the console if needed).`
      : `First agent: ${config.clientIdentity}, with a password shown once.`,
  );

  const operatorSecret =
    env.OPERATOR_SECRET && env.OPERATOR_SECRET.length >= OPERATOR_SECRET_MIN
      ? env.OPERATOR_SECRET
      : randomBytes(32).toString('base64url');
  // Known before anything is made: which variables change (a new key or App shows as a change).
  const wanted = (keySid: string, keySecret: string, appSid: string): Record<SetupVariable, string> => ({
    API_KEY_SID: keySid,
    API_KEY_SECRET: keySecret,
    TWIML_APP_SID: appSid,
    CALLER_ID: config.callerId,
    CLIENT_IDENTITY: config.clientIdentity,
    SYNC_SERVICE_SID: config.syncServiceSid,
    OPERATOR_SECRET: operatorSecret,
  });
  const preview = wanted(
    keyKept ? env.API_KEY_SID! : '(new key)',
    keyKept ? env.API_KEY_SECRET! : '(new key)',
    wiring.applicationSid ?? '(new App)',
  );
  const diff = (values: Record<string, string>, current: Map<string, string>) => ({
    added: Object.keys(values).filter((k) => !current.has(k)),
    changed: Object.keys(values).filter((k) => current.has(k) && current.get(k) !== values[k]),
  });
  const deployedNow = new Map(variablesNow.map((v) => [v.key, v.value]));
  const planned = diff(preview, deployedNow);
  const inDotEnv = diff(preview, new Map(Object.entries(env).filter(([, v]) => v !== '')));
  const names = (keys: string[]) => (keys.length ? keys.join(', ') : '—');
  log(`Variables of the environment: added ${names(planned.added)}; changed ${names(planned.changed)}.`);
  log(`Variables of .env: added ${names(inDotEnv.added)}; changed ${names(inDotEnv.changed)}.`);
  if (options.dryRun) {
    log('Dry run: nothing was changed.');
    return { dotEnvValues: {}, environmentChanges: planned, applied: false };
  }

  // Apply, in an order that leaves nothing half made that a second run would not finish.
  let keySid = env.API_KEY_SID ?? '';
  let keySecret = env.API_KEY_SECRET ?? '';
  if (!keyKept) {
    // First of all changes: refused, nothing else has changed.
    const made = await client.newKeys
      .create({ friendlyName: `Call Message Events (${options.serviceName})` })
      .catch((err: unknown) => {
        if (isTwilioRestError(err) && (err.status === 401 || err.status === 403))
          throw new SetupError(
            `Twilio refused to make an API key with these credentials (HTTP ${err.status}): a Standard API key, as the Twilio CLI stores, cannot make one. Create an API key in the Console (Account → API keys) and put API_KEY_SID and API_KEY_SECRET in .env, or run setup with ACCOUNT_SID and AUTH_TOKEN. Nothing was changed.`,
          );
        throw err;
      });
    keySid = made.sid;
    keySecret = made.secret;
    options.saveDotEnv({ API_KEY_SID: keySid, API_KEY_SECRET: keySecret });
    log(`  done: API key ${keySid} made (in .env)`);
  }
  const appSid = await applyWiring(client, wiring, log);
  if (!appSid) throw new SetupError('The TwiML App was neither found nor made: run setup again.');
  const values = wanted(keySid, keySecret, appSid);
  for (const [key, value] of Object.entries(values))
    if (Buffer.byteLength(value) > VARIABLE_VALUE_MAX_BYTES)
      throw new SetupError(`${key} is longer than a Twilio variable may be (450 bytes).`);
  const changes = diff(values, deployedNow);
  const variables = client.serverless.v1.services(service.sid).environments(environment.sid).variables;
  for (const [key, value] of Object.entries(values)) {
    const existing = variablesNow.find((v) => v.key === key);
    if (!existing) await variables.create({ key, value });
    else if (existing.value !== value) await variables(existing.sid).update({ value });
  }
  log(`  done: environment variables set (${names([...changes.added, ...changes.changed])})`);
  options.saveDotEnv(values);
  log('  done: .env holds the same values (the next `npm run deploy` keeps them)');
  if (operatorSecret !== env.OPERATOR_SECRET)
    log('  done: OPERATOR_SECRET generated (it opens the console; it is in .env)');

  let agentPassword: string | undefined;
  if (!agentExists) {
    agentPassword = generatePassword();
    await agents.create(await newAgentRecord(config.clientIdentity, config.clientIdentity, agentPassword));
    log(`  done: agent ${config.clientIdentity} created. Its password, shown this once: ${agentPassword}`);
  }
  return {
    dotEnvValues: values,
    environmentChanges: changes,
    ...(agentPassword ? { agentPassword } : {}),
    applied: true,
  };
}
