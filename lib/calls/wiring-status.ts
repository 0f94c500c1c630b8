// Whether the TwiML App and the account's phone numbers send their calls to this deployment's
// /voice, for the operator's status page. Reads only (Applications fetch, IncomingPhoneNumbers
// list: their `voice_url` and `voice_application_sid`), each retried within the deadline; every
// failure becomes a line of the report, never a thrown error.
import type { NumberStatus, OperatorStatus, StatusLevel } from '../shared/api-types';
import { isTwilioRestError } from '../platform/errors';
import { withRetry } from '../platform/retry';
import type { TwilioClient } from '../platform/twilio-client';

/** Numbers listed at most (one page): an account with more is told so (`more`). */
export const NUMBERS_LISTED = 50;

export interface WiringInput {
  /** The URLs of /voice that count as this deployment's (its domain's, and PUBLIC_BASE_URL's). */
  voiceUrls: readonly string[];
  twimlAppSid: string | undefined;
}

/** `https://x/voice/` and `https://X/voice` are the same URL; a query or fragment makes another. */
export function sameUrl(a: string, b: string): boolean {
  const norm = (url: string) => {
    try {
      const u = new URL(url);
      return `${u.protocol}//${u.host.toLowerCase()}${u.pathname.replace(/\/+$/, '')}${u.search}`;
    } catch {
      return url.trim();
    }
  };
  return a !== '' && b !== '' && norm(a) === norm(b);
}

const pointsAt = (url: string | null | undefined, voiceUrls: readonly string[]) =>
  voiceUrls.some((v) => sameUrl(url ?? '', v));

function failure(err: unknown, what: string): { detail: string; twilioCode?: number } {
  if (isTwilioRestError(err)) {
    const code = err.code;
    return {
      detail: `Twilio refused to read ${what} (HTTP ${err.status}${code ? `, code ${code}` : ''}).`,
      ...(code ? { twilioCode: code } : {}),
    };
  }
  return { detail: `Twilio did not answer in time about ${what}.` };
}

interface AppFacts {
  sid: string;
  friendlyName: string;
  voiceUrl: string | null;
}
interface NumberFacts {
  sid: string;
  phoneNumber: string;
  voiceUrl: string | null;
  voiceApplicationSid: string | null;
}

/** The TwiML App's line, from what Twilio answered (or how it failed). */
export function assessTwimlApp(
  input: WiringInput,
  app: { facts: AppFacts } | { notFound: true } | { error: unknown } | undefined,
): OperatorStatus['twimlApp'] {
  if (!input.twimlAppSid) return { level: 'error', detail: 'TWIML_APP_SID is not set: the softphone cannot call.' };
  const sid = input.twimlAppSid;
  if (!app || 'notFound' in app)
    return { level: 'error', sid, detail: 'TWIML_APP_SID names no TwiML App of this account.' };
  if ('error' in app) return { level: 'error', sid, ...failure(app.error, 'the TwiML App') };
  const { friendlyName, voiceUrl } = app.facts;
  const here = pointsAt(voiceUrl, input.voiceUrls);
  return {
    level: here ? 'ok' : 'error',
    sid,
    friendlyName,
    voiceUrl: voiceUrl ?? '',
    pointsHere: here,
    detail: here
      ? "Its voice URL is this deployment's /voice."
      : `Its voice URL is ${voiceUrl ? 'another' : 'empty'}: calls from the softphone do not reach this deployment (npm run wire).`,
  };
}

/** The numbers' line: which send their calls here, directly or through a TwiML App that does. */
export function assessNumbers(
  input: WiringInput,
  listed: { numbers: NumberFacts[]; more: boolean } | { error: unknown },
  appPointsHere: boolean,
): OperatorStatus['numbers'] {
  if ('error' in listed) return { level: 'error', numbers: [], ...failure(listed.error, 'the phone numbers') };
  const numbers: NumberStatus[] = listed.numbers.map((n) => ({
    phoneNumber: n.phoneNumber,
    sid: n.sid,
    voiceUrl: n.voiceUrl ?? '',
    voiceApplicationSid: n.voiceApplicationSid,
    pointsHere: n.voiceApplicationSid
      ? n.voiceApplicationSid === input.twimlAppSid && appPointsHere
      : pointsAt(n.voiceUrl, input.voiceUrls),
  }));
  const here = numbers.filter((n) => n.pointsHere).length;
  const level: StatusLevel = here > 0 ? 'ok' : 'warn';
  const detail =
    numbers.length === 0
      ? 'This account has no phone number: calls from phones cannot reach the softphone (calls between agents can).'
      : here === 0
        ? `None of the ${numbers.length} number(s) sends its calls here (npm run wire).`
        : `${here} of ${numbers.length} number(s) send their calls here.`;
  return { level, detail, numbers, ...(listed.more ? { more: true } : {}) };
}

/** Reads the TwiML App and the numbers (in parallel) and assesses both. */
export async function wiringStatus(
  client: TwilioClient,
  input: WiringInput,
  deadline: number,
): Promise<Pick<OperatorStatus, 'twimlApp' | 'numbers'>> {
  const retry = <T>(op: () => Promise<T>) => withRetry(op, { deadline });
  const readApp = async () => {
    if (!input.twimlAppSid) return undefined;
    const sid = input.twimlAppSid;
    try {
      const a = await retry(() => client.applications(sid).fetch());
      return { facts: { sid: a.sid, friendlyName: a.friendlyName, voiceUrl: a.voiceUrl } };
    } catch (err) {
      return isTwilioRestError(err) && err.status === 404 ? { notFound: true as const } : { error: err };
    }
  };
  const readNumbers = async () => {
    try {
      // One more than shown: whether the account has more.
      const page = await retry(() => client.incomingPhoneNumbers.list({ limit: NUMBERS_LISTED + 1 }));
      return {
        numbers: page.slice(0, NUMBERS_LISTED).map((n) => ({
          sid: n.sid,
          phoneNumber: n.phoneNumber,
          voiceUrl: n.voiceUrl,
          voiceApplicationSid: n.voiceApplicationSid || null,
        })),
        more: page.length > NUMBERS_LISTED,
      };
    } catch (err) {
      return { error: err };
    }
  };
  const [app, listed] = await Promise.all([readApp(), readNumbers()]);
  const twimlApp = assessTwimlApp(input, app);
  return { twimlApp, numbers: assessNumbers(input, listed, twimlApp.pointsHere === true) };
}
