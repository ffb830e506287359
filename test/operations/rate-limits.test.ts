/**
 * Rate limits, black-box: past each limit a 429 with `Retry-After`, and the next request after that
 * delay goes through; publishes and subscriptions count per token subject, else per address; room
 * messages per peer. On two instances sharing a Redis the bucket is one for both (no multiplier).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publish, q, subscribe, uniqueTopic } from '../conformance/client.ts';
import { fixtureEnv } from '../conformance/target.ts';
import { bearer, detail, draft } from '../conformance/tokens.ts';
import { type HubInstance, startHubs } from '../helpers/cluster.ts';
import { startNodeHub } from '../helpers/hub.ts';
import { type RedisServer, skipRedis, startRedis } from '../helpers/redis.ts';
import { join, peerStreamUrl, publishWith } from '../helpers/rooms.ts';

const publisherAs = (sub: string) => draft([detail(['publish'], [{ match: '*' }])], {}, { sub });
const subscriberAs = (sub: string) => draft([detail(['subscribe'], [{ match: '*' }])], {}, { sub });

/** Waits as long as the hub's `Retry-After` says (seconds). */
const waitRetryAfter = (headers: Headers) => {
  const seconds = Number(headers.get('retry-after'));
  expect(Number.isInteger(seconds) && seconds >= 1).toBe(true);
  return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
};

/** Publishes `count` times as `token` to `urls` in turn; resolves with the statuses. */
async function publishes(urls: readonly string[], token: string, count: number) {
  const results = [];
  for (let i = 0; i < count; i++) {
    results.push(await publish(urls[i % urls.length]!, { topic: uniqueTopic(), data: String(i) }, { token }));
  }
  return results;
}

