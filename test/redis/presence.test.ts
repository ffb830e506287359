/**
 * Presence across instances: a subscriber on instance A sees subscribers of B and C come and go, the
 * Subscription API on A lists the subscribers of every instance (with a cursor that leaves no gap),
 * and after `kill -9` of C its subscriptions are announced gone, once, within the TTL.
 */
import type { EventSourceMessage } from 'eventsource-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUB, q, subscribe } from '../conformance/client.ts';
import { bearer, detail, draft } from '../conformance/tokens.ts';
import { type HubInstance, health, startHubs } from '../helpers/cluster.ts';
import { type RedisServer, skipRedis, startRedis } from '../helpers/redis.ts';
import { eventually, type SseStream } from '../helpers/sse.ts';

const TTL = 2;
const SUBSCRIPTIONS = `${HUB}/subscriptions`;
const WATCH = `match_urlpattern=${q(`${SUBSCRIPTIONS}/*`)}`;
const enc = encodeURIComponent;
const grant = () =>
  draft([detail(['subscribe'], [{ match: `${SUBSCRIPTIONS}{/*}?`, match_type: 'urlpattern' }])]);

type Subscription = { id: string; match: string; subscriber: string; active: boolean };

/** The subscription events about topics starting with `prefix` that `stream` received. */
const about = (stream: SseStream, prefix: string): Subscription[] =>
  stream.events
    .filter((e: EventSourceMessage) => e.event === 'mercure')
    .map((e) => JSON.parse(e.data) as Subscription)
    .filter((s) => s.match.startsWith(prefix));

/** The Subscription API of `base` at `path`: the JSON body and the `Link` cursor. */
async function list(base: string, path: string) {
  const response = await fetch(`${base}${path}`, { headers: bearer(await grant()) });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { subscriptions: Subscription[]; last_event_id: string };
  const cursor = /last-event-id="([^"]*)"/.exec(response.headers.get('link') ?? '')?.[1];
  expect(cursor).toBe(body.last_event_id);
  return { subscriptions: body.subscriptions, cursor: cursor! };
}

const subscribers = (subscriptions: Subscription[]) => subscriptions.map((s) => s.subscriber).sort();

