// The status page's configuration report: which variables are set (never their values), which are
// unusable, and that its list of required variables is .env.example's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configurationStatus, VARIABLE_RULES } from '../../lib/platform/config-status';

const COMPLETE = {
  ACCOUNT_SID: `AC${'a'.repeat(32)}`,
  AUTH_TOKEN: 'an-auth-token',
  CLIENT_IDENTITY: 'alice',
  CALLER_ID: '+15005550006',
  API_KEY_SID: `SK${'b'.repeat(32)}`,
  API_KEY_SECRET: 'an-api-key-secret',
  TWIML_APP_SID: `AP${'c'.repeat(32)}`,
  OPERATOR_SECRET: 'o'.repeat(32),
};

/** .env.example's variables with their `# required:` flag. */
function envExample(): Map<string, boolean> {
  const lines = readFileSync(join(__dirname, '../../.env.example'), 'utf8').split('\n');
  const found = new Map<string, boolean>();
  let required: boolean | undefined;
  for (const line of lines) {
    const flag = /^#\s*required:\s*(true|false)/.exec(line);
    if (flag) required = flag[1] === 'true';
    const variable = /^([A-Z][A-Z0-9_]*)=/.exec(line);
    if (variable?.[1] && required !== undefined) {
      found.set(variable[1], required);
      required = undefined;
    }
  }
  return found;
}

describe('configurationStatus', () => {
  it('lists every variable of .env.example, required exactly where .env.example says so', () => {
    const example = envExample();
    expect(VARIABLE_RULES.map((r) => r.name).sort()).toEqual([...example.keys()].sort());
    for (const rule of VARIABLE_RULES)
      expect([rule.name, rule.need === 'required']).toEqual([rule.name, example.get(rule.name)]);
  });

  it('is complete when every required variable is set and usable', () => {
    const status = configurationStatus(COMPLETE);
    expect(status).toMatchObject({ level: 'ok', complete: true });
    expect(status.variables.filter((v) => v.problem)).toEqual([]);
  });

  it('names what is missing and never carries a value', () => {
    const env = { ...COMPLETE, OPERATOR_SECRET: undefined, TWIML_APP_SID: '' };
    const status = configurationStatus(env);
    expect(status).toMatchObject({ level: 'error', complete: false });
    expect(status.detail).toBe('not set: TWIML_APP_SID, OPERATOR_SECRET.');
    expect(status.variables.find((v) => v.name === 'TWIML_APP_SID')).toMatchObject({ set: false, need: 'required' });
    const text = JSON.stringify(configurationStatus(COMPLETE));
    for (const value of Object.values(COMPLETE)) expect(text).not.toContain(value);
  });

  it('says which set variables are unusable: a SID of another kind, a short secret, a lone forwarding half', () => {
    const status = configurationStatus({
      ...COMPLETE,
      TWIML_APP_SID: `SK${'c'.repeat(32)}`,
      TOKEN_SECRET: 'short',
      CALLER_ID: '5550006',
      APP_WEBHOOK_URL: 'https://backend.example/cme',
    });
    expect(status.complete).toBe(false);
    expect(status.detail).toBe(
      'to fix: CALLER_ID, TWIML_APP_SID, TOKEN_SECRET; APP_WEBHOOK_URL and APP_WEBHOOK_SECRET go together: set both or neither.',
    );
    expect(status.variables.find((v) => v.name === 'TOKEN_SECRET')?.problem).toBe('shorter than 32 characters');
    expect(JSON.stringify(status)).not.toContain('backend.example');
  });

  it('reports an empty environment as incomplete, without throwing', () => {
    const status = configurationStatus({});
    expect(status.complete).toBe(false);
    expect(status.variables.every((v) => !v.set)).toBe(true);
  });
});
