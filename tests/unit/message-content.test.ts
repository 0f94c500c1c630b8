import { HttpError } from '../../lib/errors';
import { MAX_CONTENT_CHARS, validateContent } from '../../lib/message-content';

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
  it('has the 10,000-character limit', () => {
    expect(MAX_CONTENT_CHARS).toBe(10_000);
  });

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
