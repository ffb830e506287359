/**
 * The scenarios and their settings. Each takes a running server and returns what the report needs;
 * starting and stopping servers is `run.ts`'s business. (i)–(iv) load one topic with anonymous
 * subscribers; (v)–(vii) are crowds whose requests carry tokens (connect-storm.ts,
 * reconnect-storm.ts, idle-crowd.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type ConnectStormResult, runConnectStorm } from './connect-storm.ts';
import { warmUp } from './crowd-kit.ts';
import { type IdleCrowdResult, runIdleCrowd } from './idle-crowd.ts';
import {
  type IdleResult,
  type LoadResult,
  runIdle,
  runLoad,
  type ServerProbe,
  type Target,
} from './loadgen.ts';
import { type ReconnectStormResult, runReconnectStorm } from './reconnect-storm.ts';
import type { Restart } from './servers.ts';
import type { Wire } from './wire.ts';

export type ScenarioId = 'i' | 'ii' | 'iii' | 'iv' | 'v' | 'vi' | 'vii';

/** Every scenario, in the report's order. */
export const SCENARIOS: readonly ScenarioId[] = ['i', 'ii', 'iii', 'iv', 'v', 'vi', 'vii'];

/** Scenarios whose requests carry tokens: a `jwtKey` server is started with the run's key. */
export const WITH_TOKENS: ReadonlySet<ScenarioId> = new Set(['v', 'vi', 'vii']);

/** Every knob; `defaultConfig(quick)` fills them and CLI flags override single ones. */
export interface BenchConfig {
  topic: string;
  payloadBytes: number;
  saturation: LoadSettings;
  latency: LoadSettings;
  idle: { connections: number; settleMs: number };
  ramp: {
    subscribers: number;
    startRate: number;
    maxRate: number;
    warmupMs: number;
    durationMs: number;
    /** Bisection stops when the failing rate is within this factor of the passing one. */
    precision: number;
    maxSteps: number;
  };
  /** (v) Subscribers opening at once; how long one may wait for its response head. */
  connectStorm: { subscribers: number; timeoutMs: number };
  /**
   * (vi) Subscribers, publish rate, publishing before the restart and after all are back, the
   * reconnection delay when the server sends no `retry` (the hub's default), and how long to wait
   * for all to come back.
   */
  reconnectStorm: {
    subscribers: number;
    rate: number;
    beforeMs: number;
    afterMs: number;
    retryMs: number;
    timeoutMs: number;
  };
  /** (vii) Idle subscribers asked for, at most per source address, the heartbeat window. */
  idleCrowd: {
    connections: number;
    perSource: number;
    heartbeatWindowMs: number;
    settleMs: number;
    /** Rest between the RSS reading after opening and the heartbeat window: one-off work after the opening (the runtime's memory reducer) is behind it. */
    quietMs: number;
  };
}

export interface LoadSettings {
  subscribers: number;
  rate: number;
  warmupMs: number;
  durationMs: number;
}

export function defaultConfig(quick: boolean): BenchConfig {
  return {
    topic: 'https://bench.ssehub.test/topic/1',
    payloadBytes: 512,
    saturation: quick
      ? { subscribers: 200, rate: 100, warmupMs: 1_000, durationMs: 3_000 }
      : { subscribers: 1_000, rate: 100, warmupMs: 5_000, durationMs: 20_000 },
    latency: quick
      ? { subscribers: 200, rate: 20, warmupMs: 1_000, durationMs: 3_000 }
      : { subscribers: 1_000, rate: 20, warmupMs: 5_000, durationMs: 20_000 },
    idle: quick ? { connections: 1_000, settleMs: 1_000 } : { connections: 10_000, settleMs: 3_000 },
    ramp: quick
      ? {
          subscribers: 20,
          startRate: 100,
          maxRate: 100_000,
          warmupMs: 500,
          durationMs: 2_000,
          precision: 1.25,
          maxSteps: 8,
        }
      : {
          subscribers: 100,
          startRate: 50,
          maxRate: 100_000,
          warmupMs: 2_000,
          durationMs: 8_000,
          precision: 1.1,
          maxSteps: 16,
        },
    connectStorm: quick
      ? { subscribers: 1_000, timeoutMs: 60_000 }
      : { subscribers: 10_000, timeoutMs: 60_000 },
    reconnectStorm: {
      subscribers: quick ? 1_000 : 10_000,
      rate: quick ? 5 : 2,
      beforeMs: quick ? 2_000 : 5_000,
      afterMs: quick ? 2_000 : 5_000,
      retryMs: 2_000,
      timeoutMs: 60_000,
    },
    // Three heartbeats at the hub's default 15 s (one in a quick run), once the crowd has settled.
    idleCrowd: quick
      ? { connections: 2_000, perSource: 1_000, heartbeatWindowMs: 16_000, settleMs: 1_000, quietMs: 1_000 }
      : {
          connections: 100_000,
          perSource: 10_000,
          heartbeatWindowMs: 45_000,
          settleMs: 3_000,
          quietMs: 30_000,
        },
  };
}

