// The command line of every script here, on Node's own util.parseArgs: `--help` (or `-h`) prints
// the script's usage and exits 0; an unknown option or a missing value prints the problem and the
// usage and exits 1. Nothing is parsed by hand.
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** What `command` was given, or never (help printed, or a usage error). */
export function parseCommandLine<O extends Options>(
  usage: string,
  options: O,
  { allowPositionals = false, args = process.argv.slice(2) }: { allowPositionals?: boolean; args?: string[] } = {},
) {
  const config = {
    args,
    options: { ...options, help: { type: 'boolean', short: 'h' } } as O & { help: { type: 'boolean'; short: 'h' } },
    allowPositionals,
    strict: true,
  } as const;
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage}`);
    process.exit(1);
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    process.exit(0);
  }
  return parsed;
}

/**
 * Prints why a script failed and answers its exit code: one line for an error of an `expected`
 * class (its `exitCode` when it has one, else 1) or an answer from Twilio (with `unauthorizedHint`
 * on a 401), the stack for anything else.
 */
export function reportFailure(
  script: string,
  err: unknown,
  expected: readonly (abstract new (...args: never[]) => Error)[],
  unauthorizedHint?: string,
): number {
  if (expected.some((kind) => err instanceof kind)) {
    console.error(`${script}: ${(err as Error).message}`);
    const code = (err as { exitCode?: unknown }).exitCode;
    return typeof code === 'number' ? code : 1;
  }
  const e = err as { status?: unknown; code?: number; message?: string };
  if (typeof e.status === 'number') {
    const hint = e.status === 401 && unauthorizedHint ? ` (${unauthorizedHint})` : '';
    console.error(`${script}: Twilio answered ${e.status}${e.code ? ` (error ${e.code})` : ''}: ${e.message}${hint}`);
    return 1;
  }
  console.error(`${script}: ${(err as Error | undefined)?.stack ?? String(err)}`);
  return 1;
}
