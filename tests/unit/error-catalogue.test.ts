// The catalogue is the only place an error's status is chosen: every code it lists is answered
// somewhere in lib/, and nothing in lib/ builds an error around it.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { apiError, ERROR_CATALOGUE, ERROR_CODES, HttpError, isErrorCode } from '../../lib/shared/error-catalogue';

const LIB = join(__dirname, '../../lib');
const CATALOGUE = join(LIB, 'shared/error-catalogue.ts');

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourcesUnder(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const sources = sourcesUnder(LIB)
  .filter((path) => path !== CATALOGUE)
  .map((path) => ({ path: relative(LIB, path), text: readFileSync(path, 'utf8') }));

describe('the error catalogue', () => {
  it('gives every code a 4xx or 5xx status and a one-line description', () => {
    for (const code of ERROR_CODES) {
      const { status, description } = ERROR_CATALOGUE[code];
      expect([code, status >= 400 && status < 600]).toEqual([code, true]);
      expect([code, description.length > 0 && !description.includes('\n')]).toEqual([code, true]);
    }
  });

  it('lists exactly the codes lib/ answers with', () => {
    const unused = ERROR_CODES.filter((code) => !sources.some(({ text }) => text.includes(`'${code}'`)));
    expect(unused).toEqual([]);
  });

  it('is the only place in lib/ an answer error is constructed or a status is chosen for one', () => {
    const offenders = sources
      .filter(({ text }) => /new HttpError\(|apiError\(\s*\d/.test(text))
      .map(({ path }) => path);
    expect(offenders).toEqual([]);
  });

  it('takes the status from the catalogue', () => {
    const err = apiError('call-not-active', 'No call.', {
      details: { callSid: 'CA1' },
      headers: { 'Retry-After': '1' },
    });
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ status: 409, code: 'call-not-active', message: 'No call.' });
    expect(err.details).toEqual({ callSid: 'CA1' });
    expect(err.headers).toEqual({ 'Retry-After': '1' });
  });

  it('knows its codes', () => {
    expect(isErrorCode('record-failed')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode(409)).toBe(false);
  });
});
