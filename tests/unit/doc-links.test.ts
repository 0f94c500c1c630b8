// Every relative link in the project's documentation leads somewhere: a file or folder of the
// repository and, when it names one, a heading of that Markdown file (GitHub's anchors). Checked
// for README.md, CONTRIBUTING.md, the other top-level Markdown files and docs/*.md, so a section
// that moves takes its links with it.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = join(__dirname, '../..');

const DOCS = [
  ...readdirSync(ROOT).filter((f) => f.endsWith('.md')),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  'lib/README.md',
  'sandbox/README.md',
  'client/README.md',
  'testing/README.md',
].filter((f) => existsSync(join(ROOT, f)));

/** The text outside fenced code blocks and inline code (links there are examples, not links). */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '``');
}

/** GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*_]/g, (c) => (c === '_' ? '_' : ''))
    .toLowerCase()
    .trim()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a Markdown file's headings, duplicates numbered as GitHub numbers them. */
function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```/gm, '');
  const seen = new Map<string, number>();
  const found = new Set<string>();
  for (const m of text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(m[1] ?? '');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    found.add(n === 0 ? base : `${base}-${n}`);
  }
  return found;
}

interface Link {
  from: string;
  target: string;
}

function relativeLinks(doc: string): Link[] {
  const text = prose(readFileSync(join(ROOT, doc), 'utf8'));
  return [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)]
    .map((m) => m[1] ?? '')
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target))
    .map((target) => ({ from: doc, target }));
}

/** What is wrong with a link, or undefined when it resolves. */
function broken({ from, target }: Link): string | undefined {
  const [path = '', anchor] = target.split('#');
  const file = path === '' ? join(ROOT, from) : resolve(dirname(join(ROOT, from)), decodeURI(path));
  if (relative(ROOT, file).startsWith('..')) return `${from}: ${target} leaves the repository`;
  if (!existsSync(file)) return `${from}: ${target}: no such file`;
  if (anchor === undefined || anchor === '') return undefined;
  if (statSync(file).isDirectory() || !file.endsWith('.md'))
    return `${from}: ${target}: an anchor into a non-Markdown file`;
  return anchors(file).has(anchor) ? undefined : `${from}: ${target}: no such heading`;
}

describe('documentation links', () => {
  it('finds the documents, and links in them', () => {
    expect(DOCS).toEqual(expect.arrayContaining(['README.md', 'CONTRIBUTING.md', 'docs/ARCHITECTURE.md']));
    expect(relativeLinks('README.md').length).toBeGreaterThan(10);
  });

  it.each(DOCS)('every relative link of %s resolves to a file and heading', (doc) => {
    expect(relativeLinks(doc).map(broken).filter(Boolean)).toEqual([]);
  });

  it('reads anchors the way GitHub writes them', () => {
    expect(slug('The sandbox (`npm start`)')).toBe('the-sandbox-npm-start');
    expect(slug('Agents, sign-in and throttling')).toBe('agents-sign-in-and-throttling');
    expect(slug('Check it: the status page')).toBe('check-it-the-status-page');
    expect(slug('Limits, and what is not verified against live Twilio')).toBe(
      'limits-and-what-is-not-verified-against-live-twilio',
    );
  });
});
