// Table 4 (and the load of Table 6c): many whole calls at once through the sandbox and twilio-run. Each call
// connects, waits for its SDK leg's subscription, exchanges messages both ways (SDK → server through
// the sandbox's SDK phone, server → SDK through /send-message), checks what was stored, hangs up.
import { performance } from 'node:perf_hooks';
import twilio from 'twilio';
import { callMessages, sendMessage } from '../client/src';
import { legMapName } from '../lib/store/call-store';
import { SandboxRequestClient } from '../sandbox/request-client';
import { CONSOLE_INDEX_MAPS } from '../lib/shared/sync-names';
import { maxInWindow, mean } from './stats';
import type { BenchStack } from './stack';

export interface ScaleOptions {
  calls: number;
  concurrency: number;
  /** Messages each way per call. */
  messages: number;
  /**
   * Least time between two messages one way on one call: a call's Map takes both directions' writes,
   * so 125 ms each way keeps one call at most 16 message writes/s, under Sync's 20/s per object.
   */
  messageIntervalMs: number;
  /** Give up starting new calls after this long (the run must fit its budget). */
  budgetMs: number;
  progress?: (s: string) => void;
  /** Register CLIENT_IDENTITY to answer by itself (off when bench/first-message.ts answers its calls). */
  registerInbound?: boolean;
  /**
   * Other calls made while this run loads the stack (Table 6's probes): started once every worker
   * has a call up, stopped before the totals; the Sync and subscription requests of the legs
   * `stop()` returns are left out of them.
   */
  alongside?: { start(): void; stop(): Promise<string[]> };
}

export interface AnswerToSubscription {
  callSid: string;
  ms: number;
}

