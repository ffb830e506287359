/**
 * The Redis subscription registry against a real redis-server: changes visible to every instance when
 * they resolve, a dead instance's subscriptions announced gone exactly once however many survivors
 * race for them, a wrongly-claimed instance coming back, and Redis losing its data.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPresenceInstance, testSubscription } from '../../../test/helpers/presence-instance.ts';
import { type RedisServer, skipRedis, startRedis } from '../../../test/helpers/redis.ts';
import { eventually } from '../../../test/helpers/sse.ts';
import { collect } from '../contract.ts';
import type { ActiveSubscription, Broker, UpdateInput } from '../index.ts';
import { createRedisBroker } from './broker.ts';
import { createRedisRegistry, type RedisRegistry } from './registry.ts';

/** A broker that only records what the registry publishes itself. */
function recorder() {
  const published: UpdateInput[] = [];
  const broker = {
    healthy: true,
    async publish(input: UpdateInput) {
      published.push(input);
      return { ...input, id: crypto.randomUUID(), pos: '0' };
    },
  };
  const events = () => published.map((u) => JSON.parse(u.data) as ActiveSubscription);
  return { broker, published, events };
}

const quiet = () => {};

describe.skipIf(skipRedis)('redis subscription registry', () => {
  let server: RedisServer;
  const open: Array<{ close(): Promise<void> }> = [];
  let n = 0;
  const freshKey = () => `presence-${process.pid}-${n++}`;
  const registry = async (key: string, ttlSeconds: number, broker: Pick<Broker, 'publish' | 'healthy'>) => {
    const r = await createRedisRegistry({ url: server.url, key, ttlSeconds, broker, log: quiet });
    open.push(r);
    return r;
  };

  beforeAll(async () => {
    server = await startRedis();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.close()));
  });
  afterAll(() => server?.dispose());

  it('shows a change to every instance once it resolves, and publishes nothing itself meanwhile', async () => {
    const key = freshKey();
    const a = recorder();
    const b = recorder();
    const ra = await registry(key, 15, a.broker);
    const rb = await registry(key, 15, b.broker);
    const [s1, s2, s3] = ['/x', '/x', '/y'].map(testSubscription);
    await ra.add([s1!, s3!]);
    await rb.add([s2!]);
    const byId = (list: ActiveSubscription[]) => list.map((s) => s.id);
    const sorted = (...s: ActiveSubscription[]) => s.map((x) => x.id).sort();
    expect(byId(await rb.list({}))).toEqual(sorted(s1!, s2!, s3!));
    expect(byId(await ra.list({ match_type: 'exact', match: '/x' }))).toEqual(sorted(s1!, s2!));
    expect(await ra.list({ subscriber: s3!.subscriber })).toEqual([s3]);
    await ra.remove([s1!]);
    expect(byId(await rb.list({ match: '/x' }))).toEqual([s2!.id]);
    // Connections come and go through the hub's own events; the registry owes none here.
    expect([...a.published, ...b.published]).toEqual([]);
  });

  it('announces a killed instance’s subscriptions gone exactly once, whichever survivors race', async () => {
    const key = freshKey();
    const ttl = 1;
    const survivors = [recorder(), recorder(), recorder()];
    const registries: RedisRegistry[] = [];
    for (const s of survivors) registries.push(await registry(key, ttl, s.broker));
    const victim = await startPresenceInstance(server.url, key, ttl, 6);
    expect((await registries[0]!.list({})).map((s) => s.id).sort()).toEqual([...victim.ids].sort());

    victim.child.kill('SIGKILL');
    await victim.exited;
    const killedAt = Date.now();
    // Besides each registry's own sweeper, every survivor sweeps as fast as it can.
    while (survivors.reduce((sum, s) => sum + s.published.length, 0) < 6 && Date.now() - killedAt < 10_000) {
      await Promise.all(registries.flatMap((r) => [r.sweep(), r.sweep()]));
    }
    const elapsed = Date.now() - killedAt;
    const events = survivors.flatMap((s) => s.events());
    expect(events.map((e) => e.id).sort()).toEqual([...victim.ids].sort());
    expect(events.every((e) => e.active === false)).toBe(true);
    expect(survivors.filter((s) => s.published.length > 0)).toHaveLength(1);
    for (const u of survivors.flatMap((s) => s.published)) {
      expect(u).toMatchObject({ private: true, type: 'mercure', topics: [JSON.parse(u.data).id] });
    }
    // The TTL, plus one sweep interval (TTL/3), plus slack for a busy machine.
    expect(elapsed).toBeLessThan(ttl * 1000 + 334 + 1500);
    expect(await registries[1]!.list({})).toEqual([]);
    // Nothing more comes, however long they keep sweeping.
    await Promise.all(registries.map((r) => r.sweep()));
    expect(survivors.flatMap((s) => s.published)).toHaveLength(6);
  });

  it('re-registers an instance that was claimed while only paused, after the survivor’s events', async () => {
    const key = freshKey();
    const ttl = 1;
    const broker = await createRedisBroker({ url: server.url, key, log: quiet });
    open.push(broker);
    const stream = collect(broker);
    const survivor = await registry(key, ttl, broker);
    const paused = await startPresenceInstance(server.url, key, ttl, 3);
    try {
      paused.child.kill('SIGSTOP');
      const events = () =>
        stream.received
          .map((u) => JSON.parse(u.data) as ActiveSubscription)
          .filter((s) => paused.ids.includes(s.id));
      await stream.waitFor(() => events().length === 3, 10_000);
      expect(events().map((e) => e.active)).toEqual([false, false, false]);
      expect(await survivor.list({})).toEqual([]);
      paused.child.kill('SIGCONT');
      await stream.waitFor(() => events().length === 6, 10_000);
      const [gone, back] = [events().slice(0, 3), events().slice(3)];
      expect(back.map((e) => e.active)).toEqual([true, true, true]);
      expect(back.map((e) => e.id).sort()).toEqual(gone.map((e) => e.id).sort());
      expect((await survivor.list({})).map((s) => s.id).sort()).toEqual([...paused.ids].sort());
    } finally {
      paused.child.kill('SIGCONT');
      await paused.stop();
    }
  });
});

