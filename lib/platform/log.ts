import { isCallSid } from '../shared/identifiers';

/**
 * One log line per event, keyed by CallSid. Only identifiers and outcomes: never message content,
 * tokens or secrets, so nothing sensitive reaches Twilio's function logs.
 */
export function logEvent(route: string, event: Record<string, unknown>, fields: Record<string, unknown>): void {
  const callSid = [event.CallSid, event.callSid].find(isCallSid);
  console.log(JSON.stringify({ route, callSid, ...fields }));
}
