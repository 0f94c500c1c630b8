import { badRequest } from './errors';

/** Twilio's limit on a call message's Content (error 32703). */
export const MAX_CONTENT_CHARS = 10_000;

/**
 * Most a message callback may carry. The SDKs cap a message at 10 KB (31212), which can be more
 * than 10,000 characters; this only bounds what one request can make us store.
 */
export const MAX_CALLBACK_CONTENT_CHARS = 20_000;

/**
 * Validates a call message's content: a JSON object of at most 10,000 characters (counted as
 * JavaScript string length, as the SDKs do). Returns the string unchanged, so what is sent is
 * exactly what was given.
 */
export function validateContent(content: unknown): string {
  if (content === undefined || content === null || content === '') {
    throw badRequest('content-missing', 'content is required: a JSON object, as a string.');
  }
  if (typeof content !== 'string')
    throw badRequest('content-invalid', 'content must be a string holding a JSON object.');
  if (content.length > MAX_CONTENT_CHARS) {
    throw badRequest('content-too-long', `content is ${content.length} characters; the limit is ${MAX_CONTENT_CHARS}.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch {
    throw badRequest('content-invalid', 'content is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest('content-invalid', 'content must be a JSON object, e.g. {"key":"value"}.');
  }
  return content;
}

/**
 * Content of a message the SDK sent, as Twilio delivers it: any JSON value the SDK accepted
 * (object, array, string, number…), as a string — or already parsed, from a JSON body. Kept as
 * given; refused only when it is not JSON at all or impossibly large.
 */
export function callbackContent(content: unknown, jsonBody = false): string {
  if (content === undefined || content === '') throw badRequest('content-missing', 'Content is required.');
  const raw = typeof content === 'string' ? content : JSON.stringify(content);
  const isJson = isJsonText(raw);
  // In a JSON body, Content may arrive as the value itself (here a string) rather than its JSON text.
  const text = isJson || !jsonBody ? raw : JSON.stringify(content);
  if (text.length > MAX_CALLBACK_CONTENT_CHARS) {
    throw badRequest(
      'content-too-long',
      `Content is ${text.length} characters; at most ${MAX_CALLBACK_CONTENT_CHARS} are accepted.`,
    );
  }
  if (!isJson && text === raw) throw badRequest('content-invalid', 'Content is not valid JSON.');
  return text;
}

function isJsonText(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
