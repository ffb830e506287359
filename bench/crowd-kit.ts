/**
 * What the crowd scenarios (v)–(vii) share: the server as they see it, the tokens their requests
 * carry, a warm-up, one event published and waited for everywhere. Every request carries an access
 * token (tokens.ts); a server started with the run's key (the hub) verifies each one, the others
 * ignore them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Ledger } from './ledger.ts';
import { drain, runLoad, type ServerProbe } from './loadgen.ts';
import { Publisher } from './publisher.ts';
import type { Restart } from './servers.ts';
import type { Subscriber, Target } from './subscriber.ts';
import { TokenMint } from './tokens.ts';
import type { Wire } from './wire.ts';

/** What the crowd scenarios need of a running server. */
export interface CrowdServer {
  /** Its first instance: crowds go to one process. */
  target: Target;
  wire: Wire;
  probe: ServerProbe;
  restart(): Promise<Restart>;
  /** The run's secret: the requests' tokens are signed with it. */
  key: string;
  /** Whether the server was started with the key and verifies the tokens. */
  verifiesTokens: boolean;
}

/** The token header lines of a scenario's subscribers (`bench-<i>`) and of its publisher. */
export function tokenHeaders(server: CrowdServer, topic: string) {
  const mint = new TokenMint(server.key, server.target);
  return {
    subscriber: (i: number) => `Authorization: Bearer ${mint.subscriber(topic, `bench-${i}`)}\r\n`,
    publisher: `Authorization: Bearer ${mint.publisher(topic)}\r\n`,
  };
}

/**
 * A short burst on another topic, with tokens when the server verifies them, so that the server's
 * request, token and fan-out paths are warm (JIT, caches, buffers) before anything is measured; then `settleMs` of rest.
 */
export async function warmUp(server: CrowdServer, topic: string, payloadBytes: number, settleMs: number) {
  const warm = `${topic}-warmup`;
  const r = await runLoad({
    target: server.target,
    wire: server.wire,
    topic: warm,
    subscribers: 100,
    rate: 50,
    payloadBytes,
    warmupMs: 0,
    durationMs: 1000,
    drainTimeoutMs: 5000,
    ...(server.verifiesTokens ? { headers: tokenHeaders(server, warm) } : {}),
  });
  if (r.lost > 0 || r.publishFailed > 0) {
    throw new Error(
      `warm-up lost ${r.lost} events, ${r.publishFailed} publishes failed: ${r.errors[0] ?? ''}`,
    );
  }
  await sleep(settleMs);
}

/**
 * Publishes one event (with the publisher's token) and waits until every open subscriber has it,
 * or `stallMs` pass without a delivery. Latency samples land in `ledger` (window: that event).
 */
export async function publishOne(
  server: CrowdServer,
  ledger: Ledger,
  subs: readonly Subscriber[],
  topic: string,
  payloadBytes: number,
  stallMs = 5_000,
): Promise<{ accepted: boolean; reached: number }> {
  const publisher = new Publisher({
    target: server.target,
    wire: server.wire,
    topic,
    rate: 1,
    count: 1,
    payloadBytes,
    headers: tokenHeaders(server, topic).publisher,
  });
  ledger.windowFrom = 0;
  ledger.windowTo = 1;
  try {
    await publisher.open(1);
    await publisher.run(performance.now());
  } finally {
    publisher.close();
  }
  await drain(ledger, subs, publisher.ok, 60_000, stallMs);
  return { accepted: publisher.ok === 1, reached: subs.filter((s) => (s.received[0] ?? 0) > 0).length };
}

/** The generator's CPU use over a stretch of time. */
export function generatorClock() {
  const cpu0 = process.cpuUsage();
  const at0 = performance.now();
  return {
    /** CPU % of the generator's core since the clock started. */
    cpuPercent: () => {
      const cpu = process.cpuUsage(cpu0);
      return ((cpu.user + cpu.system) / 1e3 / (performance.now() - at0)) * 100;
    },
  };
}
