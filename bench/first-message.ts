// Table 6 (issue #11): does an SDK message sent the moment a call is accepted reach the server? Each
// probe is one call through the sandbox's simulated phones (control API: place, answer, send); each
// SDK leg sends one message at accept + t. Per leg: whether the sandbox's Twilio delivered it or
// dropped it (no subscription yet: the sandbox counts it in messagesDropped), whether the callbacks
// the leg is subscribed at (ringing for a child leg; the child's initiated or ringing for a parent
// leg) had been answered by the functions before the message left, which callback subscribed it,
// and how long after the first of those callbacks was sent the subscription existed.
import { SANDBOX_DEFAULTS } from '../sandbox/defaults';
import type { PhoneCall } from '../sandbox/engine-types';
import { sandboxStore } from '../testing/fill';
import type { BenchStack } from './stack';
import { nth } from './stats';

export const FIRST_MESSAGE_DELAYS_MS = [0, 20, 100, 500] as const;

/** How a probe call is made and accepted. */
export type Situation = 'in-at-ring' | 'in-after-ringing' | 'out-number' | 'sdk-sdk';
export const SITUATIONS: readonly Situation[] = ['in-at-ring', 'in-after-ringing', 'out-number', 'sdk-sdk'];

export interface LegOutcome {
  callSid: string;
  situation: Situation;
  t: number;
  role: 'parent' | 'child';
  delivered: boolean;
  /** The sandbox's drop counter for the leg (messagesDropped). */
  dropped: boolean;
  /** The answer to the send said `dropped` (checked against the counter). */
  answerSaidDropped: boolean;
  /** The leg's early callbacks (child: ringing; parent: initiated and ringing) were all answered before the message left. */
  earlyFirst: boolean;
  /** From sending the first early callback to the subscription existing (ms; NaN if never subscribed). */
  windowMs: number;
  /** The CallStatus of the callback whose invocation subscribed the leg (the Sync state's record). */
  subscribedBy?: string | undefined;
}

const INBOUND = SANDBOX_DEFAULTS.clientIdentity;
/** A phone-network number that answers 10 ms after it rings (the sandbox's default behaviour). */
const FAR_NUMBER = '+15550007777';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `p`, or a rejection after `ms`. Made before the request it waits on, so it is marked handled at
 * once: a timeout while that request is still under way (a loaded machine) fails this probe when
 * awaited, instead of crashing the whole bench as an unhandled rejection.
 */
function within<T>(p: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`first-message probe: timed out waiting for ${what}`)), ms);
  });
  const raced = Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  raced.catch(() => undefined);
  return raced;
}

export interface Prober {
  /** One call in `situation`, each SDK leg sending at accept + t. */
  probe(situation: Situation, t: number, worker?: number): Promise<LegOutcome[]>;
}

/**
 * Registers the probe phones. The inbound identity (CLIENT_IDENTITY) no longer answers by itself:
 * probe calls (from +1555777…) are answered by the probe; any other call 5 ms after it rings, as
 * the sandbox's autoAnswer would (the scale run's calls).
 */
