// Requests to the functions as Twilio or a backend sends them, and a fixed-concurrency load runner.
import { performance } from 'node:perf_hooks';
import twilio from 'twilio';

export interface FunctionsTarget {
  baseUrl: string;
  authToken: string;
}

export interface PostOptions {
  /** Sign with X-Twilio-Signature over the URL (with its query) and the form parameters. */
  signed?: boolean;
  headers?: Record<string, string>;
}

/** POSTs form parameters to `path` (which may carry a query); resolves with the status and the body text. */
export async function post(
  target: FunctionsTarget,
  path: string,
  params: Record<string, string>,
  opts: PostOptions = {},
): Promise<{ status: number; text: string }> {
  const url = `${target.baseUrl}${path}`;
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', ...opts.headers };
  // Twilio signs a callback URL without its fragment (connection overrides `#rc=…` are not signed).
  const signedUrl = url.split('#')[0] ?? url;
  if (opts.signed)
    headers['X-Twilio-Signature'] = twilio.getExpectedTwilioSignature(target.authToken, signedUrl, params);
  const res = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
  return { status: res.status, text: await res.text() };
}

export interface LoadResult {
  /** Latency of each request in ms, in completion order. */
  latencies: number[];
  wallMs: number;
  /** Requests whose status was not the expected one (or that threw). */
  unexpected: number;
  firstUnexpected?: string | undefined;
}

/**
 * Runs `count` requests with `concurrency` in flight at all times; `request(i)` resolves with the
 * response status, checked against `expected`.
 */
export async function runLoad(
  count: number,
  concurrency: number,
  request: (i: number) => Promise<{ status: number; text?: string }>,
  expected: (status: number) => boolean,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let unexpected = 0;
  let firstUnexpected: string | undefined;
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const t = performance.now();
      try {
        const res = await request(i);
        latencies.push(performance.now() - t);
        if (!expected(res.status)) {
          unexpected++;
          firstUnexpected ??= `${res.status} ${res.text?.slice(0, 200) ?? ''}`;
        }
      } catch (err) {
        latencies.push(performance.now() - t);
        unexpected++;
        firstUnexpected ??= String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { latencies, wallMs: performance.now() - started, unexpected, firstUnexpected };
}
