/**
 * Webhooks, black-box: a receiver (a test server) gets each presence event — subscriptions, topics
 * occupied and vacated, room peers joining and leaving — verifies every request with the Standard
 * Webhooks library, and gets the same event again (same `webhook-id`) after it answers 500. With two
 * instances on one Redis, each event is sent once.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { q, subscribe, uniqueTopic } from '../conformance/client.ts';
import { fixtureEnv } from '../conformance/target.ts';
import { bearer } from '../conformance/tokens.ts';
import { type HubInstance, startHubs } from '../helpers/cluster.ts';
import { startNodeHub } from '../helpers/hub.ts';
import { type RedisServer, skipRedis, startRedis } from '../helpers/redis.ts';
import { join, peerStreamUrl } from '../helpers/rooms.ts';

const SECRET = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString('base64')}`;

interface Delivery {
  id: string;
  type: string;
  data: Record<string, unknown>;
  /** What the receiver answered. */
  status: number;
}

/** A webhook endpoint: verifies each request, answers 500 to the first `failFirst` of them. */
async function receiver(failFirst = 0) {
  const verifier = new Webhook(SECRET);
  const deliveries: Delivery[] = [];
  const invalid: string[] = [];
  const waiters = new Set<() => void>();
  let count = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let event: { type: string; data: Record<string, unknown> };
      try {
        event = verifier.verify(body, req.headers as Record<string, string>) as typeof event;
      } catch (error) {
        invalid.push(String(error));
        res.writeHead(400).end();
        return;
      }
      const status = count++ < failFirst ? 500 : 204;
      deliveries.push({ id: String(req.headers['webhook-id']), type: event.type, data: event.data, status });
      res.writeHead(status).end();
      for (const w of waiters) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  /** Accepted deliveries (2xx). */
  const accepted = () => deliveries.filter((d) => d.status < 300);
  const waitFor = (predicate: () => boolean, what: string, timeoutMs = 15_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(deliveries.map((d) => d.type))}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return { url, deliveries, accepted, invalid, waitFor, close: () => new Promise((r) => server.close(r)) };
}

const webhookEnv = (url: string) => ({
  SSEHUB_WEBHOOK_URL: url,
  SSEHUB_WEBHOOK_SECRET: SECRET,
  SSEHUB_WEBHOOK_BACKOFF: '100',
});

describe('webhooks from one instance', () => {
  let hook: Awaited<ReturnType<typeof receiver>>;
  let hub: Awaited<ReturnType<typeof startNodeHub>>;
  beforeAll(async () => {
    hook = await receiver(1);
    hub = await startNodeHub({ ...fixtureEnv, ...webhookEnv(hook.url), SSEHUB_ROOMS: 'open' });
  });
  afterAll(async () => {
    await hub?.stop();
    await hook?.close();
  });

  const of = (type: string, match: string) =>
    hook.accepted().filter((d) => d.type === type && (d.data.match === match || d.data.room === match));

  it('sends subscriptions and topic occupancy, signed, and retries after a 500', async () => {
    const topic = uniqueTopic('hooks');
    const first = await subscribe(hub.url, `match=${q(topic)}`);
    await hook.waitFor(() => of('topic.occupied', topic).length === 1, 'topic.occupied');
    const second = await subscribe(hub.url, `match=${q(topic)}`);
    await hook.waitFor(() => of('subscription.active', topic).length === 2, 'two subscription.active');
    first.close();
    await hook.waitFor(() => of('subscription.inactive', topic).length === 1, 'one subscription.inactive');
    // One subscriber is left: the topic is still occupied.
    expect(of('topic.vacated', topic)).toEqual([]);
    second.close();
    await hook.waitFor(() => of('topic.vacated', topic).length === 1, 'topic.vacated');

    expect(of('topic.occupied', topic)).toHaveLength(1);
    expect(of('topic.occupied', topic)[0]!.data).toEqual({ match: topic, match_type: 'exact' });
    const active = of('subscription.active', topic)[0]!.data;
    expect(active).toMatchObject({ type: 'subscription', match: topic, match_type: 'exact' });
    expect(active.subscriber).toMatch(/^urn:uuid:/);
    expect(active).not.toHaveProperty('active');
    expect(hook.invalid).toEqual([]);
    // The first request was answered 500: the same event (same webhook-id) came again and was accepted.
    const failed = hook.deliveries[0]!;
    expect(failed.status).toBe(500);
    expect(hook.accepted().filter((d) => d.id === failed.id)).toHaveLength(1);
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/^ssehub_webhook_deliveries_total\{result="retried"\} [1-9]/m);
    expect(metrics).toMatch(/^ssehub_webhook_deliveries_total\{result="delivered"\} [1-9]/m);
  });

  it('sends room joins and leaves, once per peer', async () => {
    const room = `hooks-${crypto.randomUUID().slice(0, 8)}`;
    const { answer } = await join(hub.url, room, { name: 'Ada' });
    const query = new URL(peerStreamUrl(hub.url, answer)).search.slice(1);
    const stream = await subscribe(hub.url, query, bearer(answer.token));
    await hook.waitFor(() => of('room.joined', room).length === 1, 'room.joined');
    expect(of('room.joined', room)[0]!.data).toEqual({ room, peer: answer.peer, name: 'Ada' });
    stream.close();
    await hook.waitFor(() => of('room.left', room).length === 1, 'room.left');
    expect(of('room.left', room)[0]!.data).toMatchObject({ room, peer: answer.peer });
    expect(of('room.joined', room)).toHaveLength(1);
  });
});

describe.skipIf(skipRedis)('webhooks from two instances on Redis', () => {
  let redis: RedisServer;
  let hook: Awaited<ReturnType<typeof receiver>>;
  let hubs: HubInstance[];
  beforeAll(async () => {
    redis = await startRedis();
    hook = await receiver();
    hubs = await startHubs(2, redis.url, webhookEnv(hook.url));
  });
  afterAll(async () => {
    await Promise.all((hubs ?? []).map((h) => h.stop()));
    await hook?.close();
    await redis?.dispose();
  });

  it('sends each event once, whichever instance holds the stream', async () => {
    const topic = uniqueTopic('once');
    const onA = await subscribe(hubs[0]!.url, `match=${q(topic)}`);
    const onB = await subscribe(hubs[1]!.url, `match=${q(topic)}`);
    const count = (type: string) =>
      hook.accepted().filter((d) => d.type === type && d.data.match === topic).length;
    await hook.waitFor(() => count('subscription.active') >= 2, 'two subscription.active');
    onA.close();
    onB.close();
    await hook.waitFor(() => count('topic.vacated') >= 1, 'topic.vacated');
    // A sentinel event after them: a duplicate sent by the other instance would have arrived by then.
    const sentinel = uniqueTopic('sentinel');
    const last = await subscribe(hubs[1]!.url, `match=${q(sentinel)}`);
    await hook.waitFor(
      () => hook.accepted().some((d) => d.type === 'topic.occupied' && d.data.match === sentinel),
      'the sentinel',
    );
    last.close();
    expect(count('subscription.active')).toBe(2);
    expect(count('subscription.inactive')).toBe(2);
    expect(count('topic.occupied')).toBe(1);
    expect(count('topic.vacated')).toBe(1);
    const ids = hook.accepted().map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
