/**
 * The load generator: subscribers on raw sockets, a paced publisher, and the bookkeeping that
 * turns their records into throughput, latency, loss and cost figures. It runs in the calling
 * process; `run.ts` pins that process to its own core so the generator never competes with the
 * server, and reports the generator's own CPU use to show it had headroom.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ledger } from './ledger.ts';
import { coreBusySeconds, mainThreadWaitSeconds, pinnedCore } from './proc.ts';
import { Publisher } from './publisher.ts';
import { openSubscribers, type Subscriber, type Target } from './subscriber.ts';
import { MERCURE, type Wire } from './wire.ts';

export type { Target } from './subscriber.ts';

/** Node's histogram records the whole timer interval, resolution included (Node 20), so it is subtracted. */
const LOOP_DELAY_RESOLUTION_MS = 1;

/** Readings of the server process, taken at the edges of the measurement window. */
export interface ServerProbe {
  cpuSeconds(): number;
  /** CPU seconds so far by part (process name), when the server is made of several processes. */
  cpuParts?(): Map<string, number>;
  rssBytes(): number;
  /** The core the server is pinned to, if any: other load on it is then measured. */
  core?: number | undefined;
  /** Time the server's event loop was runnable but kept off its core (optional). */
  waitSeconds?(): number;
}

/** One publish-and-fan-out run. */
export interface LoadOptions {
  /** Several targets (instances of one hub): subscribers and publishes alternate between them. */
  target: Target | readonly Target[];
  /** The server's dialect (default: Mercure). */
  wire?: Wire;
  topic: string;
  subscribers: number;
  /** Published events per second. */
  rate: number;
  payloadBytes: number;
  /** Publishing before the window opens: JIT, caches and buffers settle, nothing is counted. */
  warmupMs: number;
  /** The measurement window. */
  durationMs: number;
  /** After publishing ends, how long to wait at most for the stragglers. */
  drainTimeoutMs?: number;
  /** Stop waiting for stragglers after this long without a single delivery. */
  drainStallMs?: number;
  probe?: ServerProbe;
  /** Header lines (each ending in CRLF) sent by subscriber i and by the publisher: their tokens. */
  headers?: { subscriber(i: number): string; publisher: string };
}

/** Everything measured in one run; rates are per second of the measurement window. */
export interface LoadResult {
  subscribers: number;
  rate: number;
  payloadBytes: number;
  windowSeconds: number;
  /** Events sent in the window that the server answered 200 / answered otherwise or not at all. */
  published: number;
  publishFailed: number;
  /** Events due by the end of the window but never sent: the server answered too slowly. */
  unsent: number;
  publisherMaxLagMs: number;
  publisherMeanLagMs: number;
  /** Events published in the window × subscribers ÷ window. */
  offeredPerSecond: number;
  /** Events received by all subscribers during the window, ÷ window. */
  deliveredPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number; samples: number };
  /** (subscriber, window event) pairs never received, even after the drain. */
  lost: number;
  lossySubscribers: number;
  duplicates: number;
  outOfOrder: number;
  reordered: number;
  malformed: number;
  serverClosed: number;
  errors: string[];
  /** Time from the last publish answer until every window event had arrived (or we gave up). */
  drainMs: number;
  serverCpuSeconds: number;
  serverCpuMicrosPerEvent: number;
  /** Server CPU seconds in the window by part, when the probe tells them apart. */
  serverCpuParts: Map<string, number>;
  serverRssBytes: number;
  /** Server RSS before the subscribers opened (the server has served nothing but health checks). */
  serverRssBeforeBytes: number;
  /** (RSS at the end of the window − RSS before the subscribers) ÷ subscribers: memory per connection under load. */
  rssPerConnectionBytes: number;
  generatorCpuPercent: number;
  generatorLoopDelayP99Ms: number;
  /** Server CPU time ÷ window: near 100 % the server is the bottleneck. */
  serverCpuPercent: number;
  /**
   * CPU that other processes took from the server's / the generator's core during the window, %
   * of that core (NaN when not pinned). Above a few %, throughput and latency are understated.
   */
  otherOnServerCorePercent: number;
  otherOnGeneratorCorePercent: number;
  /**
   * Share of the window the server's / the generator's event loop was runnable but waiting for
   * its core: the direct measure of contention (others using idle time there do no harm).
   */
  serverWaitPercent: number;
  generatorWaitPercent: number;
}

