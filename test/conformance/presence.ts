/** MERCURE.md — Active subscriptions: subscription events and the Subscription API (presence). */
import { createConnection, type Socket } from 'node:net';
import type { EventSourceMessage } from 'eventsource-parser';
import { expect, it } from 'vitest';
import { eventually, type SseStream } from '../helpers/sse.ts';
import { HUB, publishOk, q, subscribe, uniqueTopic } from './client.ts';
import type { Capabilities, Target } from './target.ts';
import { bearer, detail, draft } from './tokens.ts';

const SUBSCRIPTIONS = `${HUB}/subscriptions`;
/** A grant on every subscription topic (the hub namespace is relative to the hub URL). */
const presenceGrant = () =>
  draft([detail(['subscribe'], [{ match: `${SUBSCRIPTIONS}{/*}?`, match_type: 'urlpattern' }])]);
const enc = encodeURIComponent;

type SubscriptionEvent = {
  id: string;
  type: string;
  match_type: string;
  match: string;
  subscriber: string;
  active: boolean;
  payload?: unknown;
};

/** The subscription events about `match` seen by `stream`. */
const about = (stream: SseStream, match: string): SubscriptionEvent[] =>
  stream.events
    .filter((e: EventSourceMessage) => e.event === 'mercure')
    .map((e) => JSON.parse(e.data) as SubscriptionEvent)
    .filter((s) => s.match === match);

