// A history whose pages would pass Twilio's 4 MB if they were cut by count alone: messages of the
// largest size each direction can have, in characters JSON writes as 6 bytes (lone surrogates),
// alternately from the SDK (20,000 characters, MAX_CALLBACK_CONTENT_CHARS) and to it (10,000,
// MAX_CONTENT_CHARS). Each is valid JSON text, so its parsed copy (`data`) is as large again.
import { MAX_CALLBACK_CONTENT_CHARS, MAX_CONTENT_CHARS } from '../lib/shared/limits';

const LONE = '\ud800';

/** Message i of a large history (fillLeg's numbering: even i from the SDK, odd i to it), exactly at its limit. */
export function largeContent(i: number): string {
  if (i % 2 === 0) return `["${LONE.repeat(MAX_CALLBACK_CONTENT_CHARS - 4)}"]`;
  return `{"t":"${LONE.repeat(MAX_CONTENT_CHARS - 8)}"}`;
}
