// The bundled client's sendMessage asks again after a 409 send-in-progress or a 503, as their
// Retry-After says, with the same idempotencyKey, a bounded number of times.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendMessage } from '../../client/src';
import { callSid } from '../../testing/sids';

interface Answer {
  status: number;
  body: unknown;
  retryAfter?: string;
}

let server: Server;
let baseUrl: string;
let answers: Answer[];
let keys: (string | null)[];

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      keys.push(new URLSearchParams(text).get('idempotencyKey'));
      const answer = answers.shift() ?? { status: 500, body: { code: 'internal-error', message: 'none left' } };
      res.writeHead(answer.status, {
        'Content-Type': 'application/json',
        ...(answer.retryAfter === undefined ? {} : { 'Retry-After': answer.retryAfter }),
      });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));
beforeEach(() => {
  answers = [];
  keys = [];
});

const CALL = callSid(0xd);
const SENT = { status: 201, body: { sid: null, callSid: CALL, idempotencyKey: 'k', outcome: 'sent' } };
const inProgress = (retryAfter?: string): Answer => ({
  status: 409,
  body: { code: 'send-in-progress', message: 'under way' },
  ...(retryAfter === undefined ? {} : { retryAfter }),
});
const unavailable = (retryAfter?: string): Answer => ({
  status: 503,
  body: { code: 'twilio-unavailable', message: 'no answer' },
  ...(retryAfter === undefined ? {} : { retryAfter }),
});

function recordingSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

const send = (retry: Parameters<typeof sendMessage>[2], idempotencyKey?: string) =>
  sendMessage({ baseUrl, authToken: 'token' }, { callSid: CALL, content: { a: 1 }, idempotencyKey }, retry);

describe('sendMessage (client)', () => {
  it('waits each Retry-After, then asks again with the same key until it is sent', async () => {
    answers = [unavailable('5'), inProgress('2'), SENT];
    const { waits, sleep } = recordingSleep();
    const res = await send({ sleep }, 'k');
    expect(res.status).toBe(201);
    expect(waits).toEqual([5000, 2000]);
    expect(keys).toEqual(['k', 'k', 'k']);
  });

  it('makes up one key for all its tries when none is given', async () => {
    answers = [unavailable('1'), SENT];
    const { sleep } = recordingSleep();
    expect((await send({ sleep })).status).toBe(201);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^cme-[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
  });

  it('waits a second when a 503 names no Retry-After', async () => {
    answers = [unavailable(), SENT];
    const { waits, sleep } = recordingSleep();
    expect((await send({ sleep }, 'k')).status).toBe(201);
    expect(waits).toEqual([1000]);
  });

  it('stops after maxTries, answering the last answer', async () => {
    answers = [inProgress('1'), inProgress('1'), inProgress('1'), SENT];
    const { waits, sleep } = recordingSleep();
    const res = await send({ sleep, maxTries: 3 }, 'k');
    expect(res).toMatchObject({ status: 409, retryAfterSeconds: 1 });
    expect(waits).toHaveLength(2);
    expect(keys).toHaveLength(3);
  });

  it('does not wait longer than maxWaitSeconds: such an answer is returned', async () => {
    answers = [unavailable('60'), SENT];
    const { waits, sleep } = recordingSleep();
    expect((await send({ sleep, maxWaitSeconds: 10 }, 'k')).status).toBe(503);
    expect(waits).toEqual([]);
  });

  it.each([
    ['a 409 that is not send-in-progress', { status: 409, body: { code: 'idempotency-key-reused', message: 'x' } }],
    ['a 404', { status: 404, body: { code: 'call-not-found', message: 'x' } }],
    ['a 502', { status: 502, body: { code: 'twilio-error', message: 'x' } }],
  ])('answers %s as it is, at once', async (_what, answer) => {
    answers = [answer, SENT];
    const { waits, sleep } = recordingSleep();
    expect((await send({ sleep }, 'k')).status).toBe(answer.status);
    expect(waits).toEqual([]);
    expect(keys).toHaveLength(1);
  });

  it('makes one request with maxTries 1, and sends no key it did not get', async () => {
    answers = [unavailable('1'), SENT];
    expect((await send({ maxTries: 1 })).status).toBe(503);
    expect(keys).toEqual([null]);
  });
});
