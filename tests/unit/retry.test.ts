import { withRetry } from '../../lib/platform/retry';
import { DeadlineExceeded, isNotTaken, isRetryable } from '../../lib/platform/errors';

const restError = (status: number, code?: number) => Object.assign(new Error(`HTTP ${status}`), { status, code });

/** An operation that fails with each of `failures` in turn, then resolves 'ok'. */
function flaky(...failures: unknown[]) {
  return jest.fn(async () => {
    const next = failures.shift();
    if (next !== undefined) throw next;
    return 'ok';
  });
}

let now = 0;
beforeEach(() => {
  now = 1_000_000;
  jest.spyOn(Date, 'now').mockImplementation(() => now);
  jest.spyOn(Math, 'random').mockReturnValue(0.5);
});
afterEach(() => jest.restoreAllMocks());

/** A sleep that only moves the mocked clock. */
const fakeSleep = () =>
  jest.fn(async (ms: number) => {
    now += ms;
  });

describe('withRetry', () => {
  it('retries 429 and 503, backing off exponentially, then succeeds', async () => {
    const op = flaky(restError(429, 54009), restError(503));
    const sleep = fakeSleep();
    await expect(withRetry(op, { sleep, baseDelayMs: 100 })).resolves.toBe('ok');
    expect(op).toHaveBeenCalledTimes(3);
    // half-jittered with Math.random() = 0.5: 0.75 × 100 × 2^(n-1)
    expect(sleep.mock.calls.map(([ms]) => ms)).toEqual([75, 150]);
  });

  it('caps the backoff at maxDelayMs, so the budget rather than the attempt count ends a long wait', async () => {
    const op = flaky(...Array.from({ length: 8 }, () => restError(429, 54009)));
    const sleep = fakeSleep();
    await expect(withRetry(op, { sleep, baseDelayMs: 100, maxDelayMs: 1000 })).resolves.toBe('ok');
    expect(sleep.mock.calls.map(([ms]) => ms)).toEqual([75, 150, 300, 600, 750, 750, 750, 750]);
  });

  it('retries network errors', async () => {
    const op = flaky(
      Object.assign(new Error('reset'), { code: 'ECONNRESET' }),
      Object.assign(new Error('t'), { code: 'ETIMEDOUT' }),
    );
    await expect(withRetry(op, { sleep: fakeSleep() })).resolves.toBe('ok');
    expect(op).toHaveBeenCalledTimes(3);
  });

  it.each([
    ['a 400', restError(400, 21220)],
    ['a 404', restError(404, 20404)],
    ['a 409', restError(409, 54208)],
    ['a plain Error', new Error('boom')],
    ['an unknown error code', Object.assign(new Error('x'), { code: 'ENOENT' })],
  ])('does not retry %s', async (_what, error) => {
    const op = flaky(error);
    const sleep = fakeSleep();
    await expect(withRetry(op, { sleep })).rejects.toBe(error);
    expect(op).toHaveBeenCalledTimes(1);
    expect(sleep).not.toHaveBeenCalled();
  });

  it('starts an attempt only when a whole request timeout still fits before the deadline', async () => {
    const op = flaky(...Array.from({ length: 20 }, () => restError(503)));
    const sleep = fakeSleep();
    const deadline = now + 4000;
    await expect(withRetry(op, { sleep, deadline, attemptTimeoutMs: 3000 })).rejects.toMatchObject({ status: 503 });
    // Every attempt started by deadline − 3000, so even one that hung would end by the deadline.
    expect(now).toBeLessThanOrEqual(deadline - 3000);
    expect(op.mock.calls.length).toBeGreaterThan(1);
  });

  it('does not even start when the deadline leaves no room for one request', async () => {
    const op = jest.fn(async () => 'ok');
    const failure = withRetry(op, { deadline: now + 2000, attemptTimeoutMs: 3000 });
    await expect(failure).rejects.toBeInstanceOf(DeadlineExceeded);
    // Retryable by name: the function answers 503 and Twilio (or the caller) tries again.
    expect(isRetryable(await failure.catch((err: unknown) => err))).toBe(true);
    expect(op).not.toHaveBeenCalled();
  });

  it('stops after maxAttempts and rethrows the last error', async () => {
    const errors = [restError(503), restError(502), restError(500), restError(503)];
    const op = flaky(...errors);
    const sleep = fakeSleep();
    await expect(withRetry(op, { sleep, maxAttempts: 3 })).rejects.toBe(errors[2]);
    expect(op).toHaveBeenCalledTimes(3);
    expect(sleep).toHaveBeenCalledTimes(2);
  });

  it('does not start a retry that would end after the budget', async () => {
    jest.spyOn(Math, 'random').mockReturnValue(1);
    const errors = [restError(503), restError(503), restError(503)];
    const op = flaky(...errors);
    const sleep = fakeSleep();
    // delays 400 (ends at 400 ≤ 1000: taken) then 800 (would end at 1200 > 1000: not taken)
    await expect(withRetry(op, { sleep, budgetMs: 1000, baseDelayMs: 400, maxAttempts: 10 })).rejects.toBe(errors[1]);
    expect(op).toHaveBeenCalledTimes(2);
    expect(sleep.mock.calls.map(([ms]) => ms)).toEqual([400]);
  });

  it('counts the time the operation itself took against the budget', async () => {
    const op = jest.fn(async () => {
      now += 900; // a slow request
      throw restError(503);
    });
    const sleep = fakeSleep();
    await expect(withRetry(op, { sleep, budgetMs: 1000, baseDelayMs: 100 })).rejects.toMatchObject({ status: 503 });
    expect(op).toHaveBeenCalledTimes(2); // 900 + 50 ≤ 1000, then 1850 + 100 > 1000
  });

  it('returns the first success without sleeping', async () => {
    const sleep = fakeSleep();
    await expect(withRetry(async () => 7, { sleep })).resolves.toBe(7);
    expect(sleep).not.toHaveBeenCalled();
  });
});

