// A message typed in a composer (the softphone's or the console's), checked before it is sent.

import { compactJson } from '../../../lib/shared/json-text';
import { MAX_CONTENT_CHARS } from '../../../lib/shared/limits';

/** The content limit as the pages write it ("10,000"). */
export const MAX_CONTENT_TEXT = MAX_CONTENT_CHARS.toLocaleString('en-US');

export type JsonDraft =
  { ok: true; content: Record<string, unknown>; compact: string } | { ok: false; error: string; size: number };

/**
 * A JSON object whose compact form (what is sent) fits in MAX_CONTENT_CHARS. `notObject` is the
 * page's own wording for valid JSON that is not an object.
 */
export function checkJsonObject(text: string, notObject: string): JsonDraft {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `Not valid JSON: ${(err as Error).message}`, size: text.length };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, error: notObject, size: text.length };
  const compact = compactJson(value); // iterative: typed text may nest deeper than JSON.stringify can go
  if (compact.length > MAX_CONTENT_CHARS)
    return {
      ok: false,
      error: `Too long: ${compact.length.toLocaleString('en-US')} characters; the limit is ${MAX_CONTENT_TEXT}.`,
      size: compact.length,
    };
  return { ok: true, content: value as Record<string, unknown>, compact };
}
