import { afterAll, beforeAll, describe } from 'vitest';
import { type RedisServer, skipRedis, startRedis } from '../../../test/helpers/redis.ts';
import { brokerContract } from '../contract.ts';
import type { Retention } from '../index.ts';
import { createRedisBroker } from './broker.ts';

describe.skipIf(skipRedis)('redis broker', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(() => server?.dispose());

  const keyOf = new WeakMap<object, { key: string; retention: Retention }>();
  let n = 0;
  brokerContract('redis', {
    async create({ retention }) {
      // A fresh key prefix per broker is a fresh, empty backend.
      const key = `contract-${process.pid}-${n++}`;
      const broker = await createRedisBroker({ url: server.url, key, retention, log: () => {} });
      keyOf.set(broker, { key, retention });
      return broker;
    },
    peer(broker) {
      const { key, retention } = keyOf.get(broker)!;
      return createRedisBroker({ url: server.url, key, retention, log: () => {} });
    },
    async reopen(broker) {
      const { key, retention } = keyOf.get(broker)!;
      const again = await createRedisBroker({ url: server.url, key, retention, log: () => {} });
      keyOf.set(again, { key, retention });
      return again;
    },
  });
});
