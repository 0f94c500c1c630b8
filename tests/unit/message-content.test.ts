import { HttpError } from '../../lib/shared/error-catalogue';
import { callbackContent, callbackContentAsSent, contentForAnswer, validateContent } from '../../lib/messages/content';

const bomb = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

/** A JSON object `{"t":"<fill×n>"}` of exactly `length` characters. */
const objectOfLength = (length: number, fill = 'x') => {
  const s = JSON.stringify({ t: fill.repeat(length - 8) });
  expect(s.length).toBe(length);
  return s;
};

function refusal(content: unknown): HttpError {
  try {
    validateContent(content);
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(400);
    return err as HttpError;
  }
  throw new Error('expected validateContent to refuse');
}

describe('validateContent', () => {
  it('accepts exactly 10,000 characters and returns the string unchanged', () => {
    const content = objectOfLength(10_000);
    expect(validateContent(content)).toBe(content);
  });

  it('refuses 10,001 characters, saying how long it was', () => {
    const err = refusal(objectOfLength(10_001));
    expect(err.code).toBe('content-too-long');
    expect(err.message).toContain('10001');
  });

  it('counts characters, not bytes: 10,000 characters of 3-byte € pass', () => {
    const content = objectOfLength(10_000, '€');
    expect(Buffer.byteLength(content)).toBeGreaterThan(29_000);
    expect(validateContent(content)).toBe(content);
    expect(refusal(objectOfLength(10_001, '€')).code).toBe('content-too-long');
  });

  it('counts an emoji as two characters (UTF-16), as the SDKs do', () => {
    const content = JSON.stringify({ t: '😀'.repeat(4996) }); // 8 + 4996 × 2 = 10,000
    expect(content.length).toBe(10_000);
    expect(validateContent(content)).toBe(content);
    expect(refusal(JSON.stringify({ t: '😀'.repeat(4997) })).code).toBe('content-too-long');
  });

  it('keeps whitespace and key order exactly', () => {
    const content = ' { "b" : 1,\n "a": [ 2 ] } ';
    expect(validateContent(content)).toBe(content);
  });

  it.each(['not json', '{"a":1', "{'a':1}", '{"a":1}}'])('refuses non-JSON %p', (content) => {
    expect(refusal(content).code).toBe('content-invalid');
  });

  it.each(['[1,2]', '[]', '42', '"a string"', 'true', 'null'])('refuses JSON that is not an object: %s', (content) => {
    const err = refusal(content);
    expect(err.code).toBe('content-invalid');
    expect(err.message).toMatch(/object/);
  });

  it.each([undefined, null, ''])('refuses missing content (%p)', (content) => {
    expect(refusal(content).code).toBe('content-missing');
  });

  it.each([{ a: 1 }, 42, ['{}'], true])('refuses content that is not a string: %p', (content) => {
    expect(refusal(content).code).toBe('content-invalid');
  });

  it('checks the length before parsing', () => {
    expect(refusal('x'.repeat(10_001)).code).toBe('content-too-long');
  });
});

describe('callbackContent', () => {
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      return (err as HttpError).code;
    }
    return 'none';
  };

  it('keeps JSON text exactly as it arrived, at any depth', () => {
    for (const text of [' { "b" : 1 } ', bomb(4_500), '"\\ud800"', '{"__proto__":{"constructor":1}}']) {
      expect(callbackContent(text)).toBe(text);
    }
  });

  it('writes a parsed value from a JSON body back compactly, without recursion', () => {
    const deep = JSON.parse(bomb(4_500)) as unknown;
    expect(callbackContent(deep, true)).toBe(bomb(4_500));
    const odd = JSON.parse('{"__proto__":{"a":"\\ud800"},"constructor":"x"}') as unknown;
    expect(callbackContent(odd, true)).toBe('{"__proto__":{"a":"\\ud800"},"constructor":"x"}');
    expect(callbackContent('plain text', true)).toBe('"plain text"');
  });

  it('refuses what is not JSON in a form body, and what is too long', () => {
    expect(code(() => callbackContent('plain text'))).toBe('content-invalid');
    expect(code(() => callbackContent(undefined))).toBe('content-missing');
    expect(code(() => callbackContent('x'.repeat(20_001)))).toBe('content-too-long');
    expect(code(() => callbackContent(bomb(10_001)))).toBe('content-too-long');
    expect(code(() => callbackContent('x'.repeat(19_999), true))).toBe('content-too-long'); // 20,001 once quoted
  });
});

describe('contentForAnswer', () => {
  it('gives the text and a parsed copy when it nests at most 64 levels', () => {
    expect(contentForAnswer('{"a":[1]}')).toEqual({ content: '{"a":[1]}', data: { a: [1] } });
    expect(contentForAnswer(bomb(64))).toEqual({ content: bomb(64), data: JSON.parse(bomb(64)) });
    expect(contentForAnswer('null')).toEqual({ content: 'null', data: null });
  });

  it('gives the text alone when it nests deeper, so answering it can never exhaust the stack', () => {
    const answer = contentForAnswer(bomb(4_500));
    expect(answer).toEqual({ content: bomb(4_500) });
    expect('data' in answer).toBe(false);
    expect(() => JSON.stringify(answer)).not.toThrow();
    expect(contentForAnswer(bomb(65))).toEqual({ content: bomb(65) });
  });

  it('keeps a __proto__ key as data, never as a prototype', () => {
    const { data } = contentForAnswer('{"__proto__":{"polluted":true}}');
    expect(Object.keys(data as object)).toEqual(['__proto__']);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('gives the text alone for stored text that is not JSON', () => {
    expect(contentForAnswer('{oops')).toEqual({ content: '{oops' });
  });
});

describe('callbackContentAsSent', () => {
  it('keeps JSON as callbackContent does', () => {
    expect(callbackContentAsSent(' { "b" : 1 } ')).toEqual({ content: ' { "b" : 1 } ', json: true });
    expect(callbackContentAsSent({ a: 1 }, true)).toEqual({ content: '{"a":1}', json: true });
    expect(callbackContentAsSent('plain text', true)).toEqual({ content: '"plain text"', json: true });
    expect(callbackContentAsSent(null, true)).toEqual({ content: 'null', json: true });
  });

  it('keeps what is not JSON as its text, and no content as the empty text, never refusing', () => {
    expect(callbackContentAsSent('plain text')).toEqual({ content: 'plain text', json: false });
    expect(callbackContentAsSent('{"unclosed')).toEqual({ content: '{"unclosed', json: false });
    expect(callbackContentAsSent(undefined)).toEqual({ content: '', json: false });
    expect(callbackContentAsSent('')).toEqual({ content: '', json: false });
  });

  it('refuses only what no SDK message can be', () => {
    expect(() => callbackContentAsSent('x'.repeat(20_001))).toThrow(HttpError);
    expect(callbackContentAsSent('x'.repeat(20_000))).toEqual({ content: 'x'.repeat(20_000), json: false });
  });
});
