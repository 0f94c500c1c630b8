// Small numeric and formatting helpers for the benchmark tables.

/** items[i] for an index the caller knows is in range: throws rather than go on with undefined. */
export function nth<T>(items: readonly T[], i: number): T {
  const item = items[i];
  if (item === undefined) throw new Error(`index ${i} is outside the ${items.length} items`);
  return item;
}

/** Nearest-rank percentile (p in 0-100) of unsorted samples; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return nth(sorted, rank - 1);
}

export const median = (samples: readonly number[]) => percentile(samples, 50);

export function mean(samples: readonly number[]): number {
  return samples.length ? samples.reduce((a, b) => a + b, 0) / samples.length : NaN;
}

/** The most events in any window of `windowMs` (sliding, starting at each event), over sorted or unsorted times. */
export function maxInWindow(times: readonly number[], windowMs: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  let j = 0;
  for (let i = 0; i < t.length; i++) {
    while (nth(t, i) - nth(t, j) >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

/** Formats a number of milliseconds: 2 significant decimals under 10, 1 under 100, none above. */
export function ms(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (Math.abs(v) < 10) return v.toFixed(2);
  if (Math.abs(v) < 100) return v.toFixed(1);
  return v.toFixed(0);
}

export const ratio = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');
export const int = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');
export const mark = (ok: boolean) => (ok ? '✅' : '❌');

/** A GitHub-flavoured markdown table; numeric-looking columns are right-aligned. */
export function markdownTable(headers: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const numeric = headers.map(
    (_, c) => cells.length > 0 && cells.every((r) => /^[-+]?[\d.,]+(×| ms| %)?$|^–$/.test(r[c] ?? '')),
  );
  const head = `| ${headers.join(' | ')} |`;
  const rule = `|${headers.map((_, c) => (numeric[c] ? ' ---: ' : ' --- ')).join('|')}|`;
  return [head, rule, ...cells.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}
