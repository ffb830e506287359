/**
 * What the Redis broker does when the connection or the server goes away: it reports unhealthy,
 * fails publishes fast, reconnects by itself and resumes reading exactly where it stopped.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, skipRedis, startRedis } from '../../../test/helpers/redis.ts';
import { eventually } from '../../../test/helpers/sse.ts';
import { collect } from '../contract.ts';
import type { Broker, Update } from '../index.ts';
import { createRedisBroker, type RedisBrokerOptions } from './broker.ts';

const ids = (updates: readonly Update[]) => updates.map((u) => u.id);

describe.skipIf(skipRedis)('redis broker resilience', () => {
  let server: RedisServer;
  let admin: Redis;
  const open: Broker[] = [];
  let n = 0;
  const logs: string[] = [];
  const broker = async (key: string, extra: Partial<RedisBrokerOptions> = {}) => {
    const b = await createRedisBroker({ url: server.url, key, log: (m) => logs.push(m), ...extra });
    open.push(b);
    return b;
  };
  const freshKey = () => `resilience-${n++}`;

  beforeAll(async () => {
    server = await startRedis({ appendonly: true });
    admin = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: null });
    admin.on('error', () => {});
    await admin.connect();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((b) => b.close()));
    logs.length = 0;
    if (server.pid !== undefined) process.kill(server.pid, 'SIGCONT');
  });
  afterAll(async () => {
    admin?.disconnect();
    await server?.dispose();
  });

  /** Kills every connection of ours whose name is `name` (as a network fault would). */
  const killConnections = async (name: string) => {
    const list = (await admin.call('CLIENT', 'LIST')) as string;
    const victims = list
      .split('\n')
      .filter((line) => line.includes(` name=${name} `))
      .map((line) => /^id=(\d+)/.exec(line)![1]!);
    for (const id of victims) await admin.call('CLIENT', 'KILL', 'ID', id);
    return victims.length;
  };

  it('resumes after a dropped read connection with nothing skipped and nothing twice', async () => {
    const key = freshKey();
    const a = await broker(key);
    const b = await broker(key);
    const onB = collect(b);
    const published: Update[] = [];
    for (let i = 0; i < 300; i++) {
      if (i === 100 || i === 200) {
        // Both readers (a's and b's) are connected before each cut.
        await eventually(() => a.healthy && b.healthy, 'both readers connected');
        expect(await killConnections(`${key}:read`)).toBe(2);
      }
      published.push(await a.publish({ topics: ['/r'], data: String(i), private: false }));
    }
    expect(ids(await onB.until(300, 10_000))).toEqual(ids(published));
    const sentinel = await a.publish({ topics: ['/r'], data: 'end', private: false });
    await onB.until(301);
    expect(ids(onB.received)).toEqual(ids([...published, sentinel]));
    expect(logs.some((m) => m.startsWith('lost redis'))).toBe(true);
  });

  it('reports unhealthy while Redis is down, fails publishes fast, and recovers by itself', async () => {
    const key = freshKey();
    const a = await broker(key);
    const b = await broker(key);
    const onB = collect(b);
    const before: Update[] = [];
    for (let i = 0; i < 20; i++)
      before.push(await a.publish({ topics: ['/x'], data: `b${i}`, private: false }));
    await server.stop();
    await eventually(() => !a.healthy && !b.healthy, 'both brokers unhealthy');
    const started = Date.now();
    await expect(a.publish({ topics: ['/x'], data: 'lost', private: false })).rejects.toThrow();
    await expect(b.history('earliest')).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(500);
    await server.start();
    await eventually(() => a.healthy && b.healthy, 'both brokers healthy again', 15_000);
    const after: Update[] = [];
    for (let i = 0; i < 20; i++)
      after.push(await a.publish({ topics: ['/x'], data: `a${i}`, private: false }));
    expect(ids(await onB.until(40, 10_000))).toEqual(ids([...before, ...after]));
    // The history survived (AOF) and cursors from before the restart still resolve.
    const replay = await b.history(before[9]!.id);
    expect(replay.found).toBe(true);
    expect(ids(replay.updates)).toEqual(ids([...before.slice(10), ...after]));
  });

  it('detects a frozen server, fails publishes within the command timeout, and recovers', async () => {
    const key = freshKey();
    const options = { blockMs: 200, commandTimeoutMs: 300 };
    const a = await broker(key, options);
    const onA = collect(a);
    const first = await a.publish({ topics: ['/f'], data: 'first', private: false });
    await onA.until(1);
    process.kill(server.pid!, 'SIGSTOP');
    const started = Date.now();
    await expect(a.publish({ topics: ['/f'], data: 'maybe', private: false })).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(1500);
    await eventually(() => !a.healthy, 'unhealthy while the server is frozen');
    process.kill(server.pid!, 'SIGCONT');
    await eventually(() => a.healthy, 'healthy after the server resumes', 15_000);
    const last = await a.publish({ topics: ['/f'], data: 'last', private: false });
    await onA.waitFor(() => onA.received.some((u) => u.id === last.id));
    // The publish that failed ran on the server only after it resumed, past its deadline: it stored
    // nothing, so a publisher that retries after the error creates no duplicate.
    expect(onA.received.map((u) => u.data)).toEqual(['first', 'last']);
    expect((await a.history('earliest')).updates.map((u) => u.data)).toEqual(['first', 'last']);
    expect(ids(onA.received)).toEqual([first.id, last.id]);
  });

  it('keeps the id index no larger than the stream', async () => {
    const key = freshKey();
    const a = await broker(key, { historySize: 10 });
    for (let i = 0; i < 600; i++) {
      await a.publish({ topics: ['/i'], data: '', private: false, id: i % 7 === 0 ? 'reused' : `id-${i}` });
    }
    const streamLength = await admin.xlen(`{${key}}:stream`);
    expect(streamLength).toBe(10);
    expect(await admin.hlen(`{${key}}:ids`)).toBeLessThanOrEqual(streamLength);
    expect(await admin.llen(`{${key}}:log:updates`)).toBe(streamLength);
    await a.publish({ topics: ['/i'], data: '', private: false, id: 'reused' });
    const result = await a.history('reused');
    expect(result.found).toBe(true);
  });

  it('skips stream entries it did not write, and says so', async () => {
    const key = freshKey();
    const a = await broker(key);
    const onA = collect(a);
    await admin.xadd(`{${key}}:stream`, '*', 'foreign', 'data');
    const mine = await a.publish({ topics: ['/s'], data: 'mine', private: false });
    expect(ids(await onA.until(1))).toEqual([mine.id]);
    expect(ids((await a.history('earliest')).updates)).toEqual([mine.id]);
    expect(logs.some((m) => m.includes('not written by ssehub'))).toBe(true);
  });

  it('gives up at startup when Redis cannot be reached, without leaking the password', async () => {
    const started = Date.now();
    await expect(
      createRedisBroker({
        url: 'redis://user:s3cret@127.0.0.1:1',
        startupTimeoutMs: 500,
        log: () => {},
      }),
    ).rejects.toThrow(/cannot reach redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:1/);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
