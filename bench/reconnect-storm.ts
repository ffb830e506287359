/**
 * Scenario (vi), a reconnect storm: the server restarts under token-carrying subscribers while
 * events are being published, and they come back as EventSource does, resuming with
 * `Last-Event-ID`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type CrowdServer, generatorClock, tokenHeaders, warmUp } from './crowd-kit.ts';
import { Ledger } from './ledger.ts';
import { listenOverflows } from './proc.ts';
import { Publisher } from './publisher.ts';
import { openSubscribers, type Subscriber } from './subscriber.ts';

/** (vi): the server restarts under resuming subscribers while events are published. */
export interface ReconnectStormResult {
  subscribers: number;
  rate: number;
  restart: { stopSeconds: number; startSeconds: number };
  /** From the restart signal until every subscriber had a stream again, s (NaN if some never did). */
  allLiveSeconds: number;
  /** … counted from the moment the new server listened (its process was up). */
  allLiveAfterListeningSeconds: number;
  /** Kernel listen-queue overflows from the restart until all were back (or the deadline). */
  listenOverflows: number;
  /** Subscribers with an open stream at the end. */
  live: number;
  /** Reconnection attempts, and those that failed (refused while down, or not a stream). */
  attempts: number;
  failedAttempts: number;
  firstFailure: string | undefined;
  /** Subscribers that sent `Last-Event-ID` when they came back. */
  resumedWithId: number;
  /** Events accepted (by the old or the new server), and publishes that failed (sent during the restart). */
  published: number;
  publishFailed: number;
  lost: number;
  lossySubscribers: number;
  /**
   * Distinct events some subscriber missed, by when the server accepted them: before the restart
   * signal, while the old server was stopping (accepted, then gone with it), or by the new server.
   */
  lostEvents: { before: number; stopping: number; after: number };
  duplicates: number;
  outOfOrder: number;
  /** Publish → receive, over every event: the longest is one that waited through the restart. */
  latencyMaxSeconds: number;
  /** Server CPU from listening until all were back, ÷ subscribers back: the cost of one resumption. */
  serverCpuMicrosPerResume: number;
  /** … as % of its core over that time (publishing goes on meanwhile). */
  serverCpuPercent: number;
  generatorCpuPercent: number;
  verifiesTokens: boolean;
}

/**
 * (vi) Opens `subscribers` resumable token-carrying streams, publishes `rate` events/s, restarts the
 * server after `beforeMs`, lets the subscribers come back as EventSource does (after the server's
 * `retry`, else `retryMs`, and again after every failed attempt, with `Last-Event-ID` once they have
 * seen an id), publishes for `afterMs` more once all are back, and checks that every accepted event
 * reached every subscriber exactly once.
 */
