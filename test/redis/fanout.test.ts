/**
 * Three hub instances on one Redis: every update reaches every subscriber on every instance exactly
 * once and in publish order, and a subscriber resumes on another instance with no gap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishOk, q, subscribe } from '../conformance/client.ts';
import { bearer, detail, draft } from '../conformance/tokens.ts';
import { type HubInstance, resumingSubscriber, startHubs } from '../helpers/cluster.ts';
import { type RedisServer, skipRedis, startRedis } from '../helpers/redis.ts';

describe.skipIf(skipRedis)('three instances on one Redis', () => {
  let redis: RedisServer;
  let hubs: HubInstance[];
  beforeAll(async () => {
    redis = await startRedis();
    hubs = await startHubs(3, redis.url);
  });
  afterAll(async () => {
    await Promise.all((hubs ?? []).map((h) => h.stop()));
    await redis?.dispose();
  });

  it('delivers round-robin publishes to every subscriber on every instance, once, in order', async () => {
    const topic = `/fan/${crypto.randomUUID()}`;
    const streams = await Promise.all(
      hubs.flatMap((h) => [h, h].map(() => subscribe(h.url, `match=${q(topic)}`))),
    );
    for (const s of streams) expect(s.status).toBe(200);
    const published: string[] = [];
    for (let i = 0; i < 90; i++) {
      // Every third update carries a publisher id; the others get hub-generated ones.
      const form: Record<string, string> = { topic, data: `n${i}` };
      if (i % 3 === 0) form.id = `urn:test:${topic}:${i}`;
      published.push(await publishOk(hubs[i % 3]!.url, form));
    }
    for (const s of streams) await s.waitForEvents(90);
    // A duplicate or stray event would show up before this sentinel, published last.
    const sentinel = await publishOk(hubs[0]!.url, { topic, data: 'end' });
    for (const s of streams) {
      await s.waitFor(() => s.events.at(-1)?.id === sentinel, 'the sentinel');
      expect(s.events.map((e) => e.id)).toEqual([...published, sentinel]);
      expect(s.events.slice(0, 90).map((e) => e.data)).toEqual(published.map((_, i) => `n${i}`));
      s.close();
    }
  });

  it('gives every instance the same order for concurrent publishers', async () => {
    const topic = `/concurrent/${crypto.randomUUID()}`;
    const streams = await Promise.all(hubs.map((h) => subscribe(h.url, `match=${q(topic)}`)));
    const published = await Promise.all(
      Array.from({ length: 120 }, (_, i) => publishOk(hubs[i % 3]!.url, { topic, data: String(i) })),
    );
    for (const s of streams) await s.waitForEvents(120);
    const sentinel = await publishOk(hubs[1]!.url, { topic, data: 'end' });
    const orders = [];
    for (const s of streams) {
      await s.waitFor(() => s.events.at(-1)?.id === sentinel, 'the sentinel');
      orders.push(s.events.map((e) => e.id));
      s.close();
    }
    expect(new Set(orders[0]).size).toBe(121);
    expect([...orders[0]!].sort()).toEqual([...published, sentinel].sort());
    expect(orders[1]).toEqual(orders[0]);
    expect(orders[2]).toEqual(orders[0]);
  });

  for (const kind of ['hub-generated', 'publisher-chosen'] as const) {
    it(`resumes on another instance after a ${kind} id: the missed updates, then live ones`, async () => {
      const topic = `/resume/${crypto.randomUUID()}`;
      const form = (i: number): Record<string, string> =>
        kind === 'publisher-chosen'
          ? { topic, data: `n${i}`, id: `urn:resume:${topic}:${i}` }
          : { topic, data: `n${i}` };
      const sub = resumingSubscriber([hubs[0]!.url, hubs[1]!.url], `match=${q(topic)}`);
      await sub.waitFor(() => sub.connections.length === 1, 'the first connection');
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) ids.push(await publishOk(hubs[i % 3]!.url, form(i)));
      await sub.waitFor(() => sub.events.length === 10, '10 events on instance A');
      // Cut off from A; while it is away, 10 more updates are published (on B and C).
      const unreachable = hubs[0]!;
      sub.cut(true);
      for (let i = 10; i < 20; i++) ids.push(await publishOk(hubs[1 + (i % 2)]!.url, form(i)));
      sub.resume();
      await sub.waitFor(() => sub.connections.length === 2, 'the reconnection to B');
      for (let i = 20; i < 25; i++) ids.push(await publishOk(hubs[i % 3]!.url, form(i)));
      await sub.waitFor(() => sub.events.length >= 25, '25 events');
      const sentinel = await publishOk(hubs[2]!.url, { topic, data: 'end' });
      await sub.waitFor(() => sub.events.at(-1)?.id === sentinel, 'the sentinel');
      await sub.stop();
      const [first, second] = sub.connections;
      expect(first!.url).toBe(unreachable.url);
      expect(second).toMatchObject({ url: hubs[1]!.url, status: 200, sent: ids[9], reconciled: ids[9] });
      expect(sub.events.map((e) => e.id)).toEqual([...ids, sentinel]);
      expect(sub.events.slice(0, 25).map((e) => e.data)).toEqual(ids.map((_, i) => `n${i}`));
      expect(second!.events).toBe(16);
    });
  }

  it('carries subscription events (presence) to every instance, replayable from any of them', async () => {
    const topic = `/presence/${crypto.randomUUID()}`;
    const grant = await draft([
      detail(['subscribe'], [{ match: '/.well-known/mercure/subscriptions{/*}?', match_type: 'urlpattern' }]),
    ]);
    const watch = `match_urlpattern=${q('/.well-known/mercure/subscriptions/*')}`;
    const watcher = await subscribe(hubs[1]!.url, watch, bearer(grant));
    const mine = () =>
      watcher.events.filter((e) => e.event === 'mercure' && JSON.parse(e.data).match === topic);
    const before = await publishOk(hubs[2]!.url, { topic: `${topic}/marker`, data: 'before' });
    const client = await subscribe(hubs[0]!.url, `match=${q(topic)}`);
    await watcher.waitFor(() => mine().length === 1, 'the subscription seen on another instance');
    client.close();
    await watcher.waitFor(() => mine().length === 2, 'its end seen on another instance');
    expect(mine().map((e) => JSON.parse(e.data).active)).toEqual([true, false]);
    // The same events replay from a third instance.
    const replay = await subscribe(hubs[2]!.url, watch, { ...bearer(grant), 'last-event-id': before });
    await replay.waitFor(
      () => replay.events.filter((e) => e.data.includes(JSON.stringify(topic))).length === 2,
      'the replayed events',
    );
    watcher.close();
    replay.close();
  });
});