describe('withRetry alsoRetry (a call the Calls API does not show yet)', () => {
  const notYet = (err: unknown) => (err as { code?: number }).code === 20404;

  it('retries an error it names only within forMs of the first attempt, then throws it', async () => {
    const op = jest.fn(async () => {
      throw restError(404, 20404);
    });
    const sleep = fakeSleep();
    const started = now;
    await expect(withRetry(op, { sleep, alsoRetry: { when: notYet, forMs: 3000 } })).rejects.toMatchObject({
      code: 20404,
    });
    expect(now - started).toBeLessThanOrEqual(3000);
    expect(op.mock.calls.length).toBeGreaterThan(3);
  });

  it('succeeds once the call is shown, and never retries what it does not name', async () => {
    const shown = flaky(restError(404, 20404), restError(404, 20404));
    await expect(withRetry(shown, { sleep: fakeSleep(), alsoRetry: { when: notYet, forMs: 3000 } })).resolves.toBe(
      'ok',
    );
    expect(shown).toHaveBeenCalledTimes(3);
    const refused = flaky(restError(400, 31211));
    await expect(
      withRetry(refused, { sleep: fakeSleep(), alsoRetry: { when: notYet, forMs: 3000 } }),
    ).rejects.toMatchObject({ code: 31211 });
    expect(refused).toHaveBeenCalledTimes(1);
    // Without alsoRetry a 404 is final.
    const plain = flaky(restError(404, 20404));
    await expect(withRetry(plain, { sleep: fakeSleep() })).rejects.toMatchObject({ code: 20404 });
    expect(plain).toHaveBeenCalledTimes(1);
  });
});

describe('isNotTaken: failures after which Twilio surely did not act on a create', () => {
  it.each([
    ['429', restError(429, 20429)],
    ['503', restError(503, 20503)],
    ['a refused connection', Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })],
    ['an unresolved name', Object.assign(new Error('dns'), { code: 'EAI_AGAIN' })],
    ['no time to start', new DeadlineExceeded()],
  ])('%s', (_what, err) => {
    expect(isNotTaken(err)).toBe(true);
  });

  it.each([
    // Twilio's 20500 page: retrying a POST after a 500 may send twice.
    ['500', restError(500, 20500)],
    ['502', restError(502)],
    ['504', restError(504)],
    ['a timeout', Object.assign(new Error('timeout'), { code: 'ECONNABORTED' })],
    ['a socket timeout', Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })],
    ['a reset connection', Object.assign(new Error('reset'), { code: 'ECONNRESET' })],
  ])('not %s: it may have been taken', (_what, err) => {
    expect(isRetryable(err)).toBe(true);
    expect(isNotTaken(err)).toBe(false);
  });

  it('narrows withRetry: a failure retryIf refuses ends the tries at once', async () => {
    const op = flaky(restError(429), restError(500), restError(503));
    await expect(withRetry(op, { sleep: fakeSleep(), retryIf: isNotTaken })).rejects.toMatchObject({ status: 500 });
    expect(op).toHaveBeenCalledTimes(2);
  });
});
