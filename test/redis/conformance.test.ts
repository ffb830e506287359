/**
 * The conformance suite's presence tests (subscription events and the Subscription API) against a
 * Node hub on Redis, where the shared Redis registry answers instead of the in-memory one.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { presenceTests } from '../conformance/presence.ts';
import type { Target } from '../conformance/target.ts';
import { startHubs } from '../helpers/cluster.ts';
import { type RedisServer, skipRedis, startRedis } from '../helpers/redis.ts';

describe.skipIf(skipRedis)('conformance on Redis: active subscriptions', () => {
  let redis: RedisServer;
  let target: Target | undefined;
  beforeAll(async () => {
    redis = await startRedis();
    const [hub] = await startHubs(1, redis.url);
    target = {
      url: hub!.url,
      stop: async () => {
        await hub!.stop();
        return hub!.exited;
      },
    };
  });
  afterAll(async () => {
    await target?.stop();
    await redis?.dispose();
  });
  presenceTests(() => {
    if (!target) throw new Error('the hub did not start');
    return target;
  });
});