describe('rate limits on one instance', () => {
  let hub: Awaited<ReturnType<typeof startNodeHub>>;
  beforeAll(async () => {
    hub = await startNodeHub({
      ...fixtureEnv,
      SSEHUB_ROOMS: 'open',
      SSEHUB_RATE_LIMIT_PUBLISH: '3/3s',
      SSEHUB_RATE_LIMIT_SUBSCRIBE: '2/2s',
      SSEHUB_RATE_LIMIT_ROOM_MESSAGES: '2/2s',
    });
  });
  afterAll(() => hub?.stop());

  it('answers 429 with Retry-After past the publish limit, per subject, and recovers after it', async () => {
    const alice = await publisherAs(`alice-${crypto.randomUUID()}`);
    const results = await publishes([hub.url], alice, 4);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    const refused = results[3]!;
    expect(refused.text).toContain('rate limit');
    // Another subject has a bucket of its own.
    const bob = await publisherAs(`bob-${crypto.randomUUID()}`);
    expect((await publishes([hub.url], bob, 1))[0]!.status).toBe(200);
    await waitRetryAfter(refused.headers);
    expect((await publishes([hub.url], alice, 1))[0]!.status).toBe(200);
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/^ssehub_rate_limited_total\{limit="publish"\} [1-9]/m);
    expect(metrics).toMatch(/^ssehub_rejected_requests_total\{reason="too_many_requests"\} [1-9]/m);
  });

  it('limits new subscriptions per subject, else per address, and recovers', async () => {
    const topic = uniqueTopic();
    const carol = bearer(await subscriberAs(`carol-${crypto.randomUUID()}`));
    const open = [
      await subscribe(hub.url, `match=${q(topic)}`, carol),
      await subscribe(hub.url, `match=${q(topic)}`, carol),
    ];
    const third = await subscribe(hub.url, `match=${q(topic)}`, carol);
    expect(open.map((s) => s.status)).toEqual([200, 200]);
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    // Anonymous subscribers count by address: this test process is one client.
    const anonymous = [];
    for (let i = 0; i < 3; i++) anonymous.push(await subscribe(hub.url, `match=${q(topic)}`));
    expect(anonymous.map((s) => s.status)).toEqual([200, 200, 429]);
    await waitRetryAfter(third.headers);
    const again = await subscribe(hub.url, `match=${q(topic)}`, carol);
    expect(again.status).toBe(200);
    for (const s of [...open, ...anonymous, again]) s.close();
  });

  it('limits the messages of each room peer, whatever the topic in the room', async () => {
    const room = `rl-${crypto.randomUUID().slice(0, 8)}`;
    // Joins count as subscriptions (per address): wait for the bucket the previous test emptied.
    let first = await join(hub.url, room, { name: 'Ada' });
    if (first.status === 429) {
      await waitRetryAfter(first.headers);
      first = await join(hub.url, room, { name: 'Ada' });
    }
    expect(first.status).toBe(200);
    const { answer } = first;
    const stream = await subscribe(
      hub.url,
      new URL(peerStreamUrl(hub.url, answer)).search.slice(1),
      bearer(answer.token),
    );
    expect(stream.status).toBe(200);
    const message = (text: string): Array<[string, string]> => [
      ['topic', answer.topics.room],
      ['data', JSON.stringify({ from: answer.peer, items: [{ type: 'message', data: text }] })],
      ['type', 'broadcast'],
      ['private', 'on'],
    ];
    const sent = [
      await publishWith(hub.url, answer.token, message('1')),
      await publishWith(hub.url, answer.token, message('2')),
    ];
    expect(sent.map((r) => r.status)).toEqual([200, 200]);
    const state = await fetch(`${hub.url}/rooms/${room}/state`, {
      method: 'POST',
      headers: { authorization: `Bearer ${answer.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ref: 'r1', patch: { a: 1 } }),
    });
    expect(state.status).toBe(429);
    expect(state.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    await state.body?.cancel();
    // A Yjs document update is a room message too.
    const doc = await fetch(`${hub.url}/rooms/${room}/docs/notes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${answer.token}`, 'content-type': 'application/octet-stream' },
      body: new Uint8Array([0, 0]),
    });
    expect(doc.status).toBe(429);
    await doc.body?.cancel();
    await waitRetryAfter(state.headers);
    expect((await publishWith(hub.url, answer.token, message('3'))).status).toBe(200);
    stream.close();
  });
});

describe.skipIf(skipRedis)('rate limits shared by two instances on Redis', () => {
  let redis: RedisServer;
  let hubs: HubInstance[];
  beforeAll(async () => {
    redis = await startRedis();
    hubs = await startHubs(2, redis.url, {
      SSEHUB_RATE_LIMIT_PUBLISH: '4/4s',
      SSEHUB_RATE_LIMIT_SUBSCRIBE: '2/2s',
    });
  });
  afterAll(async () => {
    await Promise.all((hubs ?? []).map((h) => h.stop()));
    await redis?.dispose();
  });

  it('gives a subject one publish bucket across instances, and it refills', async () => {
    const dave = await publisherAs(`dave-${crypto.randomUUID()}`);
    const urls = hubs.map((h) => h.url);
    const results = await publishes(urls, dave, 6);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 429, 429]);
    await waitRetryAfter(results[5]!.headers);
    // One token is back: one publish goes through, on either instance, and the next is refused again.
    const after = await publishes([urls[1]!, urls[0]!], dave, 2);
    expect(after.map((r) => r.status)).toEqual([200, 429]);
  });

  it('gives a client one subscription bucket across instances', async () => {
    const topic = uniqueTopic();
    const erin = bearer(await subscriberAs(`erin-${crypto.randomUUID()}`));
    const streams = [];
    for (const url of [hubs[0]!.url, hubs[1]!.url, hubs[0]!.url, hubs[1]!.url]) {
      streams.push(await subscribe(url, `match=${q(topic)}`, erin));
    }
    expect(streams.map((s) => s.status)).toEqual([200, 200, 429, 429]);
    await waitRetryAfter(streams[3]!.headers);
    const again = await subscribe(hubs[1]!.url, `match=${q(topic)}`, erin);
    expect(again.status).toBe(200);
    for (const s of [...streams, again]) s.close();
  });
});
