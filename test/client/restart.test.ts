/**
 * The client across a hub restart when history outlives the process (Redis broker): it reconnects to
 * the restarted hub on the same port and resumes from Last-Event-ID with no loss, no duplicate and
 * no gap — including what another instance accepted while this one was down.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publish, subscribe } from '../../src/client/index.ts';
import { fixtureEnv, publisherToken, subscriberToken } from '../conformance/target.ts';
import { freePort, hubEnv, startNodeHub, startProcess } from '../helpers/hub.ts';
import { record } from '../helpers/recorder.ts';
import { type RedisServer, skipRedis, startRedis } from '../helpers/redis.ts';

const HUB = '/.well-known/mercure';

describe.skipIf(skipRedis)('client across a hub restart (Redis broker)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.dispose();
  });

  it('resumes on the restarted hub with nothing lost and nothing twice', async () => {
    const env = { ...fixtureEnv, SSEHUB_REDIS_URL: redis.url };
    const port = await freePort();
    const start = () =>
      startProcess('node', ['--import', 'tsx', 'src/runtimes/cli.ts'], {
        env: hubEnv({ ...env, PORT: String(port), HOST: '127.0.0.1' }),
        ready: /listening on/,
      });
    const url = `http://127.0.0.1:${port}`;
    const [first, other, pubToken, subToken] = await Promise.all([
      start(),
      startNodeHub(env),
      publisherToken(),
      subscriberToken(),
    ]);
    let restarted: Awaited<ReturnType<typeof start>> | undefined;
    // A low backoff ceiling: the restart's length depends on the machine, not what this test checks.
    const subscription = subscribe(url + HUB, {
      match: `/restart/${crypto.randomUUID()}`,
      token: subToken,
      reconnect: { maxDelay: 1000 },
    });
    const topic = new URL(subscription.url).searchParams.get('match')!;
    const send = (base: string, data: string) =>
      publish(base + HUB, { topics: topic, data }, { token: pubToken });
    try {
      const rec = record(subscription);
      await rec.until((r) => r.opens.length === 1, 'open');
      const before = await send(url, 'before');
      await rec.until((r) => r.messages.length === 1, 'the first event');

      await first.stop();
      const exitedAt = Date.now();
      // While this hub is down, another instance on the same Redis keeps accepting updates.
      const during = [await send(other.url, 'during 1'), await send(other.url, 'during 2')];
      restarted = await start();
      await rec.until((r) => r.opens.some((o) => o.at > exitedAt), 'reconnected to the restarted hub');
      const after = await send(url, 'after');
      await rec.until((r) => r.messages.length >= 4, 'four events');

      expect(rec.ids()).toEqual([before, ...during, after]);
      expect(rec.messages.map((m) => m.data)).toEqual(['before', 'during 1', 'during 2', 'after']);
      expect(rec.opens.at(-1)).toMatchObject({ lastEventId: before, replayFrom: before, reconnected: true });
      expect(rec.gaps).toEqual([]);
    } finally {
      subscription.close();
      await Promise.all([first.stop(), other.stop(), restarted?.stop()]);
    }
    // Three hub processes start on a two-core machine, next to the other suites.
  }, 60_000);
});
