/**
 * `kill -9` of one instance during a steady publish stream: its subscribers reconnect to the others
 * with `Last-Event-ID`, and counted end to end no update is lost or duplicated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publish, q } from '../conformance/client.ts';
import {
  type HubInstance,
  type ResumingSubscriber,
  resumingSubscriber,
  startHubs,
} from '../helpers/cluster.ts';
import { type RedisServer, skipRedis, startRedis } from '../helpers/redis.ts';

describe.skipIf(skipRedis)('an instance killed with SIGKILL', () => {
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

  it('loses and duplicates nothing for its subscribers, who resume on the survivors', async () => {
    const topic = `/failover/${crypto.randomUUID()}`;
    const urls = hubs.map((h) => h.url);
    // Three subscribers per instance; each prefers its own instance, then the next ones.
    const subscribers: ResumingSubscriber[] = [];
    for (let h = 0; h < 3; h++) {
      const order = [0, 1, 2].map((k) => urls[(h + k) % 3]!);
      for (let k = 0; k < 3; k++) subscribers.push(resumingSubscriber(order, `match=${q(topic)}`));
    }
    for (const s of subscribers) await s.waitFor(() => s.connections.length === 1, 'connected');

    // A steady stream of updates, round-robin over the instances that are up. A publish whose
    // request failed at the network level may or may not have been stored ("ambiguous"): it is sent
    // again under a new id, and it may appear at most once.
    const accepted: string[] = [];
    const ambiguous = new Set<string>();
    let killed = false;
    const victim = hubs[0]!;
    let target = 0;
    for (let i = 0; accepted.length < 300; i++) {
      if (accepted.length === 100 && !killed) {
        killed = true;
        victim.child.kill('SIGKILL');
      }
      const hub = hubs[target++ % 3]!;
      if (killed && hub === victim) continue;
      const id = `urn:failover:${i}`;
      try {
        const result = await publish(hub.url, { topic, id, data: String(i) });
        expect(result.status).toBe(200);
        accepted.push(id);
      } catch {
        ambiguous.add(id);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await victim.exited).toBe('SIGKILL');

    const last = accepted.at(-1)!;
    for (const s of subscribers) {
      await s.waitFor(() => s.events.some((e) => e.id === last), 'the last update', 20_000);
    }
    await Promise.all(subscribers.map((s) => s.stop()));
    let resumed = 0;
    for (const s of subscribers) {
      const got = s.events.map((e) => e.id ?? '');
      expect(new Set(got).size, 'no duplicates').toBe(got.length);
      expect(got.filter((id) => !ambiguous.has(id))).toEqual(accepted);
      const moved = s.connections.slice(1);
      if (moved.length > 0) {
        resumed++;
        for (const c of moved) {
          expect(c.url).not.toBe(victim.url);
          if (c.status === 200) expect(c.reconciled).toBe(c.sent);
        }
      }
    }
    // The victim's three subscribers (and only they) had to move.
    expect(resumed).toBe(3);
  });
});
