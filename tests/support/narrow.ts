// Narrowing for tests under noUncheckedIndexedAccess: an array element, record entry or split part is
// `T | undefined` to the compiler, and a test that relies on it being there says so (and fails there).

/** `value`, once expected to be defined: the test fails at this point, with Jest's message, when it is not. */
export function defined<T>(value: T | undefined): T {
  expect(value).toBeDefined();
  // Unreachable: toBeDefined() has thrown for undefined. This tells the compiler.
  if (value === undefined) throw new Error('expected a defined value');
  return value;
}

/** A callback URL as it is requested: without its `#` fragment (Twilio reads settings there and does not send it). */
export function withoutFragment(url: string): string {
  const hash = url.indexOf('#');
  return hash < 0 ? url : url.slice(0, hash);
}