/** What a scenario produced for one server. */
export type ScenarioResult =
  | { kind: 'load'; load: LoadResult }
  | { kind: 'idle'; idle: IdleResult }
  | { kind: 'ramp'; ramp: RampResult }
  | { kind: 'connect-storm'; storm: ConnectStormResult }
  | { kind: 'reconnect-storm'; storm: ReconnectStormResult }
  | { kind: 'idle-crowd'; crowd: IdleCrowdResult };

/** What a scenario needs of a running server. */
export interface ScenarioServer {
  targets: readonly Target[];
  wire: Wire;
  probe: ServerProbe;
  restart(): Promise<Restart>;
  /** The run's secret, which tokens are signed with. */
  key: string;
  /** Whether the server was started with the key (it verifies the tokens). */
  verifiesTokens: boolean;
}

export interface RampStep {
  rate: number;
  failures: string[];
  load: LoadResult;
}

export interface RampResult {
  /** Highest publish rate (events/s) that passed, 0 if none did. */
  bestRate: number;
  best: LoadResult | undefined;
  /** Lowest rate that failed, if any. */
  failedRate: number | undefined;
  /** True when a failing step had the generator, not the server, near a full core: the bound may be ours. */
  generatorLimited: boolean;
  steps: RampStep[];
}

/** A generator above this share of its core may be the bottleneck; results get flagged. */
export const GENERATOR_BUSY_PERCENT = 80;
/** A server above this share of its core is saturated: it is the bottleneck. */
export const SERVER_BUSY_PERCENT = 90;
/** Other processes above this share of a pinned core make a result suspect. */
export const CONTENDED_PERCENT = 10;

/** Which side ran out of CPU in a run: 'server', 'generator', 'server + generator' or 'neither'. */
export function bottleneck(r: LoadResult): string {
  const server = r.serverCpuPercent >= SERVER_BUSY_PERCENT;
  const generator = r.generatorCpuPercent >= GENERATOR_BUSY_PERCENT;
  if (server && generator) return 'server + generator';
  if (server) return 'server';
  if (generator) return 'generator';
  return 'neither';
}

export async function runScenario(
  id: ScenarioId,
  config: BenchConfig,
  server: ScenarioServer,
  log: (line: string) => void,
): Promise<ScenarioResult> {
  const { topic, payloadBytes } = config;
  const { targets: target, wire, probe } = server;
  const crowd = { ...server, target: server.targets[0]! };
  switch (id) {
    case 'i':
    case 'ii': {
      const s = id === 'i' ? config.saturation : config.latency;
      // As in (iii) and (v)-(vii): the RSS that memory per connection is counted from is read after
      // a warm-up burst and a rest, so that it leaves out what the process grows once (JIT code, pools).
      await warmUp(crowd, topic, payloadBytes, config.idle.settleMs);
      const load = await runLoad({ target, wire, topic, payloadBytes, probe, ...s });
      log(summarize(load));
      return { kind: 'load', load };
    }
    case 'iii': {
      const idle = await runIdle({ target, wire, topic, payloadBytes, probe, ...config.idle });
      log(
        `${idle.connections} idle: ${(idle.rssPerConnectionBytes / 1024).toFixed(1)} KiB/conn, ` +
          `${idle.reachable} reachable, ${idle.serverClosed} closed by server`,
      );
      return { kind: 'idle', idle };
    }
    case 'iv':
      return { kind: 'ramp', ramp: await ramp(config, target, wire, probe, log) };
    case 'v': {
      const storm = await runConnectStorm(crowd, { topic, payloadBytes, ...config.connectStorm });
      log(
        `${storm.opened}/${storm.subscribers} open in ${storm.allOpenSeconds.toFixed(2)} s, ` +
          `${storm.serverCpuMicrosPerConnection.toFixed(0)} µs CPU/conn, ${storm.listenOverflows} listen overflows, ` +
          `${storm.reached} reached${storm.firstFailure ? `; ${storm.failed} failed: ${storm.firstFailure}` : ''}; ` +
          `second storm ${storm.second.opened} open in ${storm.second.allOpenSeconds.toFixed(2)} s, ` +
          `${storm.second.serverCpuMicrosPerConnection.toFixed(0)} µs CPU/conn`,
      );
      return { kind: 'connect-storm', storm };
    }
    case 'vi': {
      const storm = await runReconnectStorm(crowd, { topic, payloadBytes, ...config.reconnectStorm });
      log(
        `all back ${storm.allLiveSeconds.toFixed(2)} s after the restart (${storm.allLiveAfterListeningSeconds.toFixed(2)} s ` +
          `after listening), ${storm.live}/${storm.subscribers} live, ${storm.published} published, lost ${storm.lost}, ` +
          `dup ${storm.duplicates}, out of order ${storm.outOfOrder}, ${storm.failedAttempts} failed attempts` +
          `${storm.firstFailure ? ` (${storm.firstFailure})` : ''}`,
      );
      return { kind: 'reconnect-storm', storm };
    }
    case 'vii': {
      const c = await runIdleCrowd(crowd, { topic, payloadBytes, ...config.idleCrowd });
      log(
        `${c.connections}/${c.asked} idle from ${c.sources} address(es): ${(c.rssPerConnectionBytes / 1024).toFixed(1)} KiB/conn, ` +
          `heartbeat CPU ${c.heartbeatCpuPercent.toFixed(2)} %, ${c.heartbeatsPerConnection.toFixed(1)} beats/conn, ` +
          `one event to all in ${c.fanoutAllMs.toFixed(0)} ms, ${c.reached} reached`,
      );
      return { kind: 'idle-crowd', crowd: c };
    }
  }
}

