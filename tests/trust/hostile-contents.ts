// Hostile message contents (issue #12), as JSON text: nesting bombs, very wide objects, lone
// surrogates, prototype-named keys and 10,000-character multi-byte text. Used by the hostile-content
// trust file (every route, every encoding) and mixed into the random corpus (corpus.ts).

const bomb = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
/** `{"k0":0,"k1":0,…}` as wide as fits in `chars`. */
function wideObject(chars: number): string {
  const parts: string[] = [];
  let length = 2;
  for (let i = 0; ; i++) {
    const part = `"k${i}":${i}`;
    if (length + part.length + (parts.length ? 1 : 0) > chars) break;
    length += part.length + (parts.length ? 1 : 0);
    parts.push(part);
  }
  return `{${parts.join(',')}}`;
}

/** Each hostile content as JSON text, and whether /send-message may take it (a JSON object ≤ 10,000). */
export const HOSTILE_CONTENTS: { name: string; text: string; object: boolean }[] = [
  { name: 'array bomb, 9,000 chars, depth 4,500', text: bomb(4_500), object: false },
  { name: 'object holding a bomb, 10,000 chars', text: `{"a":${bomb(4_997)}}`, object: true },
  { name: 'nested objects, depth 1,666', text: '{"a":'.repeat(1_666) + '1' + '}'.repeat(1_666), object: true },
  { name: 'very wide object (10,000 chars)', text: wideObject(10_000), object: true },
  { name: 'very wide array (10,000 chars)', text: `[${Array(4_999).fill('0').join(',')}]`, object: false },
  { name: 'lone surrogates (escaped)', text: '{"s":"\\ud800","t":"x\\udfff","u":"\\ud83d"}', object: true },
  { name: 'lone surrogates (raw)', text: `{"s":"\ud800","t":"x\udfff"}`, object: true },
  {
    name: '__proto__ / constructor / prototype keys',
    text: '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"prototype":null}',
    object: true,
  },
  { name: '10,000 chars of 3-byte €', text: JSON.stringify({ a: '€'.repeat(9_992) }), object: true },
  { name: '10,000 UTF-16 units of 😀', text: JSON.stringify({ a: '😀'.repeat(4_996) }), object: true },
  { name: 'mixed multi-byte, 9,997 chars', text: JSON.stringify({ a: 'é€😀𝄞ü'.repeat(1_427) }), object: true },
  { name: 'a bare string of 9,998 chars', text: JSON.stringify('ü'.repeat(9_998)), object: false },
];