export interface ScaleResult {
  callsPlanned: number;
  callsDone: number;
  callsFailed: number;
  firstFailure?: string;
  concurrency: number;
  peakConcurrentCalls: number;
  messagesEachWay: number;
  fromSdkSent: number;
  fromSdkAccepted: number;
  fromSdkStored: number;
  toSdkSent: number;
  toSdkAccepted: number;
  toSdkStored: number;
  toSdkReceived: number;
  /** /send-message answers (409 send-in-progress, 503) asked again after their Retry-After. */
  sendRetries: number;
  /** /call-messages pages asked again after a 503. */
  readRetries: number;
  duplicatesStored: number;
  lost: number;
  sequenceGaps: number;
  busiestObject: string;
  busiestWritesPerSecond: number;
  /** The console index's busiest shard (cme.calls.<n>): most writes in any 1 s. */
  busiestIndexShardWritesPerSecond: number;
  syncWrites: number;
  sync429: number;
  /** Mean time the sandbox spent on a Sync request in the first and the last tenth of the run. */
  syncMsFirstTenth: number;
  syncMsLastTenth: number;
  restRequests: number;
  restPerCall: number;
  /** Requests answered 404, 409 or 412 (a missing Map, an existing key, a lost If-Match race), per call. */
  conflictsPerCall: number;
  /** Calls placed by the SDK (parent legs) and into it (child legs). */
  callsOut: number;
  callsIn: number;
  functionInvocations: number;
  invocationsPerSecond: number;
  totalMs: number;
  answerToSubscription: AnswerToSubscription[];
  legsNotClosed: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Requests one message to the SDK may take: the first, then retries after each Retry-After. */
const SEND_TRIES = 6;
/** Requests one page of a call's history may take (a 503 is asked again). */
const READ_TRIES = 4;

async function until<T>(
  check: () => T | undefined | false,
  what: string,
  timeoutMs = 30_000,
  everyMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export async function runScale(b: BenchStack, opts: ScaleOptions): Promise<ScaleResult> {
  const { engine } = b.sandbox;
  const callers = 50;
  // CLIENT_IDENTITY answers calls to our number.
  if (opts.registerInbound !== false) await b.control.registerPhone('alice', { autoAnswer: true });
  for (let i = 0; i < callers; i++) await b.control.registerPhone(`caller-${i}`);
  // Twilio's limit, enforced: 20 writes/s per Sync object over its 10 s burst window.
  await b.control.knobs({ faults: { syncWriteRateLimit: 20 } });

  const r: ScaleResult = {
    callsPlanned: opts.calls,
    callsDone: 0,
    callsFailed: 0,
    concurrency: opts.concurrency,
    peakConcurrentCalls: 0,
    messagesEachWay: opts.messages,
    fromSdkSent: 0,
    fromSdkAccepted: 0,
    fromSdkStored: 0,
    toSdkSent: 0,
    toSdkAccepted: 0,
    toSdkStored: 0,
    toSdkReceived: 0,
    sendRetries: 0,
    readRetries: 0,
    duplicatesStored: 0,
    lost: 0,
    sequenceGaps: 0,
    busiestObject: '',
    busiestWritesPerSecond: 0,
    busiestIndexShardWritesPerSecond: 0,
    syncWrites: 0,
    sync429: 0,
    syncMsFirstTenth: 0,
    syncMsLastTenth: 0,
    restRequests: 0,
    restPerCall: 0,
    conflictsPerCall: 0,
    callsOut: 0,
    callsIn: 0,
    functionInvocations: 0,
    invocationsPerSecond: 0,
    totalMs: 0,
    answerToSubscription: [],
    legsNotClosed: 0,
  };
  const sdkLegs: string[] = [];
  const requestsBefore = b.sandbox.requests.length;
  const started = performance.now();
  let active = 0;
  let next = 0;
  let extraInvocations = 0;

  async function oneCall(i: number) {
    const inbound = i % 2 === 0;
    if (inbound) r.callsIn++;
    else r.callsOut++;
    const identity = inbound ? 'alice' : `caller-${i % callers}`;
    const number = `+1555${String(2_000_000 + i).padStart(7, '0')}`;
    const parent = inbound
      ? (await b.control.callIn(number)).callSid
      : (await b.control.placeCall(identity, number)).callSid;
    // Calls into the SDK: its leg is the <Dial> child. Calls out of it: the parent.
    const leg = inbound
      ? await until(() => engine.calls.get(parent)?.dialedLeg, 'the SDK leg to be dialed').catch((err: Error) => {
          // What became of the call says where it stopped (its /voice answer, the dial).
          const call = engine.calls.get(parent);
          const voice = b.sandbox.webhooks.log.filter((w) => w.kind === 'voice' && w.callSid === parent);
          throw new Error(
            `${err.message} (call ${call?.status}; /voice answers ${JSON.stringify(voice.map((w) => [w.status, Math.round(w.ms)]))})`,
          );
        })
      : parent;
    const dialed = inbound ? leg : await until(() => engine.calls.get(parent)?.dialedLeg, 'the number to be dialed');
    sdkLegs.push(leg);
    // An SDK message before the subscription is dropped (Table 6 measures that): wait for it.
    const sub = await until(() => engine.calls.get(leg)?.subscriptions[0], 'the subscription', 30_000);
    const answeredAt = engine.calls.get(dialed)?.startTime;
    if (answeredAt !== undefined) r.answerToSubscription.push({ callSid: leg, ms: sub.dateCreated - answeredAt });

    const fromSdk = async () => {
      for (let m = 0; m < opts.messages; m++) {
        const pace = sleep(opts.messageIntervalMs);
        r.fromSdkSent++;
        const res = await b.control.sendFromPhone(identity, leg, {
          m,
          dir: 'from-sdk',
          text: 'status update from the Voice SDK',
        });
        const status = res.deliveries[0]?.status ?? null;
        if (status !== null && status < 300) r.fromSdkAccepted++;
        await pace;
      }
    };
    const toSdk = async () => {
      for (let m = 0; m < opts.messages; m++) {
        const pace = sleep(opts.messageIntervalMs);
        r.toSdkSent++;
        // The bundled client asks again after a 409 send-in-progress or a 503, as their Retry-After
        // says, with the same key: a backend does no more than that.
        const res = await sendMessage(
          b.fn,
          {
            callSid: leg,
            content: { m, dir: 'to-sdk', text: 'instruction from the server' },
            idempotencyKey: `scale-${leg}-${m}`,
          },
          {
            maxTries: SEND_TRIES,
            sleep: (ms) => {
              r.sendRetries++;
              extraInvocations++;
              return sleep(ms);
            },
          },
        );
        if (res.status !== 201 && res.status !== 200)
          throw new Error(`/send-message answered ${res.status}: ${JSON.stringify(res.body)}`);
        r.toSdkAccepted++;
        await pace;
      }
    };
    try {
      await Promise.all([fromSdk(), toSdk()]);
    } finally {
      // Every call's history is read back, failed or not: a failed call's messages count too.
      await readBack(identity, leg).finally(() => b.control.hangupCall(parent));
    }
  }

  /** What was stored on a leg, read back through /call-messages (two pages at most: 2 × messages ≤ 200). */
  async function readBack(identity: string, leg: string) {
    const messages: { sid: string; direction: string; sequence?: number }[] = [];
    let pageToken: string | undefined;
    do {
      let page = await callMessages(b.fn, leg, { pageSize: 100, pageToken });
      extraInvocations++;
      // A read is safe to make again: a 503 (Twilio or Sync busy) is, after its Retry-After.
      for (let tries = 1; page.status === 503 && tries < READ_TRIES; tries++) {
        await sleep((page.retryAfterSeconds ?? 1) * 1000);
        r.readRetries++;
        page = await callMessages(b.fn, leg, { pageSize: 100, pageToken });
        extraInvocations++;
      }
      if (page.status !== 200) throw new Error(`/call-messages answered ${page.status}`);
      messages.push(...(page.body.messages as typeof messages));
      pageToken = page.body.nextPageToken ?? undefined;
    } while (pageToken);
    const fromSdkStored = messages.filter((m) => m.direction === 'from-sdk');
    const toSdkStored = messages.filter((m) => m.direction === 'to-sdk');
    r.fromSdkStored += fromSdkStored.length;
    r.toSdkStored += toSdkStored.length;
    r.duplicatesStored += messages.length - new Set(messages.map((m) => m.sid)).size;
    // Consecutive from the first (Twilio numbers from 1, or 0 by its prose: either way, no gaps).
    const seqs = fromSdkStored.map((m) => m.sequence ?? -1);
    const [firstSeq] = seqs;
    if (firstSeq !== undefined && !seqs.every((s, k) => s === firstSeq + k)) r.sequenceGaps++;
    r.toSdkReceived += engine.phones.get(identity)?.calls.get(leg)?.received.length ?? 0;
  }

  const worker = async () => {
    while (next < opts.calls && performance.now() - started < opts.budgetMs) {
      const i = next++;
      active++;
      r.peakConcurrentCalls = Math.max(r.peakConcurrentCalls, active);
      try {
        await oneCall(i);
        r.callsDone++;
      } catch (err) {
        r.callsFailed++;
        r.firstFailure ??= String(err);
      } finally {
        active--;
      }
      if (opts.progress && (r.callsDone + r.callsFailed) % 100 === 0)
        opts.progress(
          `scale: ${r.callsDone + r.callsFailed}/${opts.calls} calls, ${((performance.now() - started) / 1000).toFixed(0)} s`,
        );
    }
  };
  const workers = Promise.all(Array.from({ length: opts.concurrency }, worker));
  if (opts.alongside) {
    await until(() => next >= opts.concurrency || next >= opts.calls, 'every worker to have a call', 60_000);
    opts.alongside.start();
  }
  await workers;
  const otherLegs = new Set(((await opts.alongside?.stop()) ?? []).map(legMapName));
  await b.control.idle(); // the completed callbacks
  r.totalMs = performance.now() - started;
  const isOther = (route: string) => [...route.matchAll(/cme\.call\.[a-z0-9]+/g)].some((m) => otherLegs.has(m[0]));

  r.lost = Math.max(0, r.fromSdkAccepted - r.fromSdkStored) + Math.max(0, r.toSdkAccepted - r.toSdkStored);
  const writes = b.sandbox.syncStats().writesByObject;
  for (const [name, times] of Object.entries(writes)) {
    if (otherLegs.has(name)) continue;
    r.syncWrites += times.length;
    const busiest = maxInWindow(times, 1000);
    if (CONSOLE_INDEX_MAPS.includes(name))
      r.busiestIndexShardWritesPerSecond = Math.max(r.busiestIndexShardWritesPerSecond, busiest);
    if (busiest > r.busiestWritesPerSecond) {
      r.busiestWritesPerSecond = busiest;
      r.busiestObject = name;
    }
  }
  const rest = b.sandbox.requests.slice(requestsBefore).filter((q) => !(q.product === 'sync' && isOther(q.route)));
  // Requests of the other legs whose path does not name their Map: each leg's subscription and the
  // creation of its Map (both made once per leg).
  const otherUnnamed = [...engine.calls.values()]
    .filter((c) => otherLegs.has(legMapName(c.sid)))
    .reduce((a, c) => a + 1 + (engine.subscriptionsCreated.get(c.sid) ?? 0), 0);
  r.restRequests = rest.length - otherUnnamed;
  r.sync429 = rest.filter((q) => q.status === 429 && !q.injected).length;
  const tenth = Math.floor(rest.length / 10);
  const syncMs = (part: typeof rest) => mean(part.filter((q) => q.product === 'sync').map((q) => q.ms));
  r.syncMsFirstTenth = syncMs(rest.slice(0, tenth));
  r.syncMsLastTenth = syncMs(rest.slice(rest.length - tenth));
  r.restPerCall = r.restRequests / (r.callsDone + r.callsFailed);
  r.conflictsPerCall = rest.filter((q) => [404, 409, 412].includes(q.status)).length / (r.callsDone + r.callsFailed);
  // The sandbox's webhook log keeps only the last 20,000, so count what each call sends: /voice,
  // 4 status callbacks (initiated, ringing, answered, completed), a callback per SDK message; plus
  // this driver's /send-message and /call-messages requests.
  const calls = r.callsDone + r.callsFailed;
  r.functionInvocations = calls * 5 + r.fromSdkSent + r.toSdkSent + extraInvocations;
  r.invocationsPerSecond = (r.functionInvocations * 1000) / r.totalMs;

  // Every leg must be closed out in Sync (state completed), read straight from the sandbox's Sync.
  const tw = twilio(b.sandbox.accountSid, b.sandbox.authToken, { httpClient: new SandboxRequestClient(b.sandbox.url) });
  for (let k = 0; k < sdkLegs.length; k += 20) {
    const states = await Promise.all(
      sdkLegs.slice(k, k + 20).map((leg) =>
        tw.sync.v1
          .services('default')
          .syncMaps(legMapName(leg))
          .syncMapItems('state')
          .fetch()
          .then((item) => (item.data as { status?: string }).status)
          .catch(() => undefined),
      ),
    );
    r.legsNotClosed += states.filter((s) => s !== 'completed').length;
  }
  await b.control.knobs({ faults: { syncWriteRateLimit: null } });
  return r;
}
