import { afterAll, beforeAll, describe } from 'vitest';
import { type RedisServer, skipRedis, startRedis } from '../../test/helpers/redis.ts';
import { brokerContract } from './contract.ts';
import { createRedisBroker } from './redis.ts';

describe.skipIf(skipRedis)('redis broker', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(() => server?.dispose());

  const keyOf = new WeakMap<object, { key: string; historySize: number }>();
  let n = 0;
  brokerContract('redis', {
    async create({ historySize }) {
      // A fresh key prefix per broker is a fresh, empty backend.
      const key = `contract-${process.pid}-${n++}`;
      const broker = await createRedisBroker({ url: server.url, key, historySize, log: () => {} });
      keyOf.set(broker, { key, historySize });
      return broker;
    },
    peer(broker) {
      const { key, historySize } = keyOf.get(broker)!;
      return createRedisBroker({ url: server.url, key, historySize, log: () => {} });
    },
    // MAXLEN ~ drops whole stream nodes: at most stream-node-max-entries (100 by default) extra.
    historySlack: 100,
  });
});