/** A subscriber that vanishes without a goodbye: a raw socket we destroy. */
function rawSubscriber(base: string, query: string, headers: Record<string, string> = {}): Promise<Socket> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: hostname, port: Number(port) }, () => {
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(`GET ${HUB}?${query} HTTP/1.1\r\nHost: ${hostname}\r\n${extra}\r\n`);
    });
    socket.once('data', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function api(base: string, path: string, token?: string) {
  const res = await fetch(`${base}${path}`, { headers: token ? bearer(token) : {} });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

export function presenceTests(target: () => Target, caps: Pick<Capabilities, 'compositeIds'> = {}) {
  const url = () => target().url;

  it('announces a subscription as a private mercure event, and its end within seconds of a TCP close', async () => {
    const topic = uniqueTopic('presence');
    const watcher = await subscribe(
      url(),
      `match_urlpattern=${q(`${SUBSCRIPTIONS}/*`)}`,
      bearer(await presenceGrant()),
    );
    const anonymous = await subscribe(url(), 'match=*');
    const token = await draft([detail(['subscribe'], [{ match: topic }], { payload: { name: 'Ada' } })]);
    const socket = await rawSubscriber(url(), `match=${q(topic)}`, bearer(token));
    await watcher.waitFor(() => about(watcher, topic).length === 1, 'the active event');
    const [started] = about(watcher, topic);
    expect(started).toEqual({
      id: `${SUBSCRIPTIONS}/exact/${enc(topic)}/${enc(started!.subscriber)}`,
      type: 'subscription',
      match_type: 'exact',
      match: topic,
      subscriber: started!.subscriber,
      active: true,
      payload: { name: 'Ada' },
    });
    expect(started!.subscriber).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    const frame = watcher.events.find((e) => e.data.includes(started!.subscriber))!;
    expect(frame.event).toBe('mercure');
    // Hub-generated: a `urn:uuid:` IRI (memory broker) or a `#` fragment (Redis stream id).
    expect(frame.id).toMatch(/^(urn:uuid:[0-9a-f-]{36}|#\d+-\d+)$/);

    const closedAt = Date.now();
    socket.destroy();
    await watcher.waitFor(() => about(watcher, topic).length === 2, 'the inactive event', 5000);
    expect(Date.now() - closedAt).toBeLessThan(3000);
    expect(about(watcher, topic)[1]).toEqual({ ...started, active: false });

    const marker = await publishOk(url(), { topic: uniqueTopic(), data: 'marker' });
    await anonymous.waitFor(() => anonymous.events.some((e) => e.id === marker), 'the marker');
    expect(anonymous.events.some((e) => e.event === 'mercure')).toBe(false);
    watcher.close();
    anonymous.close();
  });

  it('replays to a resumed subscriber what it may read among subscription events, and only that', async () => {
    const topic = uniqueTopic('resumed');
    const churned = `${topic}/churn`;
    const grant = bearer(await presenceGrant());
    const live = await subscribe(url(), `match_urlpattern=${q(`${SUBSCRIPTIONS}/*`)}`, grant);
    const streams: SseStream[] = [live];
    try {
      const cursor = await publishOk(url(), { topic, data: 'before' });
      // Subscription events enter history: three connections come and go (their ends announced).
      for (let i = 0; i < 3; i++) {
        const churn = await subscribe(url(), `match=${q(churned)}`);
        expect(churn.status).toBe(200);
        churn.close();
      }
      await live.waitFor(() => about(live, churned).length === 6, 'six subscription events', 20_000);
      const between = await publishOk(url(), { topic, data: 'between' });
      const after = await publishOk(url(), { topic, data: 'after' });
      const resumed = await subscribe(url(), `match=${q(topic)}`, { 'last-event-id': cursor });
      streams.push(resumed);
      expect(resumed.headers.get('mercure-last-event-id')).toBe(cursor);
      expect((await resumed.waitForEvents(2)).map((e) => e.id)).toEqual([between, after]);
      // One that may read subscription events gets them in the same replay, in history's order.
      const watcher = await subscribe(
        url(),
        `match_urlpattern=${q(`${SUBSCRIPTIONS}/*`)}&match=${q(topic)}`,
        {
          ...grant,
          'last-event-id': cursor,
        },
      );
      streams.push(watcher);
      await watcher.waitFor(() => watcher.events.some((e) => e.id === after), 'the replay to the watcher');
      // The same six, in the order they were announced live.
      expect(about(watcher, churned)).toEqual(about(live, churned));
      // One stream spans the presence topics and the application's: on a sharded hub those have histories
      // of their own, merged in no particular order; on one object, history's order holds between them.
      if (!caps.compositeIds) {
        const lastChurn = watcher.events.findLastIndex(
          (e) => e.event === 'mercure' && e.data.includes(churned),
        );
        expect(watcher.events.findIndex((e) => e.id === between)).toBeGreaterThan(lastChurn);
      }
      expect(resumed.events.some((e) => e.event === 'mercure')).toBe(false);
    } finally {
      for (const stream of streams) stream.close();
    }
  });

  it('names each subscription of a connection, encoding every variable exactly once', async () => {
    const odd = `https://example.com/a b/${crypto.randomUUID()}?x=1&y=%41#frag`;
    const pattern = `/rooms-${crypto.randomUUID()}/:id`;
    const watcher = await subscribe(
      url(),
      `match_urlpattern=${q(`${SUBSCRIPTIONS}/*`)}`,
      bearer(await presenceGrant()),
    );
    const client = await subscribe(url(), `match=${q(odd)}&match_urlpattern=${q(pattern)}`);
    await watcher.waitFor(
      () => about(watcher, odd).length + about(watcher, pattern).length === 2,
      'two events',
    );
    const [exact] = about(watcher, odd);
    const [urlpattern] = about(watcher, pattern);
    expect(exact!.subscriber).toBe(urlpattern!.subscriber);
    expect(exact!.id).toBe(`${SUBSCRIPTIONS}/exact/${enc(odd)}/${enc(exact!.subscriber)}`);
    expect(urlpattern!.id).toBe(`${SUBSCRIPTIONS}/urlpattern/${enc(pattern)}/${enc(exact!.subscriber)}`);
    expect(urlpattern!.match_type).toBe('urlpattern');
    // The id is also the Subscription API path of the subscription.
    const one = await api(url(), exact!.id, await presenceGrant());
    expect(one.status).toBe(200);
    expect(one.json()).toEqual(exact);
    client.close();
    await watcher.waitFor(() => about(watcher, odd).length === 2, 'the end');
    expect((await api(url(), exact!.id, await presenceGrant())).status).toBe(404);
    watcher.close();
  });

  it('lists active subscriptions, with a cursor to subscribe from without missing a change', async () => {
    const topic = uniqueTopic('api');
    const token = await presenceGrant();
    const first = await subscribe(url(), `match=${q(topic)}`);
    const second = await subscribe(url(), `match=${q(topic)}`);
    let listed = await api(url(), `${SUBSCRIPTIONS}/exact/${enc(topic)}`, token);
    // The registry is only visible through the API: poll it, with a deadline.
    await eventually(async () => {
      listed = await api(url(), `${SUBSCRIPTIONS}/exact/${enc(topic)}`, token);
      return listed.json().subscriptions.length === 2;
    }, 'both subscriptions listed');
    expect(listed.status).toBe(200);
    expect(listed.headers.get('content-type')).toMatch(/^application\/json/);
    const body = listed.json();
    expect(body.subscriptions.map((s: SubscriptionEvent) => s.active)).toEqual([true, true]);
    const link = listed.headers.get('link')!;
    const cursor = /^<([^>]+)>; rel="mercure"; last-event-id="([^"]*)"$/.exec(link);
    expect(cursor?.[1]).toMatch(new RegExp(`${HUB}$`));
    expect(body.last_event_id).toBe(cursor![2]);
    const all = await api(url(), SUBSCRIPTIONS, token);
    const mine = all.json().subscriptions.filter((s: SubscriptionEvent) => s.match === topic);
    expect(mine).toEqual(body.subscriptions);

    // Changes after the listing: one leaves, one arrives. Subscribing from the cursor shows both.
    first.close();
    const third = await subscribe(url(), `match=${q(topic)}`);
    const changes = await subscribe(url(), `match_urlpattern=${q(`${SUBSCRIPTIONS}/*`)}`, {
      ...bearer(token),
      'last-event-id': cursor![2]!,
    });
    await changes.waitFor(() => about(changes, topic).length === 2, 'both changes');
    const state = new Map(body.subscriptions.map((s: SubscriptionEvent) => [s.subscriber, s.active]));
    for (const change of about(changes, topic)) state.set(change.subscriber, change.active);
    expect([...state.values()].filter(Boolean)).toHaveLength(2);
    const now = await api(url(), `${SUBSCRIPTIONS}/exact/${enc(topic)}`, token);
    const activeNow = now
      .json()
      .subscriptions.map((s: SubscriptionEvent) => s.subscriber)
      .sort();
    expect(
      [...state]
        .filter(([, active]) => active)
        .map(([s]) => s)
        .sort(),
    ).toEqual(activeNow);
    for (const s of [second, third, changes]) s.close();
  });

  it('authorizes the Subscription API like a subscription to its topic (401, 403, 404)', async () => {
    expect((await api(url(), SUBSCRIPTIONS)).status).toBe(401);
    const elsewhere = await draft([detail(['subscribe'], [{ match: '/somewhere' }])]);
    const forbidden = await api(url(), SUBSCRIPTIONS, elsewhere);
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    // A grant on one subscription collection opens that collection only.
    const topic = uniqueTopic();
    const narrow = await draft([detail(['subscribe'], [{ match: `${SUBSCRIPTIONS}/exact/${enc(topic)}` }])]);
    expect((await api(url(), `${SUBSCRIPTIONS}/exact/${enc(topic)}`, narrow)).status).toBe(200);
    expect((await api(url(), SUBSCRIPTIONS, narrow)).status).toBe(403);
    const token = await presenceGrant();
    expect(
      (await api(url(), `${SUBSCRIPTIONS}/exact/${enc(topic)}/${enc('urn:uuid:nobody')}`, token)).status,
    ).toBe(404);
    expect((await api(url(), `${SUBSCRIPTIONS}/exact`, token)).status).toBe(404);
    expect((await api(url(), `${SUBSCRIPTIONS}/a/b/c/d`, token)).status).toBe(404);
    expect((await api(url(), `${SUBSCRIPTIONS}/exact/%E0%A4%A/x`, token)).status).toBe(404);
  });
}
