/**
 * Scenario (vii): a large idle crowd on one server process — what each subscriber costs in memory,
 * what keeping them alive costs in CPU (heartbeats), and how long one event takes to reach them
 * all. Subscribers carry tokens, as in (v) and (vi).
 *
 * One source address has about 28,000 ephemeral ports (net.ipv4.ip_local_port_range), and a socket
 * bound to a local address takes its port at bind time, whatever the destination; so the crowd is
 * spread over 127.0.n.2, 127.0.n.3, … (all of 127/8 is loopback on Linux), at most `perSource` per
 * address. Both the generator and the server need an open-file limit above the crowd: `launchScript`
 * raises both to 200,000 where the hard limit allows, else to the hard limit, and the crowd is
 * capped to what that limit holds (the result says so).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type CrowdServer, generatorClock, publishOne, tokenHeaders, warmUp } from './crowd-kit.ts';
import { Ledger } from './ledger.ts';
import { type Snapshot, snapshot } from './loadgen.ts';
import { openFileLimit } from './proc.ts';
import { openSubscribers } from './subscriber.ts';

/** File descriptors the generator keeps for itself beside the crowd (publisher, /proc, stdio). */
const RESERVED_FDS = 500;

/**
 * Crowds opened so far by this process: each takes a block of source addresses of its own
 * (127.0.<n>.2, 127.0.<n>.3, …), so that the client ports an earlier crowd left in TIME_WAIT (60 s
 * on Linux) are never in the way of the next one.
 */
let crowds = 0;

export interface IdleCrowdResult {
  /** Subscribers asked for, and held: fewer when the open-file limit does not allow more. */
  asked: number;
  connections: number;
  openFileLimit: number;
  sources: number;
  openSeconds: number;
  generatorCpuPercentOpening: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  rssPerConnectionBytes: number;
  heartbeatWindowSeconds: number;
  /** Server CPU over the window, % of one core: what idle subscribers cost to keep. */
  heartbeatCpuPercent: number;
  /** Keep-alives (comments, data-less events) each subscriber received in the window. */
  heartbeatsPerConnection: number;
  serverWaitPercent: number;
  generatorWaitPercent: number;
  generatorCpuPercentWindow: number;
  /** One event: publish → the last subscriber had it, and the median subscriber, ms. */
  fanoutAllMs: number;
  fanoutP50Ms: number;
  reached: number;
  /** Server CPU from before the publish until the last delivery, ÷ deliveries. */
  fanoutCpuMicrosPerDelivery: number;
  serverClosed: number;
  verifiesTokens: boolean;
}

/**
 * Warms the server up, opens the crowd (200 handshakes at a time), reads RSS, rests `quietMs`,
 * watches the server for `heartbeatWindowMs` while nothing is published, then publishes one event and times its
 * arrival everywhere.
 */
export async function runIdleCrowd(
  server: CrowdServer,
  s: {
    topic: string;
    payloadBytes: number;
    connections: number;
    perSource: number;
    heartbeatWindowMs: number;
    settleMs: number;
    quietMs: number;
  },
): Promise<IdleCrowdResult> {
  const limit = openFileLimit();
  const connections = Number.isFinite(limit)
    ? Math.min(s.connections, Math.max(1, limit - RESERVED_FDS))
    : s.connections;
  const sources = Math.ceil(connections / s.perSource);
  const block = crowds++ % 256;
  await warmUp(server, s.topic, s.payloadBytes, s.settleMs);
  const rssBeforeBytes = server.probe.rssBytes();

  const headers = tokenHeaders(server, s.topic);
  const ledger = new Ledger(s.payloadBytes);
  const opening = generatorClock();
  const opened = performance.now();
  const subs = await openSubscribers(ledger, server.target, server.wire.subscribePath(s.topic), connections, {
    connect: (i) => ({ headers: headers.subscriber(i), localAddress: `127.0.${block}.${2 + (i % sources)}` }),
  });
  const openSeconds = (performance.now() - opened) / 1000;
  const generatorCpuPercentOpening = opening.cpuPercent();
  try {
    await sleep(s.settleMs);
    const rssAfterBytes = server.probe.rssBytes();
    await sleep(s.quietMs);

    const heartbeats = () => subs.reduce((n, sub) => n + sub.keepAlives, 0);
    const beats0 = heartbeats();
    const before: Snapshot = snapshot(ledger, server.probe);
    await sleep(s.heartbeatWindowMs);
    const after: Snapshot = snapshot(ledger, server.probe);
    const beats = heartbeats() - beats0;
    const window = (after.at - before.at) / 1000;
    const generatorCpu = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1e6;

    const cpu0 = server.probe.cpuSeconds();
    const { reached } = await publishOne(server, ledger, subs, s.topic, s.payloadBytes, 10_000);
    const fanoutCpu = server.probe.cpuSeconds() - cpu0;
    const [p50, max] = ledger.latencyMs.percentiles([50, 100]);
    return {
      asked: s.connections,
      connections: subs.length,
      openFileLimit: limit,
      sources,
      openSeconds,
      generatorCpuPercentOpening,
      rssBeforeBytes,
      rssAfterBytes,
      rssPerConnectionBytes: (rssAfterBytes - rssBeforeBytes) / subs.length,
      heartbeatWindowSeconds: window,
      heartbeatCpuPercent: ((after.serverCpu - before.serverCpu) / window) * 100,
      heartbeatsPerConnection: beats / subs.length,
      serverWaitPercent: ((after.serverWait - before.serverWait) / window) * 100,
      generatorWaitPercent: ((after.generatorWait - before.generatorWait) / window) * 100,
      generatorCpuPercentWindow: (generatorCpu / window) * 100,
      fanoutAllMs: max!,
      fanoutP50Ms: p50!,
      reached,
      fanoutCpuMicrosPerDelivery: (fanoutCpu * 1e6) / Math.max(1, reached),
      serverClosed: ledger.serverClosed,
      verifiesTokens: server.verifiesTokens,
    };
  } finally {
    for (const sub of subs) sub.close();
  }
}
