// JSON helpers that never recurse, so hostile nesting (a 9,000-character `[[[[…]]]]` is ~4,500
// levels deep) cannot exhaust the stack. V8's JSON.parse is iterative and safe; JSON.stringify,
// String(array) and pretty-printers are recursive and are not.

/** Deepest nesting of arrays and objects in JSON text (0 for a scalar). Linear; valid JSON assumed. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return max;
}

/** JSON.parse without throwing. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

interface Frame {
  value: Record<string, unknown> | unknown[];
  keys?: string[];
  index: number;
  wrote: boolean;
}

const omitted = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/**
 * What JSON.stringify(value) gives for a parsed JSON value (compact, keys in their own order, lone
 * surrogates escaped), without recursion: any depth, linear time. `toJSON` methods are not called
 * (parsed JSON has none).
 */
export function compactJson(value: unknown): string {
  const out: string[] = [];
  const stack: Frame[] = [];
  const write = (v: unknown) => {
    if (Array.isArray(v)) {
      out.push('[');
      stack.push({ value: v, index: 0, wrote: false });
    } else if (typeof v === 'object' && v !== null) {
      out.push('{');
      stack.push({ value: v as Record<string, unknown>, keys: Object.keys(v), index: 0, wrote: false });
    } else {
      out.push(omitted(v) ? 'null' : (JSON.stringify(v) ?? 'null'));
    }
  };
  write(value);
  // The loop ends when the stack is empty, i.e. when its top is undefined.
  let frame: Frame | undefined;
  while ((frame = stack[stack.length - 1]) !== undefined) {
    const { keys } = frame;
    let next: { v: unknown } | undefined;
    if (keys) {
      const object = frame.value as Record<string, unknown>;
      while (!next) {
        const key = keys[frame.index];
        if (key === undefined) break; // past the last key (Object.keys has no holes)
        frame.index++;
        const v = object[key];
        if (omitted(v)) continue; // JSON.stringify leaves such members out
        out.push(`${frame.wrote ? ',' : ''}${JSON.stringify(key)}:`);
        next = { v };
      }
    } else {
      const array = frame.value as unknown[];
      if (frame.index < array.length) {
        out.push(frame.wrote ? ',' : '');
        next = { v: array[frame.index++] };
      }
    }
    if (next) {
      frame.wrote = true;
      write(next.v);
    } else {
      out.push(keys ? '}' : ']');
      stack.pop();
    }
  }
  return out.join('');
}

/** Most characters a page shows of one message: the rest is summarised, so rendering stays cheap. */
export const MAX_DISPLAY_CHARS = 20_000;

/**
 * JSON text for people: indented when it nests at most `maxDepth` levels (indentation grows with
 * depth, so a deep text would grow quadratically), else the text as it is; cut at `maxChars`.
 */
export function displayJson(text: string, maxDepth: number, maxChars = MAX_DISPLAY_CHARS): string {
  let shown = text;
  if (jsonDepth(text) <= maxDepth) {
    const parsed = parseJson(text);
    if (parsed.ok) shown = JSON.stringify(parsed.value, null, 2) ?? text;
  }
  if (shown.length <= maxChars) return shown;
  return `${shown.slice(0, maxChars)}\n… ${(shown.length - maxChars).toLocaleString('en-US')} more characters`;
}
