/**
 * A relay over in-process shards (memory brokers behind the same internal endpoints a hub object
 * serves): merged streams deliver every update exactly once, resume from composite cursors, and keep
 * the seam between replay and live while publishing goes on; per-shard streams keep the shard's ids.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { afterEach, describe, expect, it } from 'vitest';
import { type Broker, createMemoryBroker, createMemoryRegistry, generateId } from '../../brokers/index.ts';
import { defaults } from '../../config/index.ts';
import { parseCursor, updateIdOf } from './cursor.ts';
import { MERGED_VIEW, Relay, VIEW_HEADER } from './relay.ts';
import { ShardFeed } from './shard-feed.ts';
import { objectOf, shardIndex, shardName, type Topology, topologyOf } from './topology.ts';
import { INTERNAL_ORIGIN } from './wire.ts';

const HUB = 'http://hub.test/.well-known/mercure';

interface Shard {
  broker: Broker;
  feed: ShardFeed;
}

function cluster(shards = 4, historySize = 100) {
  const config = { ...defaults, shards, relays: 1, jwtKey: 'relay-test-key-0123456789abcdef', heartbeat: 1 };
  const topology: Topology = topologyOf(config);
  const objects = new Map<string, Shard>();
  const shardOf = (name: string): Shard => {
    let shard = objects.get(name);
    if (!shard) {
      const broker = createMemoryBroker({ historySize });
      shard = { broker, feed: new ShardFeed({ broker, registry: createMemoryRegistry() }, 1000) };
      objects.set(name, shard);
    }
    return shard;
  };
  for (let k = 0; k < shards; k++) shardOf(shardName(k));
  const relay = new Relay({
    config,
    topology,
    name: 'relay:0',
    link: (name) => async (path, init) =>
      (await shardOf(name).feed.handle(new Request(`${INTERNAL_ORIGIN}${path}`, init))) ??
      new Response('not found', { status: 404 }),
  });
  /** Publishes as the Worker does: to every object of the topics, with one id. */
  async function publish(topics: string[], data: string): Promise<string> {
    const id = generateId();
    const names = [...new Set(topics.map((t) => objectOf(topology, t)))];
    for (const name of names) await shardOf(name).broker.publish({ topics, data, private: false, id });
    return id;
  }
  /** A topic in shard `k`. */
  const topicIn = (k: number, tag = ''): string => {
    for (let i = 0; ; i++) {
      const topic = `/t/${tag}${i}`;
      if (shardIndex(objectOf(topology, topic)) === k) return topic;
    }
  };
  return { relay, publish, topicIn, objects, topology };
}

const open: Array<() => void> = [];
afterEach(() => {
  for (const close of open.splice(0)) close();
});

async function subscribe(relay: Relay, query: string, view: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await relay.fetch(
    new Request(`${HUB}?${query}`, {
      headers: { [VIEW_HEADER]: view, ...headers },
      signal: controller.signal,
    }),
  );
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let waiting: (() => void) | undefined;
  void (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) return;
      parser.feed(decoder.decode(value, { stream: true }));
      waiting?.();
    }
  })();
  const close = () => {
    controller.abort();
    void reader.cancel().catch(() => {});
  };
  open.push(close);
  return {
    response,
    events,
    close,
    async until(count: number, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (events.length < count) {
        if (Date.now() > deadline) throw new Error(`${events.length} of ${count} events`);
        await new Promise<void>((resolve) => {
          waiting = resolve;
          setTimeout(resolve, 50);
        });
      }
      return events;
    },
  };
}

/**
 * Publishes a marker in each of the four shards and waits for them: each shard's feed is in order, so a
 * copy of anything before would have come first. Returns the events before the markers.
 */
async function settled(
  sub: Awaited<ReturnType<typeof subscribe>>,
  publish: (topics: string[], data: string) => Promise<string>,
  topicIn: (k: number, tag?: string) => string,
) {
  const markers: string[] = [];
  for (let k = 0; k < 4; k++) markers.push(await publish([topicIn(k, 'marker')], 'marker'));
  const ids = () => sub.events.map((e) => updateIdOf(e.id!));
  const deadline = Date.now() + 5000;
  while (!markers.every((m) => ids().includes(m))) {
    if (Date.now() > deadline) throw new Error('the markers did not arrive');
    await sub.until(sub.events.length + 1).catch(() => undefined);
  }
  return sub.events.filter((e) => !markers.includes(updateIdOf(e.id!)));
}