export async function runReconnectStorm(
  server: CrowdServer,
  s: {
    topic: string;
    payloadBytes: number;
    subscribers: number;
    rate: number;
    beforeMs: number;
    afterMs: number;
    retryMs: number;
    timeoutMs: number;
  },
): Promise<ReconnectStormResult> {
  await warmUp(server, s.topic, s.payloadBytes, 1_000);
  const headers = tokenHeaders(server, s.topic);
  const path = server.wire.subscribePath(s.topic);
  const ledger = new Ledger(s.payloadBytes);
  const subs = await openSubscribers(ledger, server.target, path, s.subscribers, {
    resumable: true,
    connect: (i) => ({ headers: headers.subscriber(i) }),
  });
  const count = Math.ceil((s.rate * (s.beforeMs + s.timeoutMs + s.afterMs)) / 1000);
  const publisher = new Publisher({
    target: server.target,
    wire: server.wire,
    topic: s.topic,
    rate: s.rate,
    count,
    payloadBytes: s.payloadBytes,
    headers: headers.publisher,
  });
  ledger.windowFrom = 0;
  ledger.windowTo = count;
  ledger.publishTimes = publisher;

  // EventSource's reconnection, per subscriber: wait, try, wait again after a failure.
  const backAt = new Float64Array(subs.length);
  let attempts = 0;
  let failedAttempts = 0;
  let resumedWithId = 0;
  let stopping = false;
  const failures: string[] = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const reconnect = (sub: Subscriber, i: number) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (stopping) return;
      attempts++;
      const id = sub.lastEventId;
      const lastEventId = id === undefined ? '' : `Last-Event-ID: ${id}\r\n`;
      // EventSource waits for its connection as long as TCP does; a 15 s give-up would add attempts.
      sub
        .connect(server.target, path, {
          headers: headers.subscriber(i) + lastEventId,
          timeoutMs: s.timeoutMs,
        })
        .then(
          () => {
            backAt[i] = performance.now();
            if (id !== undefined) resumedWithId++;
          },
          (e: Error) => {
            failedAttempts++;
            if (failures.length < 5) failures.push(e.message);
            reconnect(sub, i);
          },
        );
    }, sub.retryMs ?? s.retryMs);
    timers.add(timer);
  };
  subs.forEach((sub, i) => {
    sub.onServerClose = () => reconnect(sub, i);
  });

  const generator = generatorClock();
  try {
    await publisher.open();
    const publishing = publisher.run(performance.now() + 20);
    await sleep(s.beforeMs);
    server.probe.cpuSeconds(); // the old process's CPU, read while it is there
    const overflows0 = listenOverflows();
    const restart = await server.restart();
    const cpuListening = server.probe.cpuSeconds();
    const deadline = performance.now() + s.timeoutMs;
    while (performance.now() < deadline && !subs.every((sub, i) => backAt[i]! > 0 && sub.isOpen)) {
      await sleep(20);
    }
    const back = backAt.filter((t) => t > 0);
    const lastBack = back.length === subs.length ? back.reduce((a, b) => Math.max(a, b)) : Number.NaN;
    const cpuBack = server.probe.cpuSeconds();
    const resumeSeconds = (performance.now() - restart.listeningAt) / 1000;
    const overflows = listenOverflows() - overflows0;
    await sleep(s.afterMs);
    publisher.stop();
    await Promise.race([publishing, sleep(30_000)]);
    await drainAll(ledger, subs, publisher.status, publisher.sent);
    stopping = true;

    let lost = 0;
    let lossySubscribers = 0;
    for (const sub of subs) {
      const missing = sub.missing(publisher.status, 0, publisher.sent);
      lost += missing;
      if (missing > 0) lossySubscribers++;
    }
    const lostEvents = { before: 0, stopping: 0, after: 0 };
    for (let seq = 0; seq < publisher.sent; seq++) {
      if (publisher.status[seq] !== 1 || subs.every((sub) => (sub.received[seq] ?? 0) > 0)) continue;
      const answered = publisher.answeredMicros[seq]! / 1000;
      if (answered < restart.signalledAt) lostEvents.before++;
      else if (answered < restart.exitedAt) lostEvents.stopping++;
      else lostEvents.after++;
    }
    const [max] = ledger.latencyMs.percentiles([100]);
    return {
      subscribers: subs.length,
      rate: s.rate,
      restart: {
        stopSeconds: (restart.exitedAt - restart.signalledAt) / 1000,
        startSeconds: (restart.listeningAt - restart.exitedAt) / 1000,
      },
      allLiveSeconds: (lastBack - restart.signalledAt) / 1000,
      allLiveAfterListeningSeconds: (lastBack - restart.listeningAt) / 1000,
      listenOverflows: overflows,
      live: subs.filter((sub) => sub.isOpen).length,
      attempts,
      failedAttempts,
      firstFailure: failures[0],
      resumedWithId,
      published: publisher.ok,
      publishFailed: publisher.failed,
      lost,
      lossySubscribers,
      lostEvents,
      duplicates: ledger.duplicates,
      outOfOrder: ledger.outOfOrder,
      latencyMaxSeconds: max! / 1000,
      serverCpuMicrosPerResume: ((cpuBack - cpuListening) * 1e6) / Math.max(1, back.length),
      serverCpuPercent: ((cpuBack - cpuListening) / resumeSeconds) * 100,
      generatorCpuPercent: generator.cpuPercent(),
      verifiesTokens: server.verifiesTokens,
    };
  } finally {
    stopping = true;
    for (const timer of timers) clearTimeout(timer);
    publisher.close();
    for (const sub of subs) sub.close();
  }
}

/**
 * Waits until every subscriber has every accepted event, or 3 s pass without a delivery (at most
 * 60 s): what is still missing then is lost.
 */
async function drainAll(ledger: Ledger, subs: readonly Subscriber[], status: Uint8Array, sent: number) {
  const deadline = performance.now() + 60_000;
  let delivered = ledger.delivered;
  let progressAt = performance.now();
  while (performance.now() < deadline && performance.now() - progressAt < 3_000) {
    if (subs.every((sub) => sub.missing(status, 0, sent) === 0)) return;
    await sleep(200);
    if (ledger.delivered !== delivered) {
      delivered = ledger.delivered;
      progressAt = performance.now();
    }
  }
}
