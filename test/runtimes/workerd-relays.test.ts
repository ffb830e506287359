/**
 * The relay tier of Workers past one object, black-box (four shards and two relays in workerd): a
 * relay holds at most `SSEHUB_RELAY_STREAMS`, a shard writes each update once per relay, presence and
 * the Subscription API span relays, and webhooks come once, from the shard that stores the event.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metric, publishOk, q, subscribe } from '../conformance/client.ts';
import type { Target } from '../conformance/target.ts';
import { bearer, detail, draft } from '../conformance/tokens.ts';
import { receives, startSharded as start, topicIn } from '../helpers/sharded.ts';
import { eventually, type SseStream } from '../helpers/sse.ts';

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

describe('workerd with 4 shards and 2 relays: the admin listings', () => {
  const ADMIN = 'relays-admin-key';
  let hub: Target;
  beforeAll(async () => {
    hub = await start({ SSEHUB_ADMIN_KEY: ADMIN });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  const admin = async (path: string) => {
    const res = await fetch(`${hub.url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status, path).toBe(200);
    return (await res.json()) as Record<string, unknown> & { next: string | null };
  };

  it('counts the subscribers every relay and shard holds, and pages through them whole', async () => {
    const [a, b] = [topicIn(1, 'listed'), topicIn(2, 'listed')];
    const streams: SseStream[] = [];
    for (const sub of ['mia', 'ned', 'oli', 'pam', 'quin']) {
      const token = bearer(await draft([detail(['subscribe'], [{ match: '*' }])], {}, { sub }));
      streams.push(await subscribe(hub.url, `match=${q(a)}&match=${q(b)}`, token));
      streams.push(await subscribe(hub.url, `match=${q(a)}`, token));
    }
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/^ssehub_object_connections\{object="relay:0"\} [1-9]/m);
    expect(metrics).toMatch(/^ssehub_object_connections\{object="relay:1"\} [1-9]/m);

    const topics = (await admin('/admin/topics?limit=1000')).topics as Array<Record<string, unknown>>;
    const count = (match: string) =>
      topics.find((t) => t.match === match && t.match_type === 'exact')?.subscribers;
    expect([count(a), count(b)]).toEqual([10, 5]);

    // A page at a time, one subscriber each: every one of them once.
    const seen: string[] = [];
    let after: string | null = '';
    while (after !== null) {
      const page = await admin(`/admin/subscribers?match=${q(a)}&match_type=exact&limit=1&after=${q(after)}`);
      seen.push(...(page.subscribers as Array<{ subscriber: string }>).map((s) => s.subscriber));
      after = page.next;
    }
    expect(seen).toHaveLength(10);
    expect(new Set(seen).size).toBe(10);
    for (const s of streams) s.close();
  });
});
