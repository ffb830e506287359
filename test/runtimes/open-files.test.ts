/**
 * A hub at its open-file limit, on Node, Bun and Deno: each connection holds one file, and a stranger
 * can open connections until none is left. The hub must warn about a low limit when it starts, refuse
 * what it cannot accept without ending (Deno's server stops for good on such an error, Node's throws
 * it), keep the streams it holds, and serve again as soon as files are free.
 */
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { publish, q, subscribe, uniqueTopic } from '../conformance/client.ts';
import { fixtureEnv } from '../conformance/target.ts';
import { freePort, hubEnv, type Process, startProcess } from '../helpers/hub.ts';
import { bunArgs, denoArgs, runtimeBinary } from '../helpers/runtimes.ts';
import { eventually } from '../helpers/sse.ts';

for (const name of ['bun', 'deno'] as const) runtimeBinary(name);

/** Low enough to reach with a few hundred connections, high enough for each runtime to start. */
const LIMIT = 256;

const commands: Record<string, () => [string, string[]]> = {
  node: () => ['node', ['--import', 'tsx', 'src/runtimes/cli.ts']],
  bun: () => [runtimeBinary('bun'), bunArgs],
  deno: () => [runtimeBinary('deno'), denoArgs],
};

/** Starts a hub under `prlimit`, its soft and hard open-file limits at `LIMIT`. */
async function startLimited(runtime: string): Promise<Process & { url: string }> {
  const port = await freePort();
  const [command, args] = commands[runtime]!();
  const proc = await startProcess('prlimit', [`--nofile=${LIMIT}:${LIMIT}`, command, ...args], {
    env: hubEnv({ ...fixtureEnv, PORT: String(port), HOST: '127.0.0.1' }),
    ready: /listening on/,
  });
  return { ...proc, url: `http://127.0.0.1:${port}` };
}

/** Opens `count` raw connections that send nothing; resolves once each connected or failed. */
async function flood(url: string, count: number): Promise<net.Socket[]> {
  const { port } = new URL(url);
  const sockets: net.Socket[] = [];
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve) => {
          const socket = net.connect(Number(port), '127.0.0.1', () => resolve());
          socket.on('error', () => resolve());
          sockets.push(socket);
        }),
    ),
  );
  return sockets;
}

const started: Process[] = [];
afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
});

/**
 * Whether the runtime reads the limit, for the start-up warning: Deno's permissions keep `/proc/self`
 * from anything short of `--allow-all`, which the hub does not ask for.
 */
const readsLimit: Record<string, boolean> = { node: true, bun: true, deno: false };

describe.each(Object.keys(commands))('%s at its open-file limit', (runtime) => {
  it('warns at start, refuses past the limit without ending, keeps its streams, then serves again', async () => {
    const hub = await startLimited(runtime);
    started.push(hub);
    const warning = `open-file limit is ${LIMIT}, so the hub holds about ${LIMIT - 100} connections at most`;
    // The warning goes to stderr and the banner to stdout: two pipes, read in either order.
    if (readsLimit[runtime]) await eventually(() => hub.output().includes(warning), 'the warning');
    // /metrics reports the process: its files and their limit where it can read them.
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    const value = (name: string) =>
      metrics
        .split('\n')
        .find((line) => line.startsWith(`${name} `))
        ?.split(' ')[1];
    expect(Number(value('process_cpu_seconds_total'))).toBeGreaterThan(0);
    expect(Number(value('process_resident_memory_bytes'))).toBeGreaterThan(1 << 20);
    expect(Math.abs(Number(value('process_start_time_seconds')) - Date.now() / 1000)).toBeLessThan(120);
    if (readsLimit[runtime]) {
      expect(Number(value('process_max_fds'))).toBe(LIMIT);
      expect(Number(value('process_open_fds'))).toBeGreaterThan(2);
      expect(Number(value('process_open_fds'))).toBeLessThan(LIMIT);
    } else expect(value('process_max_fds')).toBeUndefined();
    const topic = uniqueTopic('files');
    const stream = await subscribe(hub.url, `match=${q(topic)}`);
    expect(stream.status).toBe(200);
    await stream.waitFor(() => stream.retries.length > 0, 'the stream to open');

    // Twice the limit in connections that send nothing: every file the process has, and more.
    const sockets = await flood(hub.url, 2 * LIMIT);
    // While they are open, the system refuses the rest (or leaves them waiting); the process stays.
    const refused = await fetch(`${hub.url}/healthz`, { signal: AbortSignal.timeout(2000) }).catch(
      () => undefined,
    );
    expect(refused?.status ?? 'refused').not.toBe(503);
    expect(hub.child.exitCode).toBeNull();
    for (const socket of sockets) socket.destroy();

    // Files free again: the hub answers new connections, and a publish reaches the stream it kept.
    // (Deno's server, stopped by the flood, is listening again within 100 ms: asked in that gap, or
    // while it still closes the flood's connections, the system refuses.)
    await eventually(async () => {
      const after = await publish(hub.url, { topic, data: 'after' }).catch(() => undefined);
      return after?.status === 200;
    }, 'a publish to succeed again');
    expect((await stream.waitForEvents(1)).map((e) => e.data)).toEqual(['after']);
    stream.close();
    expect(hub.child.exitCode).toBeNull();
    // Seconds after the start: whatever the runtime wrote at start has been read by now (the flood's
    // refusals were logged since, saying the limit "is reached").
    expect(hub.output()).toContain('Console: ');
    if (!readsLimit[runtime]) expect(hub.output()).not.toMatch(/open-file limit is \d/);
  });
});