describe('a relay over four shards', () => {
  it('delivers every update once to *, with alternates in several shards, under composite ids', async () => {
    const { relay, publish, topicIn } = cluster();
    const all = await subscribe(relay, 'match=*', MERGED_VIEW);
    expect(all.response.status).toBe(200);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const topics = [topicIn(i % 4, 'a'), topicIn((i + 1) % 4, 'b'), topicIn((i + 2) % 4, 'c')];
      ids.push(await publish(topics, String(i)));
    }
    await all.until(20);
    const events = await settled(all, publish, topicIn);
    expect(events.map((e) => updateIdOf(e.id!))).toEqual(ids);
    for (const event of events) expect(parseCursor(event.id!, 4)).toHaveLength(4);
  });

  it('resumes from a composite cursor: nothing lost, nothing twice, the cursor echoed', async () => {
    const { relay, publish, topicIn } = cluster();
    const first = await subscribe(relay, 'match=*', MERGED_VIEW);
    const before = [await publish([topicIn(0)], 'a'), await publish([topicIn(1), topicIn(2)], 'b')];
    await first.until(2);
    first.close();
    const cursor = first.events[1]!.id!;
    const missed = [];
    for (let k = 0; k < 4; k++) missed.push(await publish([topicIn(k), topicIn((k + 3) % 4)], `m${k}`));
    const resumed = await subscribe(relay, 'match=*', MERGED_VIEW, { 'last-event-id': cursor });
    expect(resumed.response.headers.get('mercure-last-event-id')).toBe(cursor);
    await resumed.until(4);
    const live = await publish([topicIn(3)], 'live');
    await resumed.until(5);
    const events = await settled(resumed, publish, topicIn);
    expect(new Set(events.slice(0, 4).map((e) => updateIdOf(e.id!)))).toEqual(new Set(missed));
    expect(updateIdOf(events[4]!.id!)).toBe(live);
    expect(events).toHaveLength(5);
    expect(before).toHaveLength(2);
  });

  it('resumes after a plain update id it sent lately (a publisher answer), as its merged streams saw it', async () => {
    const { relay, publish, topicIn } = cluster();
    const first = await subscribe(relay, 'match=*', MERGED_VIEW);
    await publish([topicIn(0)], 'a');
    const plain = await publish([topicIn(1), topicIn(2)], 'b');
    await first.until(2);
    first.close();
    const missed = [];
    for (let k = 0; k < 4; k++) missed.push(await publish([topicIn(k)], `m${k}`));
    const resumed = await subscribe(relay, 'match=*', MERGED_VIEW, { 'last-event-id': plain });
    expect(resumed.response.headers.get('mercure-last-event-id')).toBe(plain);
    await resumed.until(4);
    expect(new Set(resumed.events.map((e) => updateIdOf(e.id!)))).toEqual(new Set(missed));
    // One it never sent is located where it is stored; elsewhere it names nothing: earliest.
    const unknown = await subscribe(relay, 'match=*', MERGED_VIEW, { 'last-event-id': 'urn:never-sent' });
    expect(unknown.response.headers.get('mercure-last-event-id')).toBe('earliest');
  });

  it('leaves no gap and no duplicate between replay and live while every shard is published to', async () => {
    const { relay, publish, topicIn } = cluster(4, 1000);
    const start = await subscribe(relay, 'match=*', MERGED_VIEW);
    await publish([topicIn(0)], 'start');
    await start.until(1);
    start.close();
    let stop = false;
    let n = 0;
    const published: string[] = [];
    const publisher = (async () => {
      while (!stop && n < 200)
        published.push(await publish([topicIn(n % 4, 'x'), topicIn((n + 1) % 4, 'y')], String(n++)));
    })();
    const subs = [];
    for (let i = 0; i < 6; i++) {
      subs.push(await subscribe(relay, 'match=*', MERGED_VIEW, { 'last-event-id': start.events[0]!.id! }));
      await new Promise((r) => setTimeout(r, 5));
    }
    stop = true;
    await publisher;
    for (const sub of subs) {
      await sub.until(published.length);
      // The other subscribers' markers come too: what counts is each published update, once.
      const ours = new Set(published);
      const got = (await settled(sub, publish, topicIn))
        .map((e) => updateIdOf(e.id!))
        .filter((id) => ours.has(id));
      expect(got.length).toBe(published.length);
      expect(new Set(got)).toEqual(new Set(published));
    }
  });

  it('signals the gap when a shard discarded what the cursor had not read', async () => {
    const { relay, publish, topicIn } = cluster(4, 5);
    const sub = await subscribe(relay, 'match=*', MERGED_VIEW);
    await publish([topicIn(2)], 'seen');
    await sub.until(1);
    sub.close();
    for (let i = 0; i < 10; i++) await publish([topicIn(2)], `after ${i}`);
    const resumed = await subscribe(relay, 'match=*', MERGED_VIEW, { 'last-event-id': sub.events[0]!.id! });
    expect(resumed.response.headers.get('mercure-last-event-id')).toBe('earliest');
    await resumed.until(5);
    expect(resumed.events.map((e) => e.data)).toEqual([
      'after 5',
      'after 6',
      'after 7',
      'after 8',
      'after 9',
    ]);
  });

  it("serves one shard's subscriptions with the shard's own ids and cursors", async () => {
    const { relay, publish, topicIn } = cluster();
    const topic = topicIn(1);
    const ids = [await publish([topic], '1'), await publish([topic, topicIn(2)], '2')];
    const sub = await subscribe(relay, `match=${encodeURIComponent(topic)}`, 'shard:1', {
      'last-event-id': ids[0]!,
    });
    expect(sub.response.headers.get('mercure-last-event-id')).toBe(ids[0]);
    const live = await publish([topicIn(0), topic], '3');
    await sub.until(2);
    expect(sub.events.map((e) => e.id)).toEqual([ids[1], live]);
  });

  it('answers 503 past its stream bound, so the Worker can try another relay', async () => {
    const base = cluster();
    const config = {
      ...defaults,
      shards: 4,
      relays: 1,
      relayStreams: 1,
      jwtKey: 'relay-test-key-0123456789abcdef',
    };
    const relay = new Relay({
      config,
      topology: topologyOf(config),
      name: 'relay:1',
      link: (name) => async (path, init) =>
        (await base.objects.get(name)!.feed.handle(new Request(`${INTERNAL_ORIGIN}${path}`, init)))!,
    });
    const one = await subscribe(relay, 'match=*', MERGED_VIEW);
    expect(one.response.status).toBe(200);
    const two = await subscribe(relay, 'match=*', MERGED_VIEW);
    expect(two.response.status).toBe(503);
    expect(two.response.headers.get('x-ssehub-relay-full')).toBe('1');
  });
});
