// Table 4 alone, at a size of your choosing, without the rest of `npm run bench` (build first):
//   SCALE_CALLS=200 SCALE_CONCURRENCY=50 npx tsx bench/scale-only.ts
// Prints the scale table; exits 1 when a call failed or a message was lost.
import { runScale } from './scale';
import { startBenchStack } from './stack';
import { scaleTable } from './tables';

const setting = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive whole number`);
  return value;
};

async function main(): Promise<boolean> {
  const calls = setting('SCALE_CALLS', 200);
  const b = await startBenchStack(false);
  try {
    const result = await runScale(b, {
      calls,
      concurrency: setting('SCALE_CONCURRENCY', 50),
      messages: setting('SCALE_MESSAGES', 20),
      messageIntervalMs: 125,
      budgetMs: setting('SCALE_BUDGET_SECONDS', 600) * 1000,
      progress: (line) => process.stderr.write(`${line}\n`),
    });
    // No Table 2 here: the expected requests per call are shown as measured.
    console.log(scaleTable(result, result.restPerCall, setting('SCALE_BUDGET_SECONDS', 600) * 1000));
    return result.callsFailed === 0 && result.callsDone === calls && result.lost === 0;
  } finally {
    await b.stack.stop();
  }
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (err: Error) => {
    console.error(err);
    process.exit(2);
  },
);
