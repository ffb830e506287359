/**
 * One codebase, three runtimes, one Redis: hubs on Node, Bun and Deno share a history and an order.
 * Every subscriber on every runtime gets every update once and in publish order, whichever runtime
 * took the publish, and a subscriber resumes on another runtime with no gap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishOk, q, subscribe } from '../conformance/client.ts';
import { fixtureEnv } from '../conformance/target.ts';
import { type RedisServer, skipRedis, startRedis } from '../helpers/redis.ts';
import { type RuntimeHub, runtimeBinary, runtimes } from '../helpers/runtimes.ts';

for (const name of ['bun', 'deno'] as const) runtimeBinary(name);

describe.skipIf(skipRedis)('Node, Bun and Deno hubs on one Redis', () => {
  let redis: RedisServer;
  const hubs: Array<[string, RuntimeHub]> = [];
  beforeAll(async () => {
    redis = await startRedis();
    for (const name of ['node', 'bun', 'deno']) {
      hubs.push([name, await runtimes[name]!({ ...fixtureEnv, SSEHUB_REDIS_URL: redis.url })]);
    }
  });
  afterAll(async () => {
    await Promise.all(hubs.map(([, hub]) => hub.stop()));
    await redis?.dispose();
  });

  it('delivers publishes taken by any runtime to subscribers on every runtime, once, in order', async () => {
    const topic = `/mixed/${crypto.randomUUID()}`;
    const streams = await Promise.all(hubs.map(([, hub]) => subscribe(hub.url, `match=${q(topic)}`)));
    const published: string[] = [];
    for (let i = 0; i < 30; i++)
      published.push(await publishOk(hubs[i % 3]![1].url, { topic, data: `n${i}` }));
    for (const s of streams) {
      await s.waitForEvents(30);
      expect(s.events.map((e) => e.id)).toEqual(published);
    }
    // Resumes on the next runtime from the tenth event: the rest, then live, nothing twice.
    for (const [i, s] of streams.entries()) {
      s.close();
      const [, other] = hubs[(i + 1) % 3]!;
      const resumed = await subscribe(other.url, `match=${q(topic)}`, { 'last-event-id': published[9]! });
      expect(resumed.headers.get('mercure-last-event-id')).toBe(published[9]);
      await resumed.waitForEvents(20);
      expect(resumed.events.map((e) => e.id)).toEqual(published.slice(10));
      resumed.close();
    }
  });
});
