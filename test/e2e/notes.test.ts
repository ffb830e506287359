/**
 * The demo's shared notes (Yjs over the room) in Chromium on the Node hub, its history in Redis so
 * that a restart of the hub keeps the document; `notes-workerd.test.ts` runs the same on workerd.
 */
import { describe } from 'vitest';
import { CHROMIUM } from '../helpers/browser.ts';
import { type RedisServer, skipRedis, startRedis } from '../helpers/redis.ts';
import { available } from '../helpers/require.ts';
import { startRoomsHub } from '../helpers/rooms.ts';
import { sharedNotes } from './notes-scenarios.ts';

describe.skipIf(!available('Chromium', CHROMIUM) || skipRedis)('shared notes on the Node hub (Redis)', () => {
  sharedNotes('node', async () => {
    const redis: RedisServer = await startRedis();
    const hub = await startRoomsHub({
      SSEHUB_REDIS_URL: redis.url,
      SSEHUB_REDIS_KEY: `notes-${crypto.randomUUID()}`,
    });
    return {
      url: hub.url,
      async restart() {
        await hub.stop();
        await hub.start();
      },
      async stop() {
        await hub.stop();
        await redis.dispose();
      },
    };
  });
});
