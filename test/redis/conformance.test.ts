/**
 * Parts of the conformance suite against a Node hub on Redis: the presence tests (subscription events
 * and the Subscription API), where the shared Redis registry answers instead of the in-memory one, and
 * the rewind tests, where history is read backwards with `XREVRANGE` and live updates come from the
 * instance's `XREAD` loop.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { presenceTests } from '../conformance/presence.ts';
import { rewindTests } from '../conformance/rewind.ts';
import type { Target } from '../conformance/target.ts';
import { startHubs } from '../helpers/cluster.ts';
import { type RedisServer, skipRedis, startRedis } from '../helpers/redis.ts';

describe.skipIf(skipRedis)('conformance on Redis', () => {
  let redis: RedisServer;
  let target: Target | undefined;
  const start = async (overrides: Record<string, string> = {}): Promise<Target> => {
    const [hub] = await startHubs(1, redis.url, overrides);
    return {
      url: hub!.url,
      stop: async () => {
        await hub!.stop();
        return hub!.exited;
      },
    };
  };
  const current = () => {
    if (!target) throw new Error('the hub did not start');
    return target;
  };
  beforeAll(async () => {
    redis = await startRedis();
    target = await start();
  });
  afterAll(async () => {
    await target?.stop();
    await redis?.dispose();
  });
  describe('active subscriptions', () => presenceTests(current));
  describe('rewind (extension)', () => rewindTests(current, start));
});
