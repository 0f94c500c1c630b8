// The trust suite's hostile-input corpus: junk values, message contents (near and over the limits),
// near misses of valid requests, and fake SIDs. Everything is derived from one seed (TRUST_SEED):
// fast-check draws the samples with it, and fakeSid uses a PRNG seeded with it, so a run can be
// repeated exactly.
import fc from 'fast-check';
import { HOSTILE_CONTENTS } from './hostile-contents';
import { sid, messageSid } from '../../testing/sids';

/** mulberry32: a small, fast, seeded PRNG; numbers in [0, 1). */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function hostileCorpus(seed: number) {
  const random = seededRandom(seed);
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  /** A well-formed SID nobody issued: two-letter prefix + 32 lowercase hex digits, from the seed. */
  const fakeSid = (prefix: string) => sid(prefix, BigInt(`0x${hex(32)}`));

  const junk = fc.oneof(
    fc.constant(''),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.constantFrom(
      'CA' + '0'.repeat(31),
      'CA' + 'g'.repeat(32),
      messageSid(0xa), // a valid SID of the wrong kind
      'CA' + 'A'.repeat(32),
      'ca' + 'a'.repeat(32),
      'CA' + 'a'.repeat(33),
    ),
    fc.integer().map(String),
    fc.constantFrom(
      '-1',
      '1e309',
      'NaN',
      'null',
      'true',
      '[]',
      '{}',
      '{"a":',
      '\u0000',
      '%00',
      '../../etc/passwd',
      '<Response/>',
    ),
    fc.string({ minLength: 2000, maxLength: 5000 }),
  );
  const contentArb = fc.oneof(
    junk,
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue(), { maxKeys: 4 }).map((v) => JSON.stringify(v)),
    fc.constantFrom(
      JSON.stringify({ a: 'x'.repeat(9_992) }), // exactly 10,000 characters
      JSON.stringify({ a: 'x'.repeat(9_993) }), // 10,001
      JSON.stringify({ a: '€'.repeat(9_992) }), // 10,000 characters, ~30 KB of UTF-8
      JSON.stringify({ a: '😀'.repeat(4_996) }), // 10,000 UTF-16 units, surrogate pairs
    ),
    fc.constantFrom(...HOSTILE_CONTENTS.map((c) => c.text)), // nesting bombs, wide objects, lone surrogates…
  );
  const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
  /** Half the corpus: a valid request with one field replaced by junk or removed (near misses). */
  const mutated = <T extends Record<string, unknown>>(valid: fc.Arbitrary<T>, random: fc.Arbitrary<T>) =>
    fc.oneof(
      random,
      fc.tuple(valid, fc.nat(), maybe(junk)).map(([v, i, value]) => {
        const keys = Object.keys(v);
        const key = keys[i % keys.length];
        if (key === undefined) throw new Error('a valid request has at least one field to replace');
        return { ...v, [key]: value };
      }),
      valid,
    );
  const defined = (o: Record<string, string | undefined>) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Record<string, string>;

  return { junk, contentArb, maybe, mutated, defined, fakeSid };
}
