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
