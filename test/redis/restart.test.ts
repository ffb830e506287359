/**
 * Redis restarted mid-stream: the hubs report unhealthy and refuse publishes with a quick 503, then
 * recover by themselves; every publish accepted before and after is delivered once, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publish, publishOk, q, subscribe } from '../conformance/client.ts';
import { type HubInstance, health, startHubs } from '../helpers/cluster.ts';
import { type RedisServer, skipRedis, startRedis } from '../helpers/redis.ts';
import { eventually } from '../helpers/sse.ts';

describe.skipIf(skipRedis)('Redis restarted under running hubs', () => {
  let redis: RedisServer;
  let hubs: HubInstance[];
  beforeAll(async () => {
    // With the AOF (fsync always) a restart keeps every acknowledged write.
    redis = await startRedis({ appendonly: true });
    hubs = await startHubs(2, redis.url);
  });
  afterAll(async () => {
    await Promise.all((hubs ?? []).map((h) => h.stop()));
    await redis?.dispose();
  });

  it('goes unhealthy, recovers by itself, and delivers every accepted publish exactly once', async () => {
    const topic = `/restart/${crypto.randomUUID()}`;
    const streams = await Promise.all(hubs.map((h) => subscribe(h.url, `match=${q(topic)}`)));
    const accepted: string[] = [];
    const ambiguous = new Set<string>();
    const refused: number[] = [];
    let phase = 'before' as 'before' | 'down' | 'after';
    let acceptedBefore = 0;
    let acceptedAfter = 0;

    // A steady publisher, running until told to stop.
    let stop = false;
    const publisher = (async () => {
      for (let i = 0; !stop; i++) {
        const id = `urn:restart:${i}`;
        const started = Date.now();
        const result = await publish(hubs[i % 2]!.url, { topic, id, data: String(i) });
        if (result.status === 200) {
          accepted.push(id);
          if (phase === 'before') acceptedBefore++;
          if (phase === 'after') acceptedAfter++;
        } else {
          // 503 while Redis is away; the XADD may have run if the connection broke mid-command.
          expect(result.status).toBe(503);
          ambiguous.add(id);
          refused.push(Date.now() - started);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    await eventually(() => acceptedBefore >= 50, '50 publishes accepted before the restart');
    await redis.stop();
    phase = 'down';
    for (const h of hubs) await eventually(async () => (await health(h.url)) === 503, `${h.url} unhealthy`);
    await eventually(() => refused.length >= 5, 'publishes refused while Redis is down');
    await redis.start();
    for (const h of hubs)
      await eventually(async () => (await health(h.url)) === 200, `${h.url} healthy`, 20_000);
    phase = 'after';
    await eventually(() => acceptedAfter >= 50, '50 publishes accepted after the restart', 20_000);
    stop = true;
    await publisher;

    // Refusals are quick: the hub does not wait for Redis to come back.
    expect(Math.max(...refused)).toBeLessThan(1500);
    const sentinel = await publishOk(hubs[0]!.url, { topic, data: 'end' });
    for (const s of streams) {
      await s.waitFor(() => s.events.at(-1)?.id === sentinel, 'the sentinel', 20_000);
      const got = s.events.map((e) => e.id!);
      expect(new Set(got).size, 'no duplicates').toBe(got.length);
      expect(got.filter((id) => !ambiguous.has(id))).toEqual([...accepted, sentinel]);
      expect(s.isEnded).toBe(false);
      s.close();
    }
  });
});

describe.skipIf(skipRedis)('Redis restarted without persistence', () => {
  let redis: RedisServer;
  let hubs: HubInstance[];
  beforeAll(async () => {
    redis = await startRedis();
    hubs = await startHubs(2, redis.url);
  });
  afterAll(async () => {
    await Promise.all((hubs ?? []).map((h) => h.stop()));
    await redis?.dispose();
  });

  it('resumes live delivery, and answers cursors from before the data loss with earliest', async () => {
    const topic = `/lost/${crypto.randomUUID()}`;
    const live = await subscribe(hubs[0]!.url, `match=${q(topic)}`);
    const before: string[] = [];
    for (let i = 0; i < 5; i++) before.push(await publishOk(hubs[i % 2]!.url, { topic, data: `b${i}` }));
    await live.waitForEvents(5);
    await redis.stop();
    for (const h of hubs) await eventually(async () => (await health(h.url)) === 503, `${h.url} unhealthy`);
    await redis.start();
    for (const h of hubs)
      await eventually(async () => (await health(h.url)) === 200, `${h.url} healthy`, 20_000);
    const after: string[] = [];
    for (let i = 0; i < 5; i++) after.push(await publishOk(hubs[(i + 1) % 2]!.url, { topic, data: `a${i}` }));
    await live.waitFor(() => live.events.length >= 10, '10 events');
    expect(live.events.map((e) => e.id)).toEqual([...before, ...after]);

    // The history is gone with the data: a cursor from before is unknown, so the client is told.
    const resumed = await subscribe(hubs[1]!.url, `match=${q(topic)}`, { 'last-event-id': before[4]! });
    expect(resumed.status).toBe(200);
    expect(resumed.headers.get('mercure-last-event-id')).toBe('earliest');
    await resumed.waitForEvents(5);
    expect(resumed.events.map((e) => e.id)).toEqual(after);
    live.close();
    resumed.close();
  });
});
