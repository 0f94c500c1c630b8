// Collects the trust suite's figures and prints them as one table at the end of the run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Figure {
  category: string;
  figure: string;
  value: number | string;
  rule: string;
  ok: boolean;
  /** A figure off its rule because of a bug recorded elsewhere (its id): shown, not hidden. */
  knownBug?: string;
}

export class Figures {
  readonly rows: Figure[] = [];

  add(category: string, figure: string, value: number | string, rule: string, ok: boolean, knownBug?: string): void {
    this.rows.push({ category, figure, value, rule, ok, ...(knownBug ? { knownBug } : {}) });
  }

  table(): string {
    const head = ['category', 'figure', 'value', 'rule', 'ok'];
    const body = this.rows.map((r) => [
      r.category,
      r.figure,
      String(r.value),
      r.rule,
      r.ok ? 'yes' : r.knownBug ? `NO (known bug ${r.knownBug})` : 'NO',
    ]);
    // Every row has head.length cells; a missing one would be blank.
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
    return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
  }

  /** Prints the table and saves it (test-results/<file>, default trust-figures.md) for RELIABILITY.md. */
  report(settings: string, file = 'trust-figures.md'): void {
    const text = `Trust figures (${new Date().toISOString()}, ${settings})\n\n${this.table()}\n`;
    process.stdout.write(`\n${text}\n`);
    const dir = join(__dirname, '..', '..', 'test-results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, file), text);
  }
}