export async function prepareProbes(b: BenchStack, workers = 1): Promise<Prober> {
  const { engine } = b.sandbox;
  const store = sandboxStore(b.sandbox);
  const ringingFor = new Map<string, (call: PhoneCall) => void>();
  const answeredFor = new Map<string, () => void>();
  await b.control.registerPhone(INBOUND, { autoAnswer: false });
  engine.phone(INBOUND).listeners.add({
    incoming: (call) => {
      const waiter = ringingFor.get(call.peer);
      if (waiter) {
        ringingFor.delete(call.peer);
        waiter(call);
        return;
      }
      setTimeout(() => {
        const leg = engine.calls.get(call.callSid);
        if (leg?.status === 'ringing') engine.answerLeg(leg);
      }, 5);
    },
  });
  for (let w = 0; w < workers; w++) {
    for (const identity of [`fm-caller-${w}`, `fm-callee-${w}`]) {
      await b.control.registerPhone(identity, { autoAnswer: false });
      engine.phone(identity).listeners.add({
        incoming: (call) => ringingFor.get(identity)?.(call),
        answered: () => answeredFor.get(identity)?.(),
      });
    }
  }
  let sequence = 0;

  /**
   * When the leg's early callback was first sent and first answered 200 (ms since epoch; Infinity if
   * not yet), from the sandbox's webhook log since index `since` (the log is only trimmed past 110,000).
   */
  const earlyCallback = (dialed: string, status: string, since: number) => {
    let sentAt = Infinity;
    let answeredAt = Infinity;
    const log = b.sandbox.webhooks.log;
    for (let i = Math.min(since, log.length); i < log.length; i++) {
      const w = nth(log, i);
      if (w.kind !== 'status' || w.callSid !== dialed || w.callStatus !== status) continue;
      sentAt = Math.min(sentAt, w.at);
      if (w.status === 200) answeredAt = Math.min(answeredAt, w.at + w.ms);
    }
    return { sentAt, answeredAt };
  };

  /** Polls the log until the early callback was answered 200; false after `timeoutMs`. */
  const untilEarlyAnswered = async (dialed: string, status: string, since: number, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!Number.isFinite(earlyCallback(dialed, status, since).answeredAt)) {
      if (Date.now() > deadline) return false;
      await sleep(2);
    }
    return true;
  };

  const send = async (
    since: number,
    situation: Situation,
    t: number,
    legs: { identity: string; callSid: string; role: 'parent' | 'child'; dialed: string }[],
  ): Promise<LegOutcome[]> => {
    const sent = await Promise.all(
      legs.map(async (leg) => {
        const sendAt = Date.now();
        const answer = await b.control.sendFromPhone(leg.identity, leg.callSid, { first: true, t });
        return { leg, sendAt, answer };
      }),
    );
    return Promise.all(
      sent.map(async ({ leg, sendAt, answer }) => {
        // The subscription comes later when the message was dropped: wait for it, and for the early
        // callback's answer (the log records a callback once answered), to measure the window.
        const deadline = Date.now() + 15_000;
        let sub = engine.calls.get(leg.callSid)?.subscriptions[0];
        while (!sub && !engine.calls.get(leg.callSid)?.endTime && Date.now() < deadline) {
          await sleep(5);
          sub = engine.calls.get(leg.callSid)?.subscriptions[0];
        }
        // A child leg is subscribed at ringing (its initiated only makes the Map); a parent leg at the
        // child's initiated or ringing, whichever the functions take first (they come ms apart).
        const statuses = leg.role === 'child' ? ['ringing'] : ['initiated', 'ringing'];
        for (const status of statuses) await untilEarlyAnswered(leg.dialed, status, since, 10_000);
        const early = statuses
          .map((status) => earlyCallback(leg.dialed, status, since))
          .reduce((a, e) => ({
            sentAt: Math.min(a.sentAt, e.sentAt),
            answeredAt: Math.max(a.answeredAt, e.answeredAt),
          }));
        const state = await store.readState(leg.callSid);
        return {
          callSid: leg.callSid,
          situation,
          t,
          role: leg.role,
          delivered: answer.deliveries.some((d) => d.status !== null && d.status < 300),
          dropped: (engine.messagesDropped.get(leg.callSid) ?? 0) > 0,
          answerSaidDropped: answer.dropped === true,
          earlyFirst: early.answeredAt <= sendAt,
          windowMs: sub ? sub.dateCreated - early.sentAt : NaN,
          // A claim not yet recorded as subscribed is the same invocation: its subscription exists.
          subscribedBy: sub && state?.subscription?.status !== 'refused' ? state?.subscription?.by : undefined,
        };
      }),
    );
  };

  return {
    async probe(situation, t, worker = 0) {
      const since = b.sandbox.webhooks.log.length;
      const caller = `fm-caller-${worker}`;
      const callee = `fm-callee-${worker}`;
      if (situation === 'in-at-ring' || situation === 'in-after-ringing') {
        const from = `+1555777${String(sequence++ % 10_000).padStart(4, '0')}`;
        const rings = within(new Promise<PhoneCall>((r) => ringingFor.set(from, r)), 'the inbound probe to ring');
        const parent = (await b.control.callIn(from)).callSid;
        const leg = (await rings).callSid;
        if (situation === 'in-after-ringing' && !(await untilEarlyAnswered(leg, 'ringing', since)))
          throw new Error('first-message probe: the ringing callback was never answered 200');
        await b.control.answer(INBOUND, leg);
        await sleep(t);
        const out = await send(since, situation, t, [{ identity: INBOUND, callSid: leg, role: 'child', dialed: leg }]);
        await b.control.hangupCall(parent);
        return out;
      }
      if (situation === 'out-number') {
        const answered = within(new Promise<void>((r) => answeredFor.set(caller, r)), 'the number to answer');
        const parent = (await b.control.placeCall(caller, FAR_NUMBER)).callSid;
        await answered;
        answeredFor.delete(caller);
        const dialed = engine.calls.get(parent)?.dialedLeg ?? '';
        await sleep(t);
        const out = await send(since, situation, t, [{ identity: caller, callSid: parent, role: 'parent', dialed }]);
        await b.control.hangupCall(parent);
        return out;
      }
      const rings = within(new Promise<PhoneCall>((r) => ringingFor.set(callee, r)), 'the callee to ring');
      const parent = (await b.control.placeCall(caller, `client:${callee}`)).callSid;
      const leg = (await rings).callSid;
      ringingFor.delete(callee);
      await b.control.answer(callee, leg);
      await sleep(t);
      const out = await send(since, situation, t, [
        { identity: caller, callSid: parent, role: 'parent', dialed: leg },
        { identity: callee, callSid: leg, role: 'child', dialed: leg },
      ]);
      await b.control.hangupCall(parent);
      return out;
    },
  };
}

/** Every situation × t, `perCell` calls each, one call at a time (the stack idle between calls). */
export async function firstMessagesQuiet(b: BenchStack, prober: Prober, perCell: number): Promise<LegOutcome[]> {
  const out: LegOutcome[] = [];
  for (const situation of SITUATIONS) {
    for (const t of FIRST_MESSAGE_DELAYS_MS) {
      for (let n = 0; n < perCell; n++) {
        out.push(...(await prober.probe(situation, t)));
        await b.control.idle();
      }
    }
  }
  return out;
}

/**
 * The same probes while something else loads the stack: `workers` probe calls at a time, cycling
 * through every situation × t until each has `perCell` calls or `stop()` is called.
 */
export function firstMessagesLoaded(prober: Prober, perCell: number, workers: number) {
  const cells = SITUATIONS.flatMap((s) => FIRST_MESSAGE_DELAYS_MS.map((t) => ({ s, t })));
  const plan = Array.from({ length: perCell }, () => cells).flat();
  const out: LegOutcome[] = [];
  const failures: string[] = [];
  let next = 0;
  let stopped = false;
  const worker = async (w: number) => {
    while (!stopped && next < plan.length) {
      const { s, t } = nth(plan, next++);
      try {
        out.push(...(await prober.probe(s, t, w)));
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  const running = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  return {
    async stop(): Promise<{ legs: LegOutcome[]; failures: string[] }> {
      stopped = true;
      await running;
      return { legs: out, failures };
    },
  };
}
