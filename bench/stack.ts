// The stack the benchmark drives: the sandbox (in this process) and real twilio-run (a child) on the
// snapshot build, plus helpers that shape requests exactly as the sandbox's Twilio would send them.
import { readdirSync, readFileSync } from 'node:fs';
import type { Sandbox } from '../sandbox/app';
import { SandboxControl } from '../sandbox/control-client';
import { startStack, type Stack } from '../sandbox/stack';
import { SANDBOX_DEFAULTS } from '../sandbox/defaults';
import { callStatusUrl, messageCallbackUrl, type LegNames, type SdkLegs } from '../lib/calls/callback-urls';
import { freePort, waitFor } from '../testing/stack';
import { post, type FunctionsTarget } from './http';

export interface BenchStack {
  stack: Stack;
  sandbox: Sandbox;
  control: SandboxControl;
  fn: FunctionsTarget;
  fork: boolean;
}

export async function startBenchStack(fork: boolean, env: Record<string, string> = {}): Promise<BenchStack> {
  const stack = await startStack({ functionsPort: await freePort(), forkProcess: fork, env });
  return {
    stack,
    sandbox: stack.sandbox,
    control: new SandboxControl(stack.sandbox.url),
    fn: { baseUrl: stack.functionsUrl, authToken: stack.sandbox.authToken },
    fork,
  };
}

/** TwiML that keeps a call up until someone hangs up: it bridges to a phone-network party that answers. */
const HOLD_TWIML = '<Response><Dial><Number>+15550009999</Number></Dial></Response>';

/**
 * Live Voice SDK legs with no status callback of their own: `client.calls.create` to a simulated SDK
 * phone that answers. The benchmark then plays their status callbacks itself, one at a time, so it
 * controls exactly when each event reaches the functions.
 */
export async function heldSdkLegs(b: BenchStack, identity: string, count: number): Promise<string[]> {
  b.sandbox.engine.registerPhone(identity, true);
  const calls = Array.from({ length: count }, () =>
    b.sandbox.engine.createApiCall({ to: `client:${identity}`, from: b.sandbox.phoneNumber, twiml: HOLD_TWIML }),
  );
  await waitFor(
    () => calls.every((c) => c.status === 'in-progress' && c.dialedLeg !== undefined),
    `${count} held SDK legs`,
    60_000,
  );
  return calls.map((c) => c.sid);
}

export interface StatusCallbackLeg {
  /** The <Dial> noun's leg (CallSid of the callback). */
  callSid: string;
  parentCallSid: string;
  from: string;
  to: string;
  sdk: SdkLegs;
}

let statusSequence = 0;

/** A signed `<Dial>` noun status callback, as the sandbox (and Twilio) sends it. */
export function statusCallback(
  b: BenchStack,
  leg: StatusCallbackLeg,
  status: 'initiated' | 'ringing' | 'in-progress' | 'completed',
) {
  const url = callStatusUrl(b.fn.baseUrl, leg.sdk);
  const params: Record<string, string> = {
    AccountSid: b.sandbox.accountSid,
    ApiVersion: '2010-04-01',
    CallSid: leg.callSid,
    CallStatus: status,
    Direction: 'outbound-dial',
    From: leg.from,
    Caller: leg.from,
    To: leg.to,
    Called: leg.to,
    ParentCallSid: leg.parentCallSid,
    CallbackSource: 'call-progress-events',
    SequenceNumber: String(statusSequence++ % 4),
    Timestamp: new Date().toUTCString(),
    ...(status === 'completed' ? { CallDuration: '1' } : {}),
  };
  return post(b.fn, url.slice(b.fn.baseUrl.length), params, { signed: true });
}

/** The child-leg callback of a call to our number, dialed to the SDK identity that holds `callSid`. */
export const childLeg = (callSid: string, parentCallSid: string, identity: string): StatusCallbackLeg => ({
  callSid,
  parentCallSid,
  from: '+15550001000',
  to: `client:${identity}`,
  sdk: { child: identity },
});

/**
 * A signed subscription callback: a message the SDK on `callSid` sent. With `names` (the leg's
 * parent and identity), its URL is the one /call-status issues; without, one issued before it named them.
 */
export function messageCallback(
  b: BenchStack,
  callSid: string,
  sid: string,
  sequence: number,
  content: string,
  names?: LegNames,
) {
  const url = messageCallbackUrl(b.fn.baseUrl, b.sandbox.authToken, callSid, new Date(), names);
  const params = {
    ContentType: 'application/json',
    Content: content,
    SequenceNumber: String(sequence),
    CallSid: callSid,
    Timestamp: new Date().toUTCString(),
    AccountSid: b.sandbox.accountSid,
    Sid: sid,
  };
  return post(b.fn, url.slice(b.fn.baseUrl.length), params, { signed: true });
}

/** `/voice` for a phone-network caller dialing our number. */
export function voiceInbound(b: BenchStack, callSid: string) {
  const params = {
    AccountSid: b.sandbox.accountSid,
    ApiVersion: '2010-04-01',
    CallSid: callSid,
    CallStatus: 'ringing',
    Direction: 'inbound',
    From: '+15550001000',
    Caller: '+15550001000',
    To: b.sandbox.phoneNumber,
    Called: b.sandbox.phoneNumber,
  };
  return post(b.fn, '/voice', params, { signed: true });
}

/** `/voice` for a call the SDK places through the TwiML App (to a number or a client). */
export function voiceFromSdk(b: BenchStack, callSid: string, identity: string, to: string) {
  const params = {
    AccountSid: b.sandbox.accountSid,
    ApiVersion: '2010-04-01',
    ApplicationSid: b.sandbox.applicationSid,
    CallSid: callSid,
    CallStatus: 'ringing',
    Direction: 'inbound',
    From: `client:${identity}`,
    Caller: `client:${identity}`,
    To: to,
    Called: '',
  };
  return post(b.fn, '/voice', params, { signed: true });
}

export const sendMessageRequest = (b: BenchStack, params: Record<string, string>) =>
  post(b.fn, '/send-message', params, { signed: true });
export const callMessagesRequest = (b: BenchStack, callSid: string, extra: Record<string, string> = {}) =>
  post(b.fn, '/call-messages', { callSid, pageSize: '100', ...extra }, { signed: true });
export const tokenRequest = (b: BenchStack, identity: string) =>
  post(b.fn, '/token', { identity }, { headers: { Authorization: `Bearer ${SANDBOX_DEFAULTS.tokenSecret}` } });
export const emptyRequest = (b: BenchStack) => post(b.fn, '/empty', { a: '1' });

/**
 * The sandbox's route of a REST request with every call's Map name folded too (`cme.call.{Sid}`),
 * and every identity's (`cme.identity.{identity}`).
 */
export const restRoute = (route: string) =>
  route
    .replace(/cme\.call\.[A-Za-z0-9]+/g, 'cme.call.{Sid}')
    .replace(/cme\.identity\.[A-Za-z0-9_.-]+/g, 'cme.identity.{identity}');

/** The twilio-run child of this process (Linux /proc), found by its parent and command line. */
export function functionsPid(): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('twilio-run')) return Number(entry);
    } catch {
      // the process went away
    }
  }
  return undefined;
}

/** CPU time (ms) a process and its reaped children have used: /proc/<pid>/stat utime+stime+cutime+cstime. */
export function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 of stat; f[0] is field 3 (state). Clock ticks are 10 ms on Linux (USER_HZ 100).
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
  } catch {
    return NaN;
  }
}

/** CPU time (ms) this process (the sandbox and the load driver) has used. */
export function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
