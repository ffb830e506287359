/**
 * Workers past one object, black-box: four topic shards and two relays in workerd (miniflare), topics
 * pinned to shards by `SSEHUB_SHARD_RULES` (`/s{k}/…` lives in shard k). What a user sees: every update
 * once per subscriber whatever shards its topics and alternates live in, one composite
 * `Last-Event-ID` that resumes every shard (after a shard object restarts, after a relay is evicted),
 * `earliest` when any shard's history lost what the subscriber missed, and rooms in objects of their
 * own. The test fixture's `/__test/abort?object=NAME` resets one object, as an eviction would.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metric, publishOk, q, subscribe, updateIdOf } from '../conformance/client.ts';
import { fixtureEnv, type Target } from '../conformance/target.ts';
import { bearer, detail, draft } from '../conformance/tokens.ts';
import { persistDir } from '../helpers/runtimes.ts';
import { eventually, type SseStream } from '../helpers/sse.ts';
import { bundleWorker, SHARDED_FIXTURE, startShardedWorkerd } from '../helpers/workerd-bundle.ts';

const SHARDS = 4;
const sharded = {
  SSEHUB_SHARDS: String(SHARDS),
  SSEHUB_RELAYS: '2',
  SSEHUB_SHARD_RULES: Array.from({ length: SHARDS }, (_, k) => `/s${k}/*=${k}`).join(','),
  SSEHUB_ROOMS: 'open',
};
const bundle = bundleWorker(SHARDED_FIXTURE);

async function start(overrides: Record<string, string> = {}): Promise<Target> {
  const dir = await persistDir();
  const hub = await startShardedWorkerd(
    (await bundle).code,
    { ...fixtureEnv, ...sharded, ...overrides },
    dir.path,
  );
  return {
    url: hub.url,
    stop: async () => {
      await hub.stop();
      await dir.remove();
      return undefined;
    },
  };
}

/** Resets one object (`hub`, `shard:2`, `relay:0`…): its memory and every request it holds end. */
async function reset(url: string, object: string): Promise<void> {
  const res = await fetch(`${url}/__test/abort?object=${q(object)}`, { method: 'POST' });
  expect(res.status).toBe(200);
  await res.text();
}

/** A topic of shard `k`, unique to the test. */
const topicIn = (k: number, name = 't') => `/s${k}/${name}/${crypto.randomUUID()}`;

/** The update ids a stream received (the update id part of composite ids). */
const idsOf = (stream: SseStream) => stream.events.map((e) => updateIdOf(e.id ?? ''));

/** Waits until `stream` has received every id of `ids`. */
const receives = (stream: SseStream, ids: readonly string[], what: string) =>
  stream.waitFor(() => ids.every((id) => idsOf(stream).includes(id)), what, 10_000);

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

