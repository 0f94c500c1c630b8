// Which of the deployment's variables are set, for the operator's status page (/operator-status):
// names and whether each is set or usable, never a value. The list follows .env.example: what it
// marks `required: true` is required here (tests/unit/config-status.test.ts keeps the two equal).
import type { StatusLevel, VariableStatus } from '../shared/api-types';
import { MIN_SECRET_CHARS, SECRET_VARIABLES, type Env } from './config';
import { CONFERENCE_MODES } from '../shared/api-types';

interface VariableRule {
  name: string;
  need: VariableStatus['need'];
  purpose: string;
  /** What is wrong with a value that is set, if anything (never echoing it). */
  check?: (value: string) => string | undefined;
}

const sidOf = (prefix: string, what: string) => (value: string) =>
  new RegExp(`^${prefix}[0-9a-fA-F]{32}$`).test(value)
    ? undefined
    : `not ${what} (${prefix} followed by 32 hex digits)`;

const secret = (value: string) =>
  value.length >= MIN_SECRET_CHARS ? undefined : `shorter than ${MIN_SECRET_CHARS} characters`;

/** In .env.example's order. */
const RULES: readonly VariableRule[] = [
  { name: 'ACCOUNT_SID', need: 'required', purpose: 'your Twilio account', check: sidOf('AC', 'an Account SID') },
  { name: 'AUTH_TOKEN', need: 'required', purpose: 'signs and verifies webhooks' },
  { name: 'CLIENT_IDENTITY', need: 'required', purpose: 'the agent who answers calls to your numbers' },
  {
    name: 'CALLER_ID',
    need: 'required',
    purpose: 'caller ID of calls from the softphone to phones',
    check: (v) => (/^\+[1-9]\d{1,14}$/.test(v) ? undefined : 'not an E.164 number (+ and up to 15 digits)'),
  },
  { name: 'SYNC_SERVICE_SID', need: 'optional', purpose: 'the Sync service (default: default)' },
  { name: 'SYNC_TTL_SECONDS', need: 'optional', purpose: "how long a finished call's data is kept" },
  { name: 'SYNC_ACTIVE_CALL_TTL_SECONDS', need: 'optional', purpose: 'expiry of calls whose end is never reported' },
  { name: 'PUBLIC_BASE_URL', need: 'optional', purpose: 'base of callback URLs other than this domain' },
  { name: 'API_KEY_SID', need: 'required', purpose: 'signs access tokens', check: sidOf('SK', 'an API key SID') },
  { name: 'API_KEY_SECRET', need: 'required', purpose: "the API key's secret" },
  {
    name: 'TWIML_APP_SID',
    need: 'required',
    purpose: 'the TwiML App of calls from the softphone',
    check: sidOf('AP', 'a TwiML App SID'),
  },
  {
    name: 'PUSH_CREDENTIAL_SID_IOS',
    need: 'feature',
    purpose: 'incoming calls on iOS apps',
    check: sidOf('CR', 'a Push Credential SID'),
  },
  {
    name: 'PUSH_CREDENTIAL_SID_ANDROID',
    need: 'feature',
    purpose: 'incoming calls on Android apps',
    check: sidOf('CR', 'a Push Credential SID'),
  },
  { name: 'TOKEN_SECRET', need: 'optional', purpose: 'server-to-server token minting' },
  { name: 'BACKEND_API_KEYS', need: 'feature', purpose: "your backend's keys (/backend-send, /backend-messages)" },
  { name: 'OPERATOR_SECRET', need: 'required', purpose: 'the operator console and this page' },
  { name: 'DIAL_ALLOWED', need: 'optional', purpose: 'numbers the softphone may dial' },
  {
    name: 'CONFERENCE_MODE',
    need: 'optional',
    purpose: 'calls in a conference room instead of bridged',
    check: (v) =>
      (CONFERENCE_MODES as readonly string[]).includes(v) ? undefined : `not one of ${CONFERENCE_MODES.join(', ')}`,
  },
  { name: 'WEBHOOK_SHARED_KEY_SECRET', need: 'optional', purpose: 'webhooks signed with a SharedKey' },
  { name: 'REQUIRE_VERIFIED_JSON_CALLBACKS', need: 'optional', purpose: 'refuse JSON callbacks not fully verified' },
  { name: 'APP_WEBHOOK_URL', need: 'feature', purpose: 'forwarding messages to your backend (with its secret)' },
  { name: 'APP_WEBHOOK_SECRET', need: 'feature', purpose: 'signs forwarded messages (with the URL)' },
  { name: 'MESSAGE_SCHEMAS_ASSET', need: 'optional', purpose: 'JSON Schemas per message type' },
];

/** Every variable the functions read; the secrets checked for their length, as readConfig does. */
export const VARIABLE_RULES: readonly VariableRule[] = RULES.map((rule) =>
  (SECRET_VARIABLES as readonly string[]).includes(rule.name) && !rule.check ? { ...rule, check: secret } : rule,
);

export interface ConfigurationStatus {
  level: StatusLevel;
  complete: boolean;
  detail: string;
  variables: VariableStatus[];
}

/** The variables' report: complete when every required variable is set and none that is set is unusable. */
export function configurationStatus(env: Env): ConfigurationStatus {
  const variables = VARIABLE_RULES.map(({ name, need, purpose, check }): VariableStatus => {
    const value = env[name] ?? '';
    const problem = value ? check?.(value) : undefined;
    return { name, set: value !== '', need, purpose, ...(problem ? { problem } : {}) };
  });
  const missing = variables.filter((v) => v.need === 'required' && !v.set).map((v) => v.name);
  const unusable = variables.filter((v) => v.problem).map((v) => v.name);
  const pairs = [['APP_WEBHOOK_URL', 'APP_WEBHOOK_SECRET']].filter(
    ([a, b]) => variables.find((v) => v.name === a)?.set !== variables.find((v) => v.name === b)?.set,
  );
  const complete = missing.length === 0 && unusable.length === 0 && pairs.length === 0;
  const parts = [
    missing.length ? `not set: ${missing.join(', ')}` : '',
    unusable.length ? `to fix: ${unusable.join(', ')}` : '',
    ...pairs.map(([a, b]) => `${a} and ${b} go together: set both or neither`),
  ].filter(Boolean);
  return {
    level: complete ? 'ok' : 'error',
    complete,
    detail: complete ? 'Every required variable is set.' : `${parts.join('; ')}.`,
    variables,
  };
}