/** Why a ramp step does not count as sustained; empty when it does. */
export function sustainFailures(r: LoadResult, subscribers: number): string[] {
  const failures: string[] = [];
  if (r.lost > 0) failures.push(`${r.lost} lost`);
  if (r.subscribers < subscribers) failures.push(`${subscribers - r.subscribers} subscribers missing`);
  if (r.serverClosed > 0) failures.push(`${r.serverClosed} closed by server`);
  if (r.publishFailed > 0) failures.push(`${r.publishFailed} publishes failed`);
  if (r.duplicates > 0 || r.outOfOrder > 0)
    failures.push(`${r.duplicates} dup / ${r.outOfOrder} out of order`);
  if (r.malformed > 0) failures.push(`${r.malformed} malformed`);
  const offered = r.rate * subscribers;
  if (r.deliveredPerSecond < 0.99 * offered) {
    const unsent = r.unsent > 0 ? ` (${r.unsent} publishes answered too slowly to be sent)` : '';
    failures.push(`delivered ${((r.deliveredPerSecond / offered) * 100).toFixed(1)} % of offered${unsent}`);
  }
  if (!(r.latencyMs.p99 < 1000)) failures.push(`p99 ${r.latencyMs.p99.toFixed(0)} ms`);
  return failures;
}

/** Doubles the publish rate until a step fails, then bisects between the last pass and the first failure. */
async function ramp(
  config: BenchConfig,
  target: Target | readonly Target[],
  wire: Wire,
  probe: ServerProbe,
  log: (line: string) => void,
): Promise<RampResult> {
  const c = config.ramp;
  const steps: RampStep[] = [];
  let lo = 0;
  let hi: number | undefined;
  let best: LoadResult | undefined;
  let generatorLimited = false;
  const step = async (rate: number): Promise<boolean> => {
    const load = await runLoad({
      target,
      wire,
      topic: config.topic,
      payloadBytes: config.payloadBytes,
      probe,
      subscribers: c.subscribers,
      rate,
      warmupMs: c.warmupMs,
      durationMs: c.durationMs,
      drainTimeoutMs: 5_000,
      drainStallMs: 2_000,
    });
    const failures = sustainFailures(load, c.subscribers);
    steps.push({ rate, failures, load });
    log(
      `  ${rate} events/s: ${failures.length === 0 ? 'sustained' : failures.join(', ')}; ${summarize(load)}`,
    );
    if (failures.length === 0) {
      lo = rate;
      best = load;
    } else {
      hi = rate;
      if (bottleneck(load).startsWith('generator')) generatorLimited = true;
    }
    // Let the server drop the closed subscribers and collect garbage before the next step.
    await sleep(1_000);
    return failures.length === 0;
  };

  let rate = c.startRate;
  while (steps.length < c.maxSteps && rate <= c.maxRate && (await step(rate))) rate *= 2;
  while (steps.length < c.maxSteps && hi !== undefined && hi / Math.max(lo, 1) > c.precision) {
    const mid = lo === 0 ? Math.floor(hi / 2) : Math.round((lo + hi) / 2);
    if (mid < 1 || mid === lo || mid === hi) break;
    await step(mid);
  }
  return { bestRate: lo, best, failedRate: hi, generatorLimited, steps };
}

/** One line for the console. */
export function summarize(r: LoadResult): string {
  return (
    `delivered ${r.deliveredPerSecond.toFixed(0)}/s, ${r.serverCpuMicrosPerEvent.toFixed(2)} µs CPU/event, ` +
    `p50 ${r.latencyMs.p50.toFixed(1)} ms, p99 ${r.latencyMs.p99.toFixed(1)} ms, lost ${r.lost}, ` +
    `server ${r.serverCpuPercent.toFixed(0)} % / generator ${r.generatorCpuPercent.toFixed(0)} % CPU, ` +
    `kept waiting ${r.serverWaitPercent.toFixed(0)} / ${r.generatorWaitPercent.toFixed(0)} %`
  );
}
