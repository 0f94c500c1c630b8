import { isCallSid } from '../shared/identifiers';

/**
 * One JSON line per event: `{route, callSid, ...fields}`. Only identifiers and outcomes: never
 * message content, tokens or secrets, so nothing sensitive reaches Twilio's function logs.
 */
export interface Log {
  info(fields: Record<string, unknown>): void;
  /** The same log about another call (the leg a request resolved, or one of two legs it names). */
  forCall(callSid: string): Log;
}

/** The CallSid a request is about: Twilio's `CallSid`, else a `callSid` parameter (when it is one). */
export function callSidOf(event: Record<string, unknown>): string | undefined {
  return [event.CallSid, event.callSid].find(isCallSid);
}

/** A log bound to a route (its path) or a component (`sync`, `throttle`), and the call it is about. */
export function routeLog(route: string, callSid?: string): Log {
  return {
    info: (fields) => console.log(JSON.stringify({ route, callSid, ...fields })),
    forCall: (other) => routeLog(route, other),
  };
}
