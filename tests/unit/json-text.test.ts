import fc from 'fast-check';
import { compactJson, displayJson, jsonDepth, MAX_DISPLAY_CHARS, parseJson } from '../../lib/shared/json-text';

const bomb = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('jsonDepth', () => {
  it.each([
    ['1', 0],
    ['"[[["', 0],
    ['[]', 1],
    ['{"a":[{"b":[]}]}', 4],
    ['["\\"[", {"k]": "}"}]', 2],
    ['["\\\\", [1]]', 2],
  ])('%s → %i', (text, depth) => {
    expect(jsonDepth(text)).toBe(depth);
  });

  it('measures a 9,000-character bomb in linear time without recursion', () => {
    expect(jsonDepth(bomb(4_500))).toBe(4_500);
    expect(jsonDepth(bomb(500_000))).toBe(500_000);
  });

  it('agrees with the depth of the parsed value (property)', () => {
    const depthOf = (v: unknown): number =>
      typeof v === 'object' && v !== null ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0;
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(jsonDepth(JSON.stringify(v))).toBe(depthOf(v));
      }),
      { numRuns: 300 },
    );
  });
});

describe('compactJson', () => {
  it('writes exactly what JSON.stringify writes (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(compactJson(v)).toBe(JSON.stringify(v));
      }),
      { numRuns: 500 },
    );
  });

  it('escapes lone surrogates and keeps odd keys as JSON.stringify does', () => {
    const value = JSON.parse('{"__proto__":{"a":"\\ud800"},"constructor":["\\udfff"],"1":true,"":null}') as unknown;
    expect(compactJson(value)).toBe(JSON.stringify(value));
    expect(compactJson(value)).toContain('"__proto__":{"a":"\\ud800"}');
  });

  it('drops undefined members and writes null for undefined elements, like JSON.stringify', () => {
    const value = { a: undefined, b: [undefined, () => 1], c: NaN, d: -0 };
    expect(compactJson(value)).toBe(JSON.stringify(value));
  });

  it('writes any depth (JSON.stringify throws on the same value)', () => {
    const value = JSON.parse(bomb(100_000)) as unknown;
    expect(() => JSON.stringify(value)).toThrow(RangeError);
    expect(compactJson(value)).toBe(bomb(100_000));
  });

  it('writes a very wide object in linear time', () => {
    const wide = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, i]));
    const started = Date.now();
    expect(compactJson(wide)).toBe(JSON.stringify(wide));
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('parseJson', () => {
  it('never throws', () => {
    expect(parseJson('{')).toEqual({ ok: false });
    expect(parseJson('{"a":1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(parseJson(bomb(100_000)).ok).toBe(true);
  });
});

describe('displayJson', () => {
  it('indents shallow JSON', () => {
    expect(displayJson('{"a":[1]}', 64)).toBe('{\n  "a": [\n    1\n  ]\n}');
  });

  it('shows deep JSON as it is (indenting it would grow quadratically)', () => {
    expect(displayJson(bomb(65), 64)).toBe(bomb(65));
    expect(displayJson(bomb(4_500), 64)).toBe(bomb(4_500));
  });

  it('cuts what it shows, saying how much is left out', () => {
    const text = JSON.stringify({ t: 'x'.repeat(50_000) });
    const shown = displayJson(text, 64);
    expect(shown.length).toBeLessThan(MAX_DISPLAY_CHARS + 100);
    expect(shown).toMatch(/… [\d,]+ more characters$/);
  });

  it('shows text that is not JSON as it is', () => {
    expect(displayJson('{oops', 64)).toBe('{oops');
  });
});
