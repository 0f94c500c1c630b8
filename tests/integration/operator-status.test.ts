// The status page's report and the landing page, over real twilio-run and the sandbox (`npm run
// build` first): `/` answers the landing page (twilio-run, like Twilio, answers / with the asset
// at /assets/index.html); /operator-status reads the sandbox's TwiML App and numbers and compares
// their voice URLs with this deployment's /voice; a half-configured deployment gets a report
// saying what is missing, never a 500.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OperatorStatus } from '../../lib/shared/api-types';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { operatorSession, useTestStack } from '../support/stack';
import type { TestStack } from '../../testing/stack';

const { version } = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string };

async function status(stack: TestStack, session?: string) {
  const res = await fetch(`${stack.functionsUrl}/operator-status`, {
    headers: session ? { Authorization: `Bearer ${session}` } : {},
  });
  return { status: res.status, body: (await res.json()) as OperatorStatus & { code?: string } };
}

describe('a deployment the sandbox wired', () => {
  const stack = useTestStack();

  it('serves the landing page at /, linking the softphone, the console and the status page', async () => {
    const res = await fetch(`${stack.functionsUrl}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    for (const link of ['/index.html', '/console.html', '/status.html', '/openapi.json'])
      expect(html).toContain(`href="${link}"`);
    expect(await (await fetch(`${stack.functionsUrl}/assets/index.html`)).text()).toBe(html);
  });

  it('refuses the report without an operator session', async () => {
    const { status: code, body } = await status(stack);
    expect([code, body.code]).toEqual([401, 'operator-session-invalid']);
  });

  it('reports it configured and wired: the version built, Sync, the TwiML App and the number pointing here', async () => {
    const { status: code, body } = await status(stack, await operatorSession(stack));
    expect(code).toBe(200);
    expect(body.version).toBe(version);
    expect(body.voiceUrl).toBe(`${stack.functionsUrl}/voice`);
    expect(body.configuration).toMatchObject({ level: 'ok', complete: true });
    expect(JSON.stringify(body)).not.toContain(SANDBOX_DEFAULTS.operatorSecret);
    expect(JSON.stringify(body)).not.toContain(stack.env.AUTH_TOKEN);
    expect(body.sync.level).toBe('ok');
    expect(body.twimlApp).toMatchObject({ level: 'ok', sid: stack.env.TWIML_APP_SID, pointsHere: true });
    expect(body.numbers.level).toBe('ok');
    expect(body.numbers.numbers).toContainEqual(
      expect.objectContaining({ phoneNumber: stack.env.CALLER_ID, pointsHere: true }),
    );
  });

  it('sees a number pointed elsewhere, and back', async () => {
    const session = await operatorSession(stack);
    const callerId = stack.env.CALLER_ID ?? '';
    const [number] = await stack.twilio.incomingPhoneNumbers.list({ phoneNumber: callerId });
    expect(number).toBeDefined();
    const original = number!.voiceUrl;
    await stack.twilio.incomingPhoneNumbers(number!.sid).update({ voiceUrl: 'https://elsewhere.example/voice' });
    try {
      const { body } = await status(stack, session);
      expect(body.numbers.numbers.find((n) => n.sid === number!.sid)).toMatchObject({
        voiceUrl: 'https://elsewhere.example/voice',
        pointsHere: false,
      });
    } finally {
      await stack.twilio.incomingPhoneNumbers(number!.sid).update({ voiceUrl: original });
    }
    const { body } = await status(stack, session);
    expect(body.numbers.numbers.find((n) => n.sid === number!.sid)?.pointsHere).toBe(true);
  });
});

describe('a half-configured deployment', () => {
  // What a first deploy before `npm run wire` looks like: no TwiML App, no API key, no caller ID.
  const stack = useTestStack({ env: { TWIML_APP_SID: '', API_KEY_SID: '', API_KEY_SECRET: '', CALLER_ID: '' } });

  it('answers a report that names what is missing, not a 500', async () => {
    const { status: code, body } = await status(stack, await operatorSession(stack));
    expect(code).toBe(200);
    expect(body.configuration).toMatchObject({
      level: 'error',
      complete: false,
      detail: 'not set: CALLER_ID, API_KEY_SID, API_KEY_SECRET, TWIML_APP_SID.',
    });
    expect(body.twimlApp).toMatchObject({ level: 'error', detail: expect.stringMatching(/TWIML_APP_SID is not set/) });
    expect(body.sync.level).toBe('ok');
  });
});
