/**
 * Server groups: two hub instances behind a private redis-server, measured as one server — the load
 * split across the instances, accounting end to end, every process counted and stopped.
 */
import { existsSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipRedis } from '../test/helpers/redis.ts';
import { runLoad, type Target } from './loadgen.ts';
import { processInfo, processTree } from './proc.ts';
import { type RunningServer, SERVERS, startServer } from './servers.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

async function counter(target: Target, name: string): Promise<number> {
  const text = await (await fetch(`http://${target.host}:${target.port}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  if (!m) throw new Error(`${name} not in /metrics`);
  return Number(m[1]);
}

describe.skipIf(skipRedis)('redis2: two hub instances behind Redis', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(SERVERS.find((s) => s.name === 'redis2')!, {
      root: ROOT,
      logFile: join(ROOT, 'bench', 'logs', 'test-redis2.log'),
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('splits subscribers and publishes across the instances and counts every event end to end', async () => {
    expect(server.targets).toHaveLength(2);
    const r = await runLoad({
      target: server.targets,
      topic: 'test',
      subscribers: 6,
      rate: 40,
      payloadBytes: 512,
      warmupMs: 300,
      durationMs: 1000,
      probe: server.probe,
    });
    expect(r.errors).toEqual([]);
    expect(r.subscribers).toBe(6);
    expect(r.published).toBeGreaterThanOrEqual(10);
    expect(r.publishFailed).toBe(0);
    expect(r.lost).toBe(0);
    expect(r.duplicates + r.outOfOrder + r.malformed + r.serverClosed).toBe(0);
    expect(r.latencyMs.samples).toBe(r.published * 6);

    // Round-robin publishes: the instances took turns. Three subscribers each: every update,
    // whichever instance took it, was written to all three subscribers of each instance.
    const [a, b] = server.targets;
    const publishedA = await counter(a!, 'ssehub_updates_published_total');
    const publishedB = await counter(b!, 'ssehub_updates_published_total');
    expect(publishedA).toBeGreaterThanOrEqual(5);
    expect(Math.abs(publishedA - publishedB)).toBeLessThanOrEqual(1);
    expect(await counter(a!, 'ssehub_events_delivered_total')).toBe(3 * (publishedA + publishedB));
    expect(await counter(b!, 'ssehub_events_delivered_total')).toBe(3 * (publishedA + publishedB));

    // CPU is counted for every process of the group, and told apart.
    expect([...r.serverCpuParts.keys()].sort()).toEqual(
      expect.arrayContaining(['hub 1: node', 'hub 2: node', 'redis-server']),
    );
    expect(r.serverCpuSeconds).toBeCloseTo(
      [...r.serverCpuParts.values()].reduce((x, y) => x + y, 0),
      6,
    );
    // Processes sharing one core wait for each other: no run-queue wait is claimed for the group.
    expect(Number.isNaN(r.serverWaitPercent)).toBe(true);
  });

  it('stops every process and removes the Redis directory', async () => {
    // This test process started them all: its descendants are the group.
    const before = processTree(process.pid)
      .slice(1)
      .map((pid) => processInfo(pid)!);
    expect(before.filter((p) => p.comm === 'node').length).toBeGreaterThanOrEqual(2);
    expect(before.filter((p) => p.comm === 'redis-server')).toHaveLength(1);
    // redis-server runs in its --dir.
    const redis = before.find((p) => p.comm === 'redis-server')!;
    const dir = readlinkSync(`/proc/${redis.pid}/cwd`);
    expect(existsSync(dir)).toBe(true);
    await server.stop();
    for (const p of before) expect(processInfo(p.pid)?.startTicks).not.toBe(p.startTicks);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('workerd: the Worker in workerd without wrangler (bench/workerd-direct.ts)', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(SERVERS.find((s) => s.name === 'workerd')!, {
      root: ROOT,
      logFile: join(ROOT, 'bench', 'logs', 'test-workerd.log'),
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('serves the hub and counts the workerd process it runs in', async () => {
    const r = await runLoad({
      target: server.targets,
      topic: 'test',
      subscribers: 3,
      rate: 20,
      payloadBytes: 512,
      warmupMs: 300,
      durationMs: 1000,
      probe: server.probe,
    });
    expect(r.errors).toEqual([]);
    expect(r.published).toBeGreaterThanOrEqual(5);
    expect(r.lost + r.duplicates + r.outOfOrder + r.serverClosed).toBe(0);
    expect(r.serverCpuParts.get('workerd')).toBeGreaterThan(0);
    // The run-queue wait is workerd's, the process doing the work.
    expect(Number.isFinite(r.serverWaitPercent)).toBe(true);
  });
});

describe('the server table', () => {
  it('starts every ssehub command with the run’s key, so that the scenarios with tokens can run on it', () => {
    const hubs = SERVERS.filter((spec) =>
      spec.requires?.some((file) => /^(src\/runtimes\/.*cli\.ts|dist\/runtimes\/cli\.js)$/.test(file)),
    );
    expect(hubs.map((spec) => spec.name)).toEqual(
      expect.arrayContaining(['hub', 'hub-memory', 'bun', 'deno']),
    );
    for (const spec of hubs) expect(spec.jwtKey, spec.name).toBe(true);
  });
});
