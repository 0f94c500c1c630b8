// Every answer under 4 MB by construction (issue 20, Must 7), over real twilio-run and the sandbox:
// a history of the largest messages, written into Sync with the functions' own store
// (testing/fill.ts), read back through /call-messages and /operator-messages in pages that each stay
// under 4 MB, every message once, in order; a request over 1 MB is refused with 413.
import { callMessages } from '../../client/src';
import type { CallMessagePageItem } from '../../lib/shared/api-types';
import { ANSWER_BUDGET_BYTES, MAX_ANSWER_BYTES, MAX_REQUEST_BYTES } from '../../lib/shared/limits';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { fillLeg, sandboxStore, withoutWriteLimits } from '../../testing/fill';
import { largeContent } from '../../testing/large-history';
import { randomCallSid } from '../../testing/sids';
import { useTestStack } from '../support/stack';

const COUNT = 24;
const stack = useTestStack();
let leg: string;
let ids: string[];

beforeAll(async () => {
  leg = randomCallSid();
  // Seeded straight into Sync: what this suite reads back, not how fast Sync takes writes.
  ids = await withoutWriteLimits(stack.control, () =>
    fillLeg(sandboxStore(stack.sandbox), leg, {
      count: COUNT,
      firstSequence: 1,
      startMs: Date.now() - 60_000,
      content: largeContent,
      concurrency: 4,
    }),
  );
}, 120_000);

const idOf = (m: CallMessagePageItem) => (m.direction === 'from-sdk' ? m.sid : m.idempotencyKey);

async function operatorSession(): Promise<string> {
  const res = await fetch(`${stack.functionsUrl}/operator-session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ secret: SANDBOX_DEFAULTS.operatorSecret }).toString(),
  });
  return ((await res.json()) as { session: string }).session;
}

describe('a history of the largest messages', () => {
  it.each(['asc', 'desc'] as const)(
    '/call-messages reads it in pages under 4 MB, every message once, in order (%s)',
    async (order) => {
      const messages: CallMessagePageItem[] = [];
      const sizes: number[] = [];
      let pageToken: string | undefined;
      do {
        const page = await callMessages(stack.fn, leg, { pageSize: 100, order, pageToken });
        expect(page.status).toBe(200);
        sizes.push(Buffer.byteLength(JSON.stringify(page.body)));
        messages.push(...page.body.messages);
        pageToken = page.body.nextPageToken ?? undefined;
      } while (pageToken && sizes.length < 50);
      expect(sizes.reduce((a, b) => a + b, 0)).toBeGreaterThan(MAX_ANSWER_BYTES);
      for (const size of sizes) expect(size).toBeLessThan(ANSWER_BUDGET_BYTES + 10_000);
      expect(messages.map(idOf)).toEqual(order === 'asc' ? ids : [...ids].reverse());
      for (const m of messages) expect(m.content).toBe(largeContent(m.direction === 'from-sdk' ? 0 : 1));
    },
  );

  it('/operator-messages pages it the same way', async () => {
    const session = await operatorSession();
    const seen: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const query = new URLSearchParams({ callSid: leg, pageSize: '100', ...(pageToken ? { pageToken } : {}) });
      const res = await fetch(`${stack.functionsUrl}/operator-messages?${query}`, {
        headers: { Authorization: `Bearer ${session}` },
      });
      const text = await res.text();
      expect(res.status).toBe(200);
      expect(Buffer.byteLength(text)).toBeLessThan(MAX_ANSWER_BYTES);
      const body = JSON.parse(text) as { messages: CallMessagePageItem[]; nextPageToken: string | null };
      seen.push(...body.messages.map((m) => idOf(m) ?? ''));
      pageToken = body.nextPageToken ?? undefined;
      pages++;
    } while (pageToken && pages < 50);
    expect(pages).toBeGreaterThan(1);
    expect(seen).toEqual(ids);
  });
});

describe('a request over 1 MB', () => {
  it('is refused with 413 request-too-large, saying so', async () => {
    const res = await fetch(`${stack.functionsUrl}/client-config`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ filler: 'x'.repeat(MAX_REQUEST_BYTES + 1) }).toString(),
    });
    // The sandbox's gateway (when it fronts twilio-run) may refuse it first, as Twilio's does.
    expect(res.status).toBe(413);
    const text = await res.text();
    expect(text.length).toBeLessThan(1000);
  });

  it('is refused as a JSON body too, by the gateway and by the function itself', async () => {
    const post = (base: string) =>
      fetch(`${base}/client-config`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ filler: 'x'.repeat(MAX_REQUEST_BYTES + 1) }),
      });
    // The Functions gateway refuses it first, as Twilio's platform does (its own code: 20413).
    expect((await post(stack.functionsUrl)).status).toBe(413);
    // The function's own check, for a platform that let it through.
    const direct = await post(stack.twilioRunUrl);
    expect(direct.status).toBe(413);
    expect(((await direct.json()) as { code: string }).code).toBe('request-too-large');
  });
});
