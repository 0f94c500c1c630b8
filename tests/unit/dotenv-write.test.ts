// scripts/dotenv.ts: the credentials setup accepts (the Auth Token, or the Twilio CLI's API key) and
// how it writes .env (lines replaced where they are, others kept, read back the same by both readers).
import { CredentialsError, parseDotEnv, readApiCredentials, setDotEnvValues } from '../../scripts/dotenv';
import { accountSid, sid } from '../../testing/sids';

const AC = accountSid(7);
const SK = sid('SK', 9);

describe('readApiCredentials', () => {
  it('prefers the Auth Token, takes the CLI key without one, the environment over the file', () => {
    expect(readApiCredentials({ ACCOUNT_SID: AC, AUTH_TOKEN: 't' }, { TWILIO_API_KEY: SK })).toEqual({
      accountSid: AC,
      username: AC,
      password: 't',
      via: 'auth-token',
    });
    expect(readApiCredentials({ TWILIO_ACCOUNT_SID: AC, TWILIO_API_KEY: SK, TWILIO_API_SECRET: 's' }, {})).toEqual({
      accountSid: AC,
      username: SK,
      password: 's',
      via: 'api-key',
    });
    expect(readApiCredentials({ AUTH_TOKEN: 'env' }, { ACCOUNT_SID: AC, AUTH_TOKEN: 'file' }).password).toBe('env');
  });

  it('names what is missing or malformed', () => {
    expect(() => readApiCredentials({}, {})).toThrow(/TWILIO_API_KEY and TWILIO_API_SECRET/);
    expect(() => readApiCredentials({ ACCOUNT_SID: AC, TWILIO_API_KEY: SK }, {})).toThrow(CredentialsError);
    expect(() => readApiCredentials({ ACCOUNT_SID: 'SK1', AUTH_TOKEN: 't' }, {})).toThrow(/Account SID/);
    expect(() => readApiCredentials({ ACCOUNT_SID: AC, TWILIO_API_KEY: 'AC1', TWILIO_API_SECRET: 's' }, {})).toThrow(
      /API key SID/,
    );
  });
});

describe('setDotEnvValues', () => {
  const text = '# a comment\nCLIENT_IDENTITY=bob\nAPI_KEY_SID=\n\nOTHER=x # kept\nAPI_KEY_SID=old\n';

  it('replaces every line of a key where it is, appends new keys, keeps the rest', () => {
    const out = setDotEnvValues(text, { API_KEY_SID: SK, TWIML_APP_SID: sid('AP', 1) });
    expect(out).toBe(
      `# a comment\nCLIENT_IDENTITY=bob\nAPI_KEY_SID=${SK}\n\nOTHER=x # kept\nAPI_KEY_SID=${SK}\nTWIML_APP_SID=${sid('AP', 1)}\n`,
    );
    expect(parseDotEnv(out)).toMatchObject({ API_KEY_SID: SK, CLIENT_IDENTITY: 'bob', TWIML_APP_SID: sid('AP', 1) });
    expect(setDotEnvValues('', { A: '1' })).toBe('A=1\n');
    expect(setDotEnvValues('A=0', { B: '2' })).toBe('A=0\nB=2\n');
  });

  it('refuses a value the two .env readers would read differently', () => {
    for (const value of ['two words', 'a#b', '"quoted"', "it's", 'back\\slash'])
      expect(() => setDotEnvValues(text, { X: value })).toThrow(CredentialsError);
  });
});
