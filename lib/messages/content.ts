import { apiError } from '../shared/error-catalogue';
import { compactJson, jsonDepth, parseJson } from '../shared/json-text';
import { MAX_CALLBACK_CONTENT_CHARS, MAX_CONTENT_CHARS, MAX_PARSED_DEPTH } from '../shared/limits';

export { MAX_CALLBACK_CONTENT_CHARS, MAX_CONTENT_CHARS } from '../shared/limits';

/**
 * Validates a call message's content: a JSON object of at most 10,000 characters (counted as
 * JavaScript string length, as the SDKs do). Returns the string unchanged, so what is sent is
 * exactly what was given.
 */
export function validateContent(content: unknown): string {
  if (content === undefined || content === null || content === '') {
    throw apiError('content-missing', 'content is required: a JSON object, as a string.');
  }
  if (typeof content !== 'string') throw apiError('content-invalid', 'content must be a string holding a JSON object.');
  if (content.length > MAX_CONTENT_CHARS) {
    throw apiError('content-too-long', `content is ${content.length} characters; the limit is ${MAX_CONTENT_CHARS}.`);
  }
  const parsed = parseJson(content);
  if (!parsed.ok) throw apiError('content-invalid', 'content is not valid JSON.');
  if (typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) {
    throw apiError('content-invalid', 'content must be a JSON object, e.g. {"key":"value"}.');
  }
  return content;
}

/**
 * Content of a message the SDK sent, as Twilio delivers it: any JSON value the SDK accepted
 * (object, array, string, number…), as a string — or already parsed, from a JSON body. Kept as the
 * text it arrived as (a parsed value is written back compactly, in its own key order, without
 * recursion); refused only when it is not JSON at all or impossibly large.
 */
export function callbackContent(content: unknown, jsonBody = false): string {
  if (content === undefined || content === '') throw apiError('content-missing', 'Content is required.');
  const raw = typeof content === 'string' ? content : compactJson(content);
  // A long string is refused before anything parses it.
  if (raw.length > MAX_CALLBACK_CONTENT_CHARS) throw tooLong(raw.length);
  if (parseJson(raw).ok) return raw;
  // In a JSON body, Content may arrive as the value itself (here a string) rather than its JSON text.
  if (!jsonBody) throw apiError('content-invalid', 'Content is not valid JSON.');
  const text = JSON.stringify(raw);
  if (text.length > MAX_CALLBACK_CONTENT_CHARS) throw tooLong(text.length);
  return text;
}

/**
 * Content of a message from a verified subscription, as it will be stored: JSON text where it is
 * JSON (as callbackContent reads it); otherwise the text as it came, with `json: false`, since a
 * refusal would lose the message for good (the mobile SDKs send any string). No Content at all is
 * the empty text. Refused only when it is more than any SDK message can be (content-too-long).
 */
export function callbackContentAsSent(content: unknown, jsonBody = false): { content: string; json: boolean } {
  if (content === undefined || content === '') return { content: '', json: false };
  if (typeof content !== 'string' || jsonBody) return { content: callbackContent(content, jsonBody), json: true };
  if (content.length > MAX_CALLBACK_CONTENT_CHARS) throw tooLong(content.length);
  return parseJson(content).ok ? { content, json: true } : { content, json: false };
}

const tooLong = (length: number) =>
  apiError('content-too-long', `Content is ${length} characters; at most ${MAX_CALLBACK_CONTENT_CHARS} are accepted.`);

/**
 * How history answers carry a stored message's content: `content` is the JSON text exactly as it
 * arrived; `data` is a parsed copy, present only when the text nests at most MAX_PARSED_DEPTH
 * levels, so answering (which serialises recursively) can never exhaust the stack.
 */
export interface ContentForAnswer {
  content: string;
  data?: unknown;
}

export function contentForAnswer(text: string): ContentForAnswer {
  if (jsonDepth(text) > MAX_PARSED_DEPTH) return { content: text };
  const parsed = parseJson(text);
  return parsed.ok ? { content: text, data: parsed.value } : { content: text };
}