/**
 * Opens the subscribers, publishes `rate` events/s for warmup + duration, measures the window,
 * waits for stragglers and tallies.
 *
 * @example
 * const r = await runLoad({ target, topic: 'bench', subscribers: 100, rate: 50, payloadBytes: 512,
 *   warmupMs: 1000, durationMs: 5000 });
 */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const { target, topic, rate, payloadBytes, warmupMs, durationMs } = opts;
  const wire = opts.wire ?? MERCURE;
  const ledger = new Ledger(payloadBytes);
  const { headers } = opts;
  const rssBefore = opts.probe?.rssBytes() ?? Number.NaN;
  const subs = await openSubscribers(ledger, target, wire.subscribePath(topic), opts.subscribers, {
    ...(headers ? { connect: (i) => ({ headers: headers.subscriber(i) }) } : {}),
  });
  const count = Math.ceil((rate * (warmupMs + durationMs)) / 1000);
  const publisher = new Publisher({
    target,
    topic,
    rate,
    count,
    payloadBytes,
    wire,
    ...(headers ? { headers: headers.publisher } : {}),
  });
  try {
    await publisher.open();
    ledger.publishTimes = publisher;

    const t0 = performance.now() + 20;
    const publishing = publisher.run(t0);

    await sleepUntil(t0 + warmupMs);
    // The measured events are those *sent* inside the window: when the server cannot keep up, the
    // closed-loop publisher runs behind schedule, and its due times would say nothing.
    ledger.windowFrom = publisher.sent;
    ledger.windowTo = Number.POSITIVE_INFINITY;
    const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
    loopDelay.enable();
    const start = snapshot(ledger, opts.probe);

    await sleepUntil(t0 + warmupMs + durationMs);
    const end = snapshot(ledger, opts.probe);
    loopDelay.disable();
    publisher.stop();
    ledger.windowTo = publisher.sent;
    const dueInWindow = Math.min(count, Math.ceil((rate * (end.at - t0)) / 1000)) - ledger.windowFrom;

    const windowSeconds = (end.at - start.at) / 1000;
    const answered = await Promise.race([publishing.then(() => true), sleep(30_000).then(() => false)]);
    const drainStart = performance.now();
    const publishedInWindow = countStatus(publisher.status, ledger.windowFrom, ledger.windowTo, 1);
    if (answered) {
      await drain(ledger, subs, publishedInWindow, opts.drainTimeoutMs ?? 60_000, opts.drainStallMs ?? 3_000);
    }
    const drainMs = performance.now() - drainStart;

    let lost = 0;
    let lossySubscribers = 0;
    for (const sub of subs) {
      const missing = sub.missing(publisher.status, ledger.windowFrom, ledger.windowTo);
      lost += missing;
      if (missing > 0) lossySubscribers++;
    }
    const delivered = end.delivered - start.delivered;
    const serverCpuSeconds = end.serverCpu - start.serverCpu;
    const generatorCpu = (end.cpu.user + end.cpu.system - start.cpu.user - start.cpu.system) / 1e6;
    const [p50, p99, max] = ledger.latencyMs.percentiles([50, 99, 100]);
    return {
      subscribers: subs.length,
      rate,
      payloadBytes,
      windowSeconds,
      published: publishedInWindow,
      publishFailed: ledger.windowTo - ledger.windowFrom - publishedInWindow,
      unsent: Math.max(0, dueInWindow - (ledger.windowTo - ledger.windowFrom)),
      publisherMaxLagMs: publisher.maxLagMs,
      publisherMeanLagMs: publisher.meanLagMs,
      offeredPerSecond: (publishedInWindow * subs.length) / windowSeconds,
      deliveredPerSecond: delivered / windowSeconds,
      latencyMs: { p50: p50!, p99: p99!, max: max!, samples: ledger.latencyMs.count },
      lost,
      lossySubscribers,
      duplicates: ledger.duplicates,
      outOfOrder: ledger.outOfOrder,
      reordered: ledger.reordered,
      malformed: ledger.malformed,
      serverClosed: ledger.serverClosed,
      errors: [...ledger.errors],
      drainMs,
      serverCpuSeconds,
      serverCpuMicrosPerEvent: delivered > 0 ? (serverCpuSeconds * 1e6) / delivered : Number.NaN,
      serverCpuParts: new Map(
        [...end.serverCpuParts].map(([part, s]) => [part, s - (start.serverCpuParts.get(part) ?? 0)]),
      ),
      serverRssBytes: end.serverRss,
      serverRssBeforeBytes: rssBefore,
      rssPerConnectionBytes: (end.serverRss - rssBefore) / subs.length,
      generatorCpuPercent: (generatorCpu / windowSeconds) * 100,
      generatorLoopDelayP99Ms: Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_DELAY_RESOLUTION_MS),
      serverCpuPercent: (serverCpuSeconds / windowSeconds) * 100,
      otherOnServerCorePercent:
        ((end.serverCoreBusy - start.serverCoreBusy - serverCpuSeconds) / windowSeconds) * 100,
      otherOnGeneratorCorePercent:
        ((end.generatorCoreBusy - start.generatorCoreBusy - generatorCpu) / windowSeconds) * 100,
      serverWaitPercent: ((end.serverWait - start.serverWait) / windowSeconds) * 100,
      generatorWaitPercent: ((end.generatorWait - start.generatorWait) / windowSeconds) * 100,
    };
  } finally {
    publisher.close();
    for (const sub of subs) sub.close();
  }
}

