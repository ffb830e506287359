/**
 * Workers past one object, black-box: four topic shards and two relays in workerd (miniflare), topics
 * pinned to shards by `SSEHUB_SHARD_RULES` (`/s{k}/…` lives in shard k). What a user sees: every update
 * once per subscriber whatever shards its topics and alternates live in, one composite
 * `Last-Event-ID` that resumes every shard (after a shard object restarts, after a relay is evicted),
 * `earliest` when any shard's history lost what the subscriber missed, and rooms in objects of their
 * own. The relay tier has its own file (`workerd-relays.test.ts`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishOk, q, subscribe } from '../conformance/client.ts';
import type { Target } from '../conformance/target.ts';
import { idsOf, receives, reset, SHARDS, startSharded as start, topicIn } from '../helpers/sharded.ts';

describe('workerd with 4 shards and 2 relays', () => {
  let hub: Target;
  const url = () => hub.url;
  beforeAll(async () => {
    hub = await start();
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('delivers every update exactly once to a * subscriber and to a subscriber of topics in every shard, alternates in other shards included', async () => {
    const topics = Array.from({ length: SHARDS }, (_, k) => topicIn(k));
    const other = topicIn(2, 'other');
    const all = await subscribe(url(), 'match=*');
    const some = await subscribe(url(), topics.map((t) => `match=${q(t)}`).join('&'));
    expect([all.status, some.status]).toEqual([200, 200]);

    const published = [
      await publishOk(url(), { topic: topics[0]!, data: 'one shard' }),
      // Canonical in shard 1, alternate in shard 2: stored in both, one event.
      await publishOk(url(), [
        ['topic', topics[1]!],
        ['topic', topics[2]!],
        ['data', 'alternate'],
      ]),
      // Every shard holds it; it is still one update.
      await publishOk(url(), [
        ...[3, 0, 1, 2].map((k): [string, string] => ['topic', topics[k]!]),
        ['data', 'x'],
      ]),
      // An alternate the second subscriber asked for, the canonical topic one it did not.
      await publishOk(url(), [
        ['topic', other],
        ['topic', topics[3]!],
        ['data', 'y'],
      ]),
    ];
    const unmatched = await publishOk(url(), { topic: topicIn(1, 'unmatched'), data: 'z' });
    // A marker per shard, last: each shard's feed is in order, so a copy of an update from any shard
    // would have come before that shard's marker.
    const markers: string[] = [];
    for (let k = 0; k < SHARDS; k++)
      markers.push(await publishOk(url(), { topic: topics[k]!, data: 'marker' }));

    await receives(all, [...published, unmatched, ...markers], 'every update on *');
    await receives(some, [...published, ...markers], 'every update on the topics');
    for (const [stream, expected] of [
      [all, [...published, unmatched, ...markers]],
      [some, [...published, ...markers]],
    ] as const) {
      const ids = idsOf(stream);
      expect(new Set(ids).size, 'no duplicate').toBe(ids.length);
      expect([...ids].sort()).toEqual([...expected].sort());
    }
    // Each shard's own order is kept in the merged stream.
    const some0 = idsOf(some).filter((id) => [published[0], markers[0]].includes(id));
    expect(some0).toEqual([published[0], markers[0]]);
    all.close();
    some.close();
  });

  it('resumes a * subscription from its composite Last-Event-ID after a shard object restarts, losing nothing', async () => {
    const topics = Array.from({ length: SHARDS }, (_, k) => topicIn(k, 'resume'));
    const query = topics.map((t) => `match=${q(t)}`).join('&');
    const first = await subscribe(url(), query);
    const seen: string[] = [];
    for (const topic of topics) seen.push(await publishOk(url(), { topic, data: 'seen' }));
    await receives(first, seen, 'the first updates');
    const cursor = first.events.at(-1)!.id!;
    expect(cursor).toMatch(/^~[0-9a-z.]+~/);
    first.close();

    await reset(url(), 'shard:2');
    const missed: string[] = [];
    for (const topic of topics) missed.push(await publishOk(url(), { topic, data: 'missed' }));

    const again = await subscribe(url(), query, { 'last-event-id': cursor });
    expect(again.status).toBe(200);
    expect(again.headers.get('mercure-last-event-id')).toBe(cursor);
    await receives(again, missed, 'what was missed');
    const live = await publishOk(url(), { topic: topics[2]!, data: 'live' });
    await receives(again, [live], 'the live update');
    // Shards have no order between them: what was missed, once each, then live.
    expect(idsOf(again).slice(0, -1).sort()).toEqual([...missed].sort());
    expect(idsOf(again).at(-1)).toBe(live);
    again.close();
  });

  it('replaces an evicted relay: its subscribers, merged and single-shard, resume losslessly', async () => {
    const topics = Array.from({ length: SHARDS }, (_, k) => topicIn(k, 'relay'));
    const merged = await subscribe(url(), topics.map((t) => `match=${q(t)}`).join('&'));
    const single = await subscribe(url(), `match=${q(topics[1]!)}`);
    const seen = [await publishOk(url(), { topic: topics[1]!, data: 'seen' })];
    await receives(merged, seen, 'the first update');
    await receives(single, seen, 'the first update');

    for (const relay of ['relay:0', 'relay:1']) await reset(url(), relay);
    await merged.ended;
    await single.ended;
    const missed: string[] = [];
    for (const topic of topics) missed.push(await publishOk(url(), { topic, data: 'missed' }));

    const mergedAgain = await subscribe(url(), topics.map((t) => `match=${q(t)}`).join('&'), {
      'last-event-id': merged.events.at(-1)!.id!,
    });
    const singleAgain = await subscribe(url(), `match=${q(topics[1]!)}`, {
      'last-event-id': single.events.at(-1)!.id!,
    });
    await receives(mergedAgain, missed, 'what the merged subscriber missed');
    await receives(singleAgain, [missed[1]!], 'what the single-shard subscriber missed');
    expect(idsOf(mergedAgain).sort()).toEqual([...missed].sort());
    expect(idsOf(singleAgain)).toEqual([missed[1]]);
    mergedAgain.close();
    singleAgain.close();
  });

  it('runs two rooms in two objects of their own', async () => {
    for (const room of ['alpha', 'beta']) {
      const join = await fetch(`${url()}/rooms/${room}/join`, { method: 'POST' });
      expect(join.status).toBe(200);
      await join.text();
    }
    const alpha = await (await fetch(`${url()}/rooms/alpha/metrics`)).text();
    const beta = await (await fetch(`${url()}/rooms/beta/metrics`)).text();
    expect(alpha).toContain('ssehub_object{name="room:alpha"} 1');
    expect(beta).toContain('ssehub_object{name="room:beta"} 1');
    expect(alpha).not.toContain('room:beta');
  });
});

describe('workerd with 4 shards, one of which lost history', () => {
  let hub: Target;
  beforeAll(async () => {
    hub = await start({ SSEHUB_HISTORY_SIZE: '3' });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('answers earliest to a composite cursor when any shard discarded what the subscriber missed, and replays what is retained', async () => {
    const topics = Array.from({ length: SHARDS }, (_, k) => topicIn(k, 'gap'));
    const query = topics.map((t) => `match=${q(t)}`).join('&');
    const first = await subscribe(hub.url, query);
    const seen: string[] = [];
    for (const topic of topics) seen.push(await publishOk(hub.url, { topic, data: 'seen' }));
    await receives(first, seen, 'the first updates');
    const cursor = first.events.at(-1)!.id!;
    first.close();

    // Shard 1 keeps 3: five more discard one the subscriber never read.
    const shard1: string[] = [];
    for (let i = 0; i < 5; i++) shard1.push(await publishOk(hub.url, { topic: topics[1]!, data: String(i) }));
    const shard3 = await publishOk(hub.url, { topic: topics[3]!, data: 'kept' });

    const again = await subscribe(hub.url, query, { 'last-event-id': cursor });
    expect(again.status).toBe(200);
    expect(again.headers.get('mercure-last-event-id')).toBe('earliest');
    await receives(again, [...shard1.slice(-3), shard3], 'the retained updates');
    expect(idsOf(again)).not.toContain(shard1[0]);
    again.close();

    // Nothing lost since a cursor taken now: it is echoed.
    const now = again.events.at(-1)!.id!;
    const fine = await subscribe(hub.url, query, { 'last-event-id': now });
    expect(fine.headers.get('mercure-last-event-id')).toBe(now);
    fine.close();
  });
});

describe('internal endpoints', () => {
  it("are never a client's: 404 from the Worker, sharded or with the one hub object, and nothing published", async () => {
    const topologies: Record<string, string>[] = [
      {},
      { SSEHUB_SHARDS: '1', SSEHUB_RELAYS: '0', SSEHUB_SHARD_RULES: '' },
    ];
    for (const settings of topologies) {
      const hub = await start(settings);
      try {
        const topic = '/internal/probe';
        const watcher = await subscribe(hub.url, `match=${q(topic)}`);
        const forged = await fetch(`${hub.url}/_ssehub/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ topics: [topic], data: 'forged', private: false }),
        });
        expect(forged.status).toBe(404);
        await forged.body?.cancel();
        for (const path of ['/_ssehub/history?after=-1', '/_ssehub/feed', '/_ssehub/subscriptions']) {
          const res = await fetch(`${hub.url}${path}`);
          expect(res.status, path).toBe(404);
          await res.body?.cancel();
        }
        // A real publish after them is the first thing the watcher gets.
        const real = await publishOk(hub.url, { topic, data: 'real' });
        await receives(watcher, [real], 'the real update');
        expect(watcher.events.map((e) => e.data)).toEqual(['real']);
        watcher.close();
      } finally {
        await hub.stop();
      }
    }
  });
});
