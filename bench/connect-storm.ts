/**
 * Scenario (v), a connect storm: token-carrying subscribers all opening their streams at the same
 * moment.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type CrowdServer, generatorClock, publishOne, tokenHeaders, warmUp } from './crowd-kit.ts';
import { Ledger } from './ledger.ts';
import { listenOverflows } from './proc.ts';
import { Samples } from './stats.ts';
import { Subscriber } from './subscriber.ts';

/** (v): every subscriber opens at the same moment. */
export interface ConnectStormResult {
  subscribers: number;
  opened: number;
  failed: number;
  firstFailure: string | undefined;
  /** From the first connect() until the last response head, s. */
  allOpenSeconds: number;
  openMs: { p50: number; p99: number };
  /** Server CPU from the first connect() until 1 s after the last head, ÷ streams opened. */
  serverCpuMicrosPerConnection: number;
  /**
   * The same storm again on the same process, once the first one's streams have closed: what a new
   * subscription costs a process already warm (code compiled, heap grown), as a long-running server
   * is when a popular page or a network blip brings a crowd.
   */
  second: { opened: number; failed: number; allOpenSeconds: number; serverCpuMicrosPerConnection: number };
  /** Server CPU ÷ time until all were open, % of its core. */
  serverCpuPercent: number;
  serverWaitPercent: number;
  rssPerConnectionBytes: number;
  /** Kernel listen-queue overflows during the storm: each costs a client a SYN retransmission. */
  listenOverflows: number;
  /** Streams that received an event published afterwards (every stream is a live subscription). */
  reached: number;
  generatorCpuPercent: number;
  verifiesTokens: boolean;
}

/**
 * (v) Warms the server up, then opens `subscribers` token-carrying streams at once (one connect()
 * after another in one turn of the event loop, no limit on handshakes in flight) and times them.
 */
export async function runConnectStorm(
  server: CrowdServer,
  s: { topic: string; payloadBytes: number; subscribers: number; timeoutMs: number },
): Promise<ConnectStormResult> {
  await warmUp(server, s.topic, s.payloadBytes, 1_000);
  const headers = tokenHeaders(server, s.topic);
  const requests = Array.from({ length: s.subscribers }, (_, i) => headers.subscriber(i));
  const path = server.wire.subscribePath(s.topic);
  const ledger = new Ledger(s.payloadBytes);
  const subs = Array.from({ length: s.subscribers }, () => new Subscriber(ledger));
  const openMs = new Samples();
  const failures: string[] = [];

  const rss0 = server.probe.rssBytes();
  const cpu0 = server.probe.cpuSeconds();
  const wait0 = server.probe.waitSeconds?.() ?? Number.NaN;
  const overflows0 = listenOverflows();
  const generator = generatorClock();
  const t0 = performance.now();
  let last = t0;
  await Promise.all(
    subs.map((sub, i) =>
      sub.connect(server.target, path, { headers: requests[i]!, timeoutMs: s.timeoutMs }).then(
        () => {
          last = performance.now();
          openMs.add(last - t0);
        },
        (e: Error) => {
          failures.push(e.message);
        },
      ),
    ),
  );
  const allOpenSeconds = (last - t0) / 1000;
  const cpuStorm = server.probe.cpuSeconds() - cpu0;
  const wait = (server.probe.waitSeconds?.() ?? Number.NaN) - wait0;
  const generatorCpuPercent = generator.cpuPercent();
  const overflows = listenOverflows() - overflows0;
  await sleep(1_000);
  const cpu = server.probe.cpuSeconds() - cpu0;
  const rss1 = server.probe.rssBytes();
  const open = subs.filter((sub) => sub.isOpen);
  let result: Omit<ConnectStormResult, 'second'>;
  try {
    const { reached } = await publishOne(server, ledger, open, s.topic, s.payloadBytes);
    const [p50, p99] = openMs.percentiles([50, 99]);
    result = {
      subscribers: s.subscribers,
      opened: openMs.count,
      failed: failures.length,
      firstFailure: failures[0],
      allOpenSeconds,
      openMs: { p50: p50!, p99: p99! },
      serverCpuMicrosPerConnection: (cpu * 1e6) / openMs.count,
      serverCpuPercent: (cpuStorm / allOpenSeconds) * 100,
      serverWaitPercent: (wait / allOpenSeconds) * 100,
      rssPerConnectionBytes: (rss1 - rss0) / openMs.count,
      listenOverflows: overflows,
      reached,
      generatorCpuPercent,
      verifiesTokens: server.verifiesTokens,
    };
  } finally {
    for (const sub of subs) sub.close();
  }
  // The first storm's ends (and whatever the server does about them) are over before the second.
  await sleep(2_000);
  const second = await storm(server, s, s.subscribers, s.subscribers);
  return { ...result, second };
}

/** One storm of `count` streams (subjects from `first` on), timed; the streams are closed after. */
async function storm(
  server: CrowdServer,
  s: { topic: string; payloadBytes: number; timeoutMs: number },
  first: number,
  count: number,
): Promise<ConnectStormResult['second']> {
  const headers = tokenHeaders(server, s.topic);
  const requests = Array.from({ length: count }, (_, i) => headers.subscriber(first + i));
  const path = server.wire.subscribePath(s.topic);
  const ledger = new Ledger(s.payloadBytes);
  const subs = Array.from({ length: count }, () => new Subscriber(ledger));
  let opened = 0;
  let failed = 0;
  const cpu0 = server.probe.cpuSeconds();
  const t0 = performance.now();
  let last = t0;
  await Promise.all(
    subs.map((sub, i) =>
      sub.connect(server.target, path, { headers: requests[i]!, timeoutMs: s.timeoutMs }).then(
        () => {
          last = performance.now();
          opened++;
        },
        () => {
          failed++;
        },
      ),
    ),
  );
  await sleep(1_000);
  const cpu = server.probe.cpuSeconds() - cpu0;
  for (const sub of subs) sub.close();
  return {
    opened,
    failed,
    allOpenSeconds: (last - t0) / 1000,
    serverCpuMicrosPerConnection: (cpu * 1e6) / Math.max(1, opened),
  };
}