describe.skipIf(skipRedis)('redis subscription registry when Redis loses its data', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(() => server?.dispose());

  it('re-registers every subscription and announces them again; a change made meanwhile waits', async () => {
    const a = recorder();
    const b = recorder();
    const options = { url: server.url, key: 'lost', ttlSeconds: 1, log: quiet };
    const ra = await createRedisRegistry({ ...options, broker: a.broker });
    const rb = await createRedisRegistry({ ...options, broker: b.broker });
    try {
      const before = ['/a', '/b'].map(testSubscription);
      await ra.add(before);
      await server.stop();
      const during = testSubscription('/c');
      let recorded = false;
      const adding = ra.add([during]).then(() => {
        recorded = true;
      });
      await new Promise((r) => setTimeout(r, 100));
      expect(recorded, 'recorded while Redis is down').toBe(false);
      await server.start();
      // Resolves (does not fail) once Redis is back and the change is visible.
      await adding;
      const all = [...before, during].map((s) => s.id).sort();
      expect((await ra.list({})).map((s) => s.id).sort()).toEqual(all);
      // The other instance sees them too once its own connection is back.
      await eventually(async () => {
        const listed = await rb.list({}).catch(() => []);
        return JSON.stringify(listed.map((s) => s.id).sort()) === JSON.stringify(all);
      }, 'the other instance listing them');
      // The registry announces what Redis lost; the change that waited is the hub's to announce.
      expect(a.events()).toEqual(before.map((s) => ({ ...s, active: true })));
      expect(b.published).toEqual([]);
    } finally {
      await ra.close();
      await rb.close();
    }
  });
});
