// The settings every route needs, read and checked here once per request (readConfig), with errors
// that name the variable. A setting only one module uses is read from `raw` where it is used
// (requireVariable names it when it must be set): e.g. /voice's CLIENT_IDENTITY and DIAL_ALLOWED,
// /token's API key, OPERATOR_SECRET, forwarding's APP_WEBHOOK_URL and APP_WEBHOOK_SECRET, the backend keys' BACKEND_API_KEYS.
import { apiError, type HttpError } from '../shared/error-catalogue';

/** twilio-run serves `localhost:<port>`; a deployed Function's DOMAIN_NAME is its twil.io host. */
export const isLocalDomain = (domainName: string | undefined) =>
  /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(domainName ?? '');

export type Env = Record<string, string | undefined>;

export interface Config {
  accountSid: string;
  authToken: string;
  /** Sync service for call state; `default` is the service `Runtime.getSync()` uses. */
  syncServiceSid: string;
  /** Seconds a finished call's Sync objects are kept. */
  finishedCallTtl: number;
  /** Seconds an unfinished call's objects live if its end is never reported (safety net). */
  activeCallTtl: number;
  /** https://example.com — overrides the base of every callback URL (tunnels, custom domains). */
  publicBaseUrl?: string | undefined;
  /**
   * The local sandbox's own endpoints for the browser pages, read only where twilio-run serves
   * (localhost), never in a deployed Function: SANDBOX_GATEWAY, the Voice SDK signaling gateway
   * (`host:port`), and SANDBOX_TWILSOCK_URL, the Sync client channel (`ws://…/v3/wsconnect`). The
   * functions themselves reach the sandbox as they reach Twilio: `https://<product>.twilio.com`,
   * through the sandbox's proxy (HTTP_PROXY), which the `twilio` client honours by itself.
   */
  sandbox?: { gateway?: string | undefined; twilsockUrl?: string | undefined } | undefined;
  raw: Env;
  /** WEBHOOK_SHARED_KEY_SECRET: verifies webhooks Twilio signs with a SharedKey (Webhooks configuration API). */
  webhookSharedKeySecret?: string | undefined;
  /** REQUIRE_VERIFIED_JSON_CALLBACKS=true: refuse JSON message callbacks whose body could not be verified. */
  requireVerifiedJsonCallbacks?: boolean;
}

/**
 * How a variable leaves a deployment: twilio-run deploy (and `twilio serverless:deploy`) only adds
 * and updates variables, so deploying again without one in .env leaves it deployed.
 */
export const removeFromDeployment = (what: string): string =>
  `remove ${what} from .env and run npm run deploy, which deletes from the deployed environment every variable ` +
  '.env no longer has (twilio-run deploy alone never deletes one).';

export function missingVariable(name: string, why: string): HttpError {
  return apiError('configuration-missing', `Set the environment variable ${name} (${why}).`);
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 31_536_000) {
    throw apiError('configuration-invalid', `${name} must be a whole number of seconds between 1 and 31536000.`);
  }
  return value;
}

function flag(env: Env, name: string): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw apiError('configuration-invalid', `${name} must be true or false.`);
}

/** Shared secrets must resist guessing: shorter ones are refused at start (every route answers 500). */
export const MIN_SECRET_CHARS = 32;
export const SECRET_VARIABLES = ['TOKEN_SECRET', 'OPERATOR_SECRET', 'WEBHOOK_SHARED_KEY_SECRET'] as const;

function checkSecretLengths(env: Env): void {
  for (const name of SECRET_VARIABLES) {
    const value = env[name];
    if (value && value.length < MIN_SECRET_CHARS) {
      throw apiError(
        'configuration-invalid',
        `${name} must be at least ${MIN_SECRET_CHARS} characters: use a long random value (openssl rand -base64 32).`,
      );
    }
  }
}

export function readConfig(env: Env): Config {
  const accountSid = env.ACCOUNT_SID;
  const authToken = env.AUTH_TOKEN;
  if (!accountSid) throw missingVariable('ACCOUNT_SID', 'your Twilio Account SID');
  if (!authToken) throw missingVariable('AUTH_TOKEN', 'your Twilio Auth Token');
  const local = isLocalDomain(env.DOMAIN_NAME);
  // A proxy is how the sandbox stands in for Twilio locally; a deployed Function reaching Twilio
  // through one (a loopback one, left in .env) would reach nothing.
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY'] as const) {
    if (env[name] && !local) {
      throw apiError(
        'configuration-invalid',
        `${name} is set in a deployed Function (only the local sandbox uses it): ${removeFromDeployment('it')}`,
      );
    }
  }
  const publicBaseUrl = env.PUBLIC_BASE_URL || undefined;
  // A tunnel or local URL left in .env would send a deployed service's callbacks there.
  if (publicBaseUrl && !local && !/^https:\/\/(?!localhost|127\.)[^/]+/.test(publicBaseUrl)) {
    throw apiError(
      'configuration-invalid',
      'PUBLIC_BASE_URL must be an https URL of a public host in a deployed Function. Set one in .env and run ' +
        `npm run deploy; or, to use this deployment's own domain, ${removeFromDeployment('it')}`,
    );
  }
  checkSecretLengths(env);
  return {
    accountSid,
    authToken,
    syncServiceSid: env.SYNC_SERVICE_SID || 'default',
    finishedCallTtl: positiveInt(env, 'SYNC_TTL_SECONDS', 86_400),
    activeCallTtl: positiveInt(env, 'SYNC_ACTIVE_CALL_TTL_SECONDS', 172_800),
    publicBaseUrl,
    sandbox: local
      ? { gateway: env.SANDBOX_GATEWAY || undefined, twilsockUrl: env.SANDBOX_TWILSOCK_URL || undefined }
      : undefined,
    raw: env,
    webhookSharedKeySecret: env.WEBHOOK_SHARED_KEY_SECRET || undefined,
    requireVerifiedJsonCallbacks: flag(env, 'REQUIRE_VERIFIED_JSON_CALLBACKS'),
  };
}

/** A variable a particular route needs; throws a clear error naming it. */
export function requireVariable(config: Config, name: string, why: string): string {
  const value = config.raw[name];
  if (!value) throw missingVariable(name, why);
  return value;
}
