// Everything that restates a route's contract is checked against lib/shared/route-contracts.ts: the
// README's route table, the files in functions/ (name, `signed`, `bodyOnly`, the parameters they
// pass on, the pointer in their header), and the error codes the routes may answer.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CATALOGUE, ERROR_CODES, isErrorCode } from '../../lib/shared/error-catalogue';
import {
  ACCESS_LABELS,
  errorsOf,
  functionFileOf,
  ROUTE_CONTRACTS,
  type RouteContract,
} from '../../lib/shared/route-contracts';

const ROOT = join(__dirname, '../..');
const FUNCTIONS = join(ROOT, 'functions');

const contractOf = (path: string): RouteContract => {
  const found = ROUTE_CONTRACTS.find((route) => route.path === path);
  if (!found) throw new Error(`no contract for ${path}`);
  return found;
};
const inputsOf = (route: RouteContract) => route.inputs.map((input) => `${input.name}${input.required ? '' : '?'}`);
const sorted = (values: Iterable<string>) => [...values].sort();

interface ReadmeRow {
  path: string;
  methods: string;
  access: string;
  takes: string[];
  answers: string;
}

/** The rows of the README's route table (the one whose header starts `| route | methods |`). */
function readmeRoutes(): ReadmeRow[] {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
  const header = lines.findIndex((line) => line.startsWith('| route | methods | access | takes | answers |'));
  if (header < 0) throw new Error('README.md has no route table');
  const rows: ReadmeRow[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    // Cells split on | not escaped as \|.
    const cells = line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim());
    const [route = '', methods = '', access = '', takes = '', answers = ''] = cells;
    // Inputs are the backticked names outside parentheses: `name` required, `name?` optional.
    const unexplained = takes.replace(/\([^)]*\)/g, '');
    const names = [...unexplained.matchAll(/`([A-Za-z_][A-Za-z0-9_]*\??)`/g)].map((m) => m[1] ?? '');
    rows.push({ path: route.replace(/`/g, ''), methods, access, takes: names, answers });
  }
  return rows;
}

describe('the route contracts', () => {
  it('name every code in the catalogue, and only those, as some route’s answer', () => {
    const answered = new Set(ROUTE_CONTRACTS.flatMap((route) => errorsOf(route)));
    expect(sorted(answered)).toEqual(sorted(ERROR_CODES));
  });

  it('have one contract per path, each answering at least one 2xx', () => {
    const paths = ROUTE_CONTRACTS.map((route) => route.path);
    expect(new Set(paths).size).toBe(paths.length);
    for (const route of ROUTE_CONTRACTS)
      expect([route.path, Object.keys(route.answers).length > 0]).toEqual([route.path, true]);
  });
});

describe("README.md's route table", () => {
  const rows = readmeRoutes();

  it('lists exactly the routes of the contracts', () => {
    expect(rows.map((row) => row.path)).toEqual(ROUTE_CONTRACTS.map((route) => route.path));
  });

  it.each(ROUTE_CONTRACTS.map((route) => [route.path]))('gives %s its methods, access and inputs', (path) => {
    const route = contractOf(path);
    const row = rows.find((r) => r.path === path);
    expect(row).toBeDefined();
    expect(row?.methods).toBe(route.methods.join(', '));
    expect(row?.access).toBe(ACCESS_LABELS[route.access]);
    expect(row?.takes).toEqual(inputsOf(route));
  });

  it.each(ROUTE_CONTRACTS.map((route) => [route.path]))(
    'names only codes %s answers, each with its catalogue status',
    (path) => {
      const route = contractOf(path);
      const answers = rows.find((r) => r.path === path)?.answers ?? '';
      const named = [...answers.matchAll(/`(?:(\d{3}) )?([a-z]+(?:-[a-z]+)+)`/g)].flatMap(([, status, code]) =>
        isErrorCode(code) ? [{ code, status: status === undefined ? undefined : Number(status) }] : [],
      );
      // Each named code is one the route answers, at its catalogue status when the row gives one.
      expect(named.filter(({ code }) => !errorsOf(route).includes(code))).toEqual([]);
      expect(
        named.filter(({ code, status }) => status !== undefined && status !== ERROR_CATALOGUE[code].status),
      ).toEqual([]);
    },
  );
});

describe('functions/', () => {
  const files = readdirSync(FUNCTIONS).filter((name) => name.endsWith('.ts'));

  it('holds exactly one file per route, `.protected` exactly when Twilio signs it', () => {
    expect(sorted(files)).toEqual(sorted(ROUTE_CONTRACTS.map(functionFileOf)));
  });

  it.each(ROUTE_CONTRACTS.map((route) => [route.path]))(
    'serves %s with the signed and bodyOnly options, the inputs and the header its contract gives',
    (path) => {
      const route = contractOf(path);
      const source = readFileSync(join(FUNCTIONS, functionFileOf(route)), 'utf8');
      const signed = /twilioFunction\(\s*\{\s*signed:\s*(true|false)/.exec(source)?.[1];
      expect(signed).toBe(String(route.access === 'twilio-signed'));
      const bodyOnly = /bodyOnly:\s*\[([^\]]*)\]/.exec(source)?.[1] ?? '';
      const secrets = [...bodyOnly.matchAll(/'([^']+)'/g)].map((m) => m[1]);
      expect(sorted(secrets as string[])).toEqual(sorted(route.inputs.filter((i) => i.bodyOnly).map((i) => i.name)));
      // A function that picks parameters out of the event passes on exactly the contract's inputs.
      const named = [...source.matchAll(/ctx\.event\.([A-Za-z_]\w*)/g)].map((m) => m[1] as string);
      const destructured = /const \{([^}]*)\} = ctx\.event/.exec(source)?.[1];
      for (const name of destructured?.split(',') ?? []) named.push(name.trim());
      // (A function that hands the whole event to its route names none: nothing to compare.)
      const inputs = route.inputs.map((i) => i.name);
      expect(sorted(new Set(named.length > 0 ? named : inputs))).toEqual(sorted(inputs));
      // The header points at the contract instead of restating it.
      expect(source.split('\n')[0]).toContain('lib/shared/route-contracts.ts');
    },
  );
});