describe('workerd with relays of two streams each', () => {
  let hub: Target;
  beforeAll(async () => {
    hub = await start({ SSEHUB_RELAY_STREAMS: '2' });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('holds at most the bound per relay, answers 503 past every relay, and a shard writes each update once per relay', async () => {
    const topic = topicIn(1, 'fan-out');
    const as = async (sub: string) =>
      bearer(await draft([detail(['subscribe'], [{ match: '*' }])], {}, { sub }));
    const streams: SseStream[] = [];
    for (const sub of ['ann', 'ben', 'cat', 'dan'])
      streams.push(await subscribe(hub.url, `match=${q(topic)}`, await as(sub)));
    expect(streams.map((s) => s.status)).toEqual([200, 200, 200, 200]);
    const refused = await subscribe(hub.url, `match=${q(topic)}`, await as('eve'));
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);

    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/^ssehub_feeds 2$/m);
    expect(metrics).toMatch(/^ssehub_object_connections\{object="relay:0"\} 2$/m);
    expect(metrics).toMatch(/^ssehub_object_connections\{object="relay:1"\} 2$/m);
    const id = await publishOk(hub.url, { topic, data: 'to all four' });
    for (const s of streams) await receives(s, [id], 'the update');
    for (const s of streams) s.close();
  });

  it('announces subscriptions held by different relays to a watcher on any of them, and lists them all in the Subscription API', async () => {
    // The streams of the test before take their relays' room until their closes are seen.
    await eventually(async () => (await metric(hub.url, 'ssehub_connections')) === 0, 'the relays emptied');
    const topic = topicIn(2, 'presence');
    const grant = bearer(
      await draft([
        detail(
          ['subscribe'],
          [{ match: '/.well-known/mercure/subscriptions{/*}?', match_type: 'urlpattern' }],
        ),
      ]),
    );
    const watcher = await subscribe(
      hub.url,
      `match_urlpattern=${q('/.well-known/mercure/subscriptions{/*}?')}`,
      grant,
    );
    expect(watcher.status).toBe(200);
    const subjects = ['fay', 'gus', 'hal'];
    const streams: SseStream[] = [];
    for (const sub of subjects) {
      const token = bearer(await draft([detail(['subscribe'], [{ match: '*' }])], {}, { sub }));
      streams.push(await subscribe(hub.url, `match=${q(topic)}`, token));
    }
    const active = () =>
      watcher.events
        .filter((e) => e.event === 'mercure')
        .map((e) => JSON.parse(e.data) as { match: string; active: boolean; subscriber: string })
        .filter((e) => e.match === topic && e.active);
    await watcher.waitFor(() => active().length === subjects.length, 'three subscriptions announced', 10_000);

    const res = await fetch(`${hub.url}/.well-known/mercure/subscriptions/exact/${q(topic)}`, {
      headers: grant,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { subscriptions: Array<{ subscriber: string; active: boolean }> };
    expect(body.subscriptions.map((s) => s.subscriber).sort()).toEqual(
      active()
        .map((e) => e.subscriber)
        .sort(),
    );
    // Held in more than one relay: the relays' lists were added up.
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/^ssehub_object_connections\{object="relay:0"\} [1-9]/m);
    expect(metrics).toMatch(/^ssehub_object_connections\{object="relay:1"\} [1-9]/m);
    for (const s of streams) s.close();
    watcher.close();
  });
});

describe('workerd with 4 shards and 2 relays sending webhooks', () => {
  let hub: Target;
  let server: Server;
  const received: Array<{ type: string; match?: unknown }> = [];
  let arrived: (() => void) | undefined;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          type: string;
          data: { match?: unknown };
        };
        received.push({ type: event.type, match: event.data.match });
        res.writeHead(204).end();
        arrived?.();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const secret = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString('base64')}`;
    hub = await start({
      SSEHUB_WEBHOOK_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
      SSEHUB_WEBHOOK_SECRET: secret,
    });
  });
  afterAll(async () => {
    await hub?.stop();
    await new Promise((resolve) => server?.close(resolve));
  });

  const until = (predicate: () => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 15_000);
      arrived = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        resolve();
      };
      arrived();
    });

  it('sends each subscription event once: from the shard that stores it, never from the relays that read it', async () => {
    // Subscribers of every shard on both relays: each relay reads every shard's events.
    const watchers = [];
    for (const sub of ['ivy', 'jon', 'kim', 'lou']) {
      const token = bearer(await draft([detail(['subscribe'], [{ match: '*' }])], {}, { sub }));
      watchers.push(await subscribe(hub.url, 'match=*', token));
    }
    const topic = topicIn(3, 'hooked');
    const stream = await subscribe(hub.url, `match=${q(topic)}`);
    const about = (type: string) => received.filter((e) => e.type === type && e.match === topic);
    await until(() => about('subscription.active').length > 0, 'subscription.active');
    stream.close();
    await until(() => about('subscription.inactive').length > 0, 'subscription.inactive');
    expect(about('subscription.active')).toHaveLength(1);
    expect(about('subscription.inactive')).toHaveLength(1);
    for (const w of watchers) w.close();
  });
});