/** Idle connections: what each costs the server in resident memory. */
export interface IdleOptions {
  target: Target | readonly Target[];
  wire?: Wire;
  topic: string;
  connections: number;
  payloadBytes: number;
  /** Pause before each RSS reading so allocations made while connecting settle. */
  settleMs: number;
  probe: ServerProbe;
}

export interface IdleResult {
  connections: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  rssPerConnectionBytes: number;
  openSeconds: number;
  /** Subscribers that received the one event published after the RSS reading. */
  reachable: number;
  serverClosed: number;
  generatorCpuPercent: number;
}

/**
 * Warms the server with a short burst, reads its RSS, opens the idle subscribers, lets them settle,
 * reads RSS again, then publishes one event to check that every connection is a live subscription.
 */
export async function runIdle(opts: IdleOptions): Promise<IdleResult> {
  const { target, topic, payloadBytes, probe } = opts;
  const wire = opts.wire ?? MERCURE;
  const warm = await runLoad({
    target,
    wire,
    topic: `${topic}-warmup`,
    subscribers: Math.min(100, opts.connections),
    rate: 50,
    payloadBytes,
    warmupMs: 0,
    durationMs: 1000,
    drainTimeoutMs: 5000,
  });
  if (warm.lost > 0) throw new Error(`warm-up lost ${warm.lost} events`);
  await sleep(opts.settleMs);
  const rssBeforeBytes = probe.rssBytes();

  const ledger = new Ledger(payloadBytes);
  const opened = performance.now();
  const cpu0 = process.cpuUsage();
  const subs = await openSubscribers(ledger, target, wire.subscribePath(topic), opts.connections);
  const openSeconds = (performance.now() - opened) / 1000;
  const cpu = process.cpuUsage(cpu0);
  try {
    await sleep(opts.settleMs);
    const rssAfterBytes = probe.rssBytes();

    const publisher = new Publisher({ target, topic, rate: 1, count: 1, payloadBytes, wire });
    ledger.windowFrom = 0;
    ledger.windowTo = 1;
    await publisher.open(1);
    await publisher.run(performance.now());
    publisher.close();
    await drain(ledger, subs, publisher.ok, 30_000, 5_000);
    return {
      connections: subs.length,
      rssBeforeBytes,
      rssAfterBytes,
      rssPerConnectionBytes: (rssAfterBytes - rssBeforeBytes) / subs.length,
      openSeconds,
      reachable: subs.filter((s) => (s.received[0] ?? 0) > 0).length,
      serverClosed: ledger.serverClosed,
      generatorCpuPercent: ((cpu.user + cpu.system) / 1e6 / openSeconds) * 100,
    };
  } finally {
    for (const sub of subs) sub.close();
  }
}

/** Readings of both sides at one moment; differences of two make a window's figures. */
export interface Snapshot {
  at: number;
  delivered: number;
  cpu: NodeJS.CpuUsage;
  serverCoreBusy: number;
  generatorCoreBusy: number;
  serverWait: number;
  generatorWait: number;
  serverCpu: number;
  serverCpuParts: Map<string, number>;
  serverRss: number;
}

/** Read once: run.ts pins this process before anything else happens. */
const generatorCore = pinnedCore(process.pid);

/** Reads the ledger, the generator and the server (through `probe`) now. */
export function snapshot(ledger: Ledger, probe: ServerProbe | undefined): Snapshot {
  const parts = probe?.cpuParts?.() ?? new Map<string, number>();
  return {
    at: performance.now(),
    delivered: ledger.delivered,
    cpu: process.cpuUsage(),
    serverCoreBusy: probe?.core === undefined ? Number.NaN : coreBusySeconds(probe.core),
    generatorCoreBusy: generatorCore === undefined ? Number.NaN : coreBusySeconds(generatorCore),
    serverWait: probe?.waitSeconds?.() ?? Number.NaN,
    generatorWait: mainThreadWaitSeconds(process.pid),
    serverCpu: probe?.cpuParts
      ? [...parts.values()].reduce((a, b) => a + b, 0)
      : (probe?.cpuSeconds() ?? Number.NaN),
    serverCpuParts: parts,
    serverRss: probe?.rssBytes() ?? Number.NaN,
  };
}

/** Waits until every live subscriber has every published window event, or progress stalls. */
export async function drain(
  ledger: Ledger,
  subs: readonly Subscriber[],
  published: number,
  timeoutMs: number,
  stallMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = ledger.delivered;
  let lastProgress = performance.now();
  while (performance.now() < deadline) {
    if (subs.every((s) => s.closedByServer || s.windowReceived >= published)) return;
    await sleep(20);
    if (ledger.delivered !== last) {
      last = ledger.delivered;
      lastProgress = performance.now();
    } else if (performance.now() - lastProgress > stallMs) {
      return;
    }
  }
}

function countStatus(status: Uint8Array, from: number, to: number, value: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (status[i] === value) n++;
  return n;
}

/** Sleeps until `performance.now()` reaches `t`. */
export async function sleepUntil(t: number): Promise<void> {
  const wait = t - performance.now();
  if (wait > 0) await sleep(wait);
}
