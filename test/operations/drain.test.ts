/**
 * Draining without a stampede, black-box: 1,000 raw HTTP subscribers on instance A of two sharing a
 * Redis; SIGTERM to A with SSEHUB_DRAIN_SECONDS=4. The closes must spread over the window (measured
 * from the clients' side), each with a `retry:` of its own, `/healthz` must say `draining` (503) while
 * it lasts, A must exit 0, and every subscriber, resuming on B with `Last-Event-ID`, must end up with
 * every update published meanwhile, once and in order.
 */
import { get } from 'node:http';
import { createParser } from 'eventsource-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUB, publishOk, q, uniqueTopic } from '../conformance/client.ts';
import { type HubInstance, startHubs } from '../helpers/cluster.ts';
import { type RedisServer, skipRedis, startRedis } from '../helpers/redis.ts';

const SUBSCRIBERS = 1000;
const DRAIN_S = 4;

interface RawStream {
  readonly ids: string[];
  readonly retries: number[];
  /** Resolves when the server ends the response: when, and whether it ended cleanly. */
  readonly ended: Promise<{ at: number; clean: boolean }>;
  /** Resolves once the response headers arrived, with the status. */
  readonly opened: Promise<number>;
  /** Resolves once an event with this id arrived. */
  until(id: string): Promise<void>;
  destroy(): void;
}

/** One subscriber on a plain `node:http` connection of its own (no pooling, no EventSource). */
function rawStream(base: string, query: string, lastEventId?: string): RawStream {
  const ids: string[] = [];
  const retries: number[] = [];
  const waiters = new Map<string, () => void>();
  const parser = createParser({
    onEvent: (event) => {
      ids.push(event.id!);
      waiters.get(event.id!)?.();
    },
    onRetry: (retry) => retries.push(retry),
  });
  let opened!: (status: number) => void;
  let ended!: (value: { at: number; clean: boolean }) => void;
  const openedPromise = new Promise<number>((resolve) => {
    opened = resolve;
  });
  const endedPromise = new Promise<{ at: number; clean: boolean }>((resolve) => {
    ended = resolve;
  });
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  const request = get(`${base}${HUB}?${query}`, { agent: false, headers }, (res) => {
    opened(res.statusCode ?? 0);
    const decoder = new TextDecoder();
    res.on('data', (chunk: Buffer) => parser.feed(decoder.decode(chunk, { stream: true })));
    res.on('end', () => ended({ at: Date.now(), clean: true }));
    res.on('error', () => ended({ at: Date.now(), clean: false }));
    res.on('aborted', () => ended({ at: Date.now(), clean: false }));
  });
  request.on('error', () => {
    opened(0);
    ended({ at: Date.now(), clean: false });
  });
  const until = (id: string) =>
    ids.includes(id) ? Promise.resolve() : new Promise<void>((resolve) => waiters.set(id, resolve));
  return {
    ids,
    retries,
    ended: endedPromise,
    opened: openedPromise,
    until,
    destroy: () => request.destroy(),
  };
}

describe.skipIf(skipRedis)('draining 1,000 subscribers on SIGTERM', () => {
  let redis: RedisServer;
  let a: HubInstance;
  let b: HubInstance;
  beforeAll(async () => {
    redis = await startRedis();
    a = (await startHubs(1, redis.url, { SSEHUB_DRAIN_SECONDS: String(DRAIN_S) }))[0]!;
    b = (await startHubs(1, redis.url))[0]!;
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.dispose();
  });

  it('spreads the closes over the window, says so in /healthz, and loses nothing', async () => {
    const topic = uniqueTopic('drain');
    const query = `match=${q(topic)}`;
    const streams: RawStream[] = [];
    for (let i = 0; i < SUBSCRIBERS; i += 100) {
      const batch = Array.from({ length: 100 }, () => rawStream(a.url, query));
      expect(await Promise.all(batch.map((s) => s.opened))).toEqual(batch.map(() => 200));
      streams.push(...batch);
    }

    // Updates flow (published on B) before, during and after the drain.
    const published: string[] = [];
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        published.push(await publishOk(b.url, { topic, data: `n${published.length}` }));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Each subscriber resumes on B as soon as its stream on A ends, from the last id it got.
    const resumed: RawStream[] = streams.map(() => undefined as unknown as RawStream);
    let health: Promise<{ status: number; body: { status: string; streams: number } }> | undefined;
    const ends = streams.map((stream, i) =>
      stream.ended.then((end) => {
        if (!health) {
          health = fetch(`${a.url}/healthz`).then(async (r) => ({ status: r.status, body: await r.json() }));
          health.catch(() => {}); // Awaited below; a failure there fails the test.
        }
        resumed[i] = rawStream(b.url, query, stream.ids.at(-1));
        return end;
      }),
    );

    const sentAt = Date.now();
    const stopped = a.stop(DRAIN_S * 1000 + 10_000);
    const closes = await Promise.all(ends);
    await stopped;
    expect(await a.exited).toBe(0);
    publishing = false;
    await publisher;

    // Every stream ended cleanly, with a retry hint, evenly over the window.
    expect(closes.every((c) => c.clean)).toBe(true);
    const times = closes.map((c) => c.at - sentAt).sort((x, y) => x - y);
    const window = DRAIN_S * 1000;
    expect(times.at(-1)! - times[0]!).toBeGreaterThan(window * 0.7);
    expect(times.at(-1)!).toBeLessThan(window + 3000);
    const slices = new Array(10).fill(0);
    for (const t of times) slices[Math.min(9, Math.max(0, Math.floor((t - times[0]!) / (window / 10))))]++;
    // Evenly spread is 10% a slice; a stampede would put them all in one.
    expect(Math.max(...slices)).toBeLessThan(SUBSCRIBERS * 0.25);
    const hints = streams.map((s) => s.retries.at(-1)!);
    expect(new Set(hints).size).toBeGreaterThan(SUBSCRIBERS / 4);
    expect(Math.max(...hints) - Math.min(...hints)).toBeGreaterThan(1000);

    const healthz = await health!;
    expect(healthz.status).toBe(503);
    expect(healthz.body.status).toBe('draining');
    expect(a.output()).toMatch(/draining: \d+ of 1000 streams left/);

    // Nothing lost: every subscriber has every update, once, in order.
    expect(await Promise.all(resumed.map((s) => s.opened))).toEqual(resumed.map(() => 200));
    const sentinel = await publishOk(b.url, { topic, data: 'end' });
    const expected = [...published, sentinel];
    await Promise.all(resumed.map((s) => s.until(sentinel)));
    for (let i = 0; i < SUBSCRIBERS; i++) {
      expect([...streams[i]!.ids, ...resumed[i]!.ids]).toEqual(expected);
    }
    for (const s of resumed) s.destroy();
  }, 90_000);
});