describe.skipIf(skipRedis)('presence across three instances', () => {
  let redis: RedisServer;
  let hubs: HubInstance[];
  let a: string;
  let b: string;
  let c: string;
  beforeAll(async () => {
    redis = await startRedis();
    hubs = await startHubs(3, redis.url, { SSEHUB_PRESENCE_TTL: String(TTL) });
    [a, b, c] = hubs.map((h) => h.url) as [string, string, string];
  });
  afterAll(async () => {
    await Promise.all((hubs ?? []).map((h) => h.stop()));
    await redis?.dispose();
  });

  it('shows A the joins and leaves of subscribers on B and C, and lists them in its API meanwhile', async () => {
    const topic = `/room/${crypto.randomUUID()}`;
    const path = `${SUBSCRIPTIONS}/exact/${enc(topic)}`;
    const watcher = await subscribe(a, WATCH, bearer(await grant()));
    const onB = await subscribe(b, `match=${q(topic)}`);
    const onC = await subscribe(c, `match=${q(topic)}`);
    await watcher.waitFor(() => about(watcher, topic).length === 2, 'both joins');
    const joined = about(watcher, topic);
    expect(joined.map((s) => s.active)).toEqual([true, true]);
    // An instance records a subscription before announcing it: whoever saw the event finds it listed.
    expect(subscribers((await list(a, path)).subscriptions)).toEqual(subscribers(joined));
    expect((await list(a, SUBSCRIPTIONS)).subscriptions.filter((s) => s.match === topic)).toHaveLength(2);

    onB.close();
    await watcher.waitFor(() => about(watcher, topic).length === 3, 'the leave on B');
    const [left] = about(watcher, topic).slice(2);
    expect(left).toMatchObject({ active: false });
    expect(subscribers((await list(a, path)).subscriptions)).toEqual(
      subscribers(joined.filter((s) => s.subscriber !== left!.subscriber)),
    );
    onC.close();
    await watcher.waitFor(() => about(watcher, topic).length === 4, 'the leave on C');
    expect(about(watcher, topic).map((s) => s.active)).toEqual([true, true, false, false]);
    expect(subscribers(about(watcher, topic).slice(2))).toEqual(subscribers(joined));
    expect((await list(a, path)).subscriptions).toEqual([]);
    watcher.close();
  });

  it('lists on A with a cursor from which the changes on B and C replay with no gap', async () => {
    const topic = `/roster/${crypto.randomUUID()}`;
    const path = `${SUBSCRIPTIONS}/exact/${enc(topic)}`;
    const first = await subscribe(b, `match=${q(topic)}`);
    const second = await subscribe(c, `match=${q(topic)}`);
    let listed = await list(a, path);
    await eventually(async () => {
      listed = await list(a, path);
      return listed.subscriptions.length === 2;
    }, 'both subscriptions listed on A');

    // Changes after the listing, on other instances: one leaves, one arrives.
    first.close();
    const third = await subscribe(b, `match=${q(topic)}`);
    const changes = await subscribe(c, WATCH, { ...bearer(await grant()), 'last-event-id': listed.cursor });
    expect(changes.headers.get('mercure-last-event-id')).toBe(listed.cursor);
    await changes.waitFor(() => about(changes, topic).length === 2, 'both changes');
    const state = new Map(listed.subscriptions.map((s) => [s.subscriber, true]));
    for (const change of about(changes, topic)) state.set(change.subscriber, change.active);
    const tracked = [...state].filter(([, active]) => active).map(([s]) => s);
    expect(tracked.sort()).toEqual(subscribers((await list(b, path)).subscriptions));
    expect(tracked).toHaveLength(2);
    for (const s of [second, third, changes]) s.close();
  });

  it('announces the subscriptions of a killed instance gone, once each, within the TTL', async () => {
    const topic = `/crash/${crypto.randomUUID()}`;
    const watchers = [
      await subscribe(a, WATCH, bearer(await grant())),
      await subscribe(b, WATCH, bearer(await grant())),
    ];
    const survivor = await subscribe(a, `match=${q(`${topic}/a`)}`);
    const doomed = [
      await subscribe(c, `match=${q(`${topic}/c1`)}&match=${q(`${topic}/c2`)}`),
      await subscribe(c, `match=${q(`${topic}/c3`)}`),
    ];
    for (const w of watchers) await w.waitFor(() => about(w, topic).length === 4, 'four joins');
    const onC = about(watchers[0]!, topic).filter((s) => s.match !== `${topic}/a`);
    expect(onC).toHaveLength(3);
    expect(
      (await list(a, SUBSCRIPTIONS)).subscriptions.filter((s) => s.match.startsWith(topic)),
    ).toHaveLength(4);

    const victim = hubs[2]!;
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    expect(await victim.exited).toBe('SIGKILL');
    await watchers[0]!.waitFor(() => about(watchers[0]!, topic).length === 7, 'three leaves', 15_000);
    const elapsed = Date.now() - killedAt;
    console.log(
      `presence: subscriptions of the killed instance announced gone after ${elapsed} ms (TTL ${TTL} s)`,
    );
    // The TTL, plus one sweep interval (TTL/3), plus slack for a busy machine.
    expect(elapsed).toBeLessThan(TTL * 1000 + (TTL * 1000) / 3 + 1500);
    const gone = about(watchers[0]!, topic).slice(4);
    expect(gone.every((s) => !s.active)).toBe(true);
    expect(gone.map((s) => s.id).sort()).toEqual(onC.map((s) => s.id).sort());
    // Removed before announced: the API on A no longer lists them; A's own subscriber stays.
    const remaining = (await list(a, SUBSCRIPTIONS)).subscriptions.filter((s) => s.match.startsWith(topic));
    expect(remaining.map((s) => s.match)).toEqual([`${topic}/a`]);
    for (const d of doomed) await d.ended;

    // No second survivor announces them again: wait a whole TTL (every sweeper runs three times),
    // then a fresh subscription marks the end of the stream so far.
    await new Promise((r) => setTimeout(r, TTL * 1000));
    const marker = await subscribe(b, `match=${q(`${topic}/marker`)}`);
    for (const w of watchers) {
      await w.waitFor(() => about(w, topic).some((s) => s.match === `${topic}/marker`), 'the marker');
      expect(about(w, topic).map((s) => s.active)).toEqual([
        true,
        true,
        true,
        true,
        false,
        false,
        false,
        true,
      ]);
    }
    for (const s of [survivor, marker, ...watchers]) s.close();
  });
});

describe.skipIf(skipRedis)('presence when Redis restarts without its data', () => {
  let redis: RedisServer;
  let hubs: HubInstance[];
  beforeAll(async () => {
    redis = await startRedis();
    hubs = await startHubs(2, redis.url, { SSEHUB_PRESENCE_TTL: String(TTL) });
  });
  afterAll(async () => {
    await Promise.all((hubs ?? []).map((h) => h.stop()));
    await redis?.dispose();
  });

  it('re-registers every instance’s subscribers and announces them again', async () => {
    const [a, b] = hubs.map((h) => h.url) as [string, string];
    const topic = `/restart/${crypto.randomUUID()}`;
    const path = `${SUBSCRIPTIONS}/exact/${enc(topic)}`;
    const watcher = await subscribe(a, WATCH, bearer(await grant()));
    const client = await subscribe(b, `match=${q(topic)}`);
    await watcher.waitFor(() => about(watcher, topic).length === 1, 'the join');
    await redis.stop();
    for (const h of hubs) await eventually(async () => (await health(h.url)) === 503, `${h.url} unhealthy`);
    // The API cannot answer without Redis: a retryable 503, not a hang or a 500.
    const away = await fetch(`${a}${path}`, { headers: bearer(await grant()) });
    expect(away.status).toBe(503);
    await redis.start();
    for (const h of hubs)
      await eventually(async () => (await health(h.url)) === 200, `${h.url} healthy`, 20_000);
    // Redis came back empty: B registers its subscriber again and announces it to everyone.
    await watcher.waitFor(() => about(watcher, topic).length === 2, 'the subscriber announced again', 15_000);
    const [joined, again] = about(watcher, topic);
    expect(again).toEqual(joined);
    expect(subscribers((await list(a, path)).subscriptions)).toEqual([joined!.subscriber]);
    client.close();
    await watcher.waitFor(() => about(watcher, topic).length === 3, 'the leave');
    expect(about(watcher, topic)[2]).toEqual({ ...joined, active: false });
    watcher.close();
  });
});
