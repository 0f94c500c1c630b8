// The keys of a leg's Sync Map. Sync lists Map items in key order, so the keys are chosen to make
// that order useful:
//   from-sdk.<seq>.<KX…>     a message from the SDK: SequenceNumber order; the Sid makes a
//                            redelivered callback land on the same key (a no-op)
//   state                    the leg's state, with its subscription record
//   to-sdk-r.<inv>.<h>       a message to the SDK, newest first: inv = MAX_TIME_MS − its send time
//                            (h: hash of its idempotency key)
//   <key>~<n>                continuation parts of a message whose item would reach 10 KiB
//   ~send.<h>                the claim of a send's idempotency key (exactly-once sends)
// so `from-sdk.*` < `state` < `to-sdk-r.*` < `~send.*`. The newest messages of both directions
// meet at `state`: one ascending read from the last message seen returns what is new both ways and
// the state (a console's refresh), and a page of history is at most two range reads.
import { createHash } from 'node:crypto';
import { isMessageSid } from '../shared/identifiers';
import { legMapName } from '../shared/sync-names';

export { legMapName };

/**
 * Serialized Sync item data may not exceed 16 KB, and Sync's strictest write limit (2/s per object)
 * applies from 10 KiB: a message is split so that each of its writes stays under 10 KiB, its head
 * (the first part with the message's fields, room kept for them) and each continuation part
 * (`{"part":…}`), at the cost of one more write for a message past about 9.5 KB.
 */
const MAX_PART_BYTES = 10_200;
/** The first part's share of the head item, whose fields (Sids, times, key) take a few hundred bytes more. */
export const MAX_HEAD_PART_BYTES = 9_700;

/**
 * An identity's own Map (`cme.identity.<identity>`): an item per leg of that identity the status
 * callbacks reported, keyed by its CallSid, from the leg's first claim to its end. Per identity, so
 * no object is written account-wide on every call.
 */
export const identityMapName = (identity: string) => `cme.identity.${identity}`;
export const STATE_KEY = 'state';
export const FROM_SDK = 'from-sdk.';
export const TO_SDK = 'to-sdk-r.';
const SEND_CLAIM = '~send.';
/** The key just past the messages to the SDK, for reading them oldest first. */
export const TO_SDK_END = 'to-sdk-r/';

/** Largest SequenceNumber a key holds in order (ten digits, zero-padded). */
export const MAX_SEQUENCE_NUMBER = 9_999_999_999;
export const inboundKey = (sequence: number, sid: string) =>
  `${FROM_SDK}${String(sequence).padStart(10, '0')}.${messageKeySid(sid)}`;
/**
 * The Sid a message's key holds: Twilio's when it is `KX` + 32 lower-case hex (the JS SDK's); any
 * other Sid (the iOS and Android formats are undocumented), or none (''), becomes `KX` + 32 hex of
 * its SHA-256, so the key keeps its pattern and a redelivery still lands on the same key.
 */
export const messageKeySid = (sid: string): string => (isMessageSid(sid) ? sid : hashedSid(sid));
const hashedSid = (sid: string) => `KX${createHash('sha256').update(`sid:${sid}`).digest('hex').slice(0, 32)}`;
/** 24 hex digits of SHA-256: an idempotency key inside an item key, or a send's content inside its claim. */
export const shortHash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 24);
/** Largest send time a key holds (ms since epoch, 13 digits: until the year 2286). */
const MAX_TIME_MS = 9_999_999_999_999;
const sendTimeKey = (prefix: string, time: number, idempotencyKey: string) =>
  `${prefix}${String(time).padStart(13, '0')}.${shortHash(idempotencyKey)}`;
export const outboundKey = (sentAtMs: number, idempotencyKey: string) =>
  sendTimeKey(TO_SDK, MAX_TIME_MS - sentAtMs, idempotencyKey);
/**
 * Where a message to the SDK was kept before its keys ran newest first (`to-sdk.<ms>.<h>`). Only
 * looked for when a send is about to go again, so a send retried across the upgrade stays once.
 * Migration: remove after 2026-12-13, with its one read in CallStore.claimSend (the upgrade landed
 * 2026-12-06; a leg's Map expires within 48 h, SYNC_ACTIVE_CALL_TTL_SECONDS's default).
 */
export const legacyOutboundKey = (sentAtMs: number, idempotencyKey: string) =>
  sendTimeKey('to-sdk.', sentAtMs, idempotencyKey);
/** What a message key of each direction looks like (a history cursor holds nothing else). */
export const FROM_SDK_KEY_PATTERN = /^from-sdk\.\d{10}\.KX[0-9a-f]{32}$/;
export const TO_SDK_KEY_PATTERN = /^to-sdk-r\.\d{13}\.[0-9a-f]{24}$/;
/** A message's head item (one per message, either direction): not a continuation part, the state or a claim. */
export const isMessageHeadKey = (key: string) => FROM_SDK_KEY_PATTERN.test(key) || TO_SDK_KEY_PATTERN.test(key);
export const sendClaimKey = (idempotencyKey: string) => `${SEND_CLAIM}${shortHash(idempotencyKey)}`;

/**
 * Splits text into pieces whose JSON string form is at most `maxBytes` UTF-8 bytes (the first:
 * `firstMaxBytes`), never inside a code point.
 */
export function splitForSync(text: string, maxBytes = MAX_PART_BYTES, firstMaxBytes = maxBytes): string[] {
  const parts: string[] = [];
  let current = '';
  let size = 2; // the quotes
  for (const char of text) {
    const bytes = Buffer.byteLength(JSON.stringify(char)) - 2;
    if (size + bytes > (parts.length === 0 ? firstMaxBytes : maxBytes) && current) {
      parts.push(current);
      current = '';
      size = 2;
    }
    current += char;
    size += bytes;
  }
  parts.push(current);
  return parts;
}
