/**
 * The two-peer demo call against the Workers runtime: the Worker and its hub Durable Object in
 * workerd under `wrangler dev --local`, the page and the client served by it as by any hub.
 */
import { describe } from 'vitest';
import { CHROMIUM } from '../helpers/browser.ts';
import { available } from '../helpers/require.ts';
import { roomsEnv } from '../helpers/rooms.ts';
import { persistDir, runtimeBinary, startWorkerdHub } from '../helpers/runtimes.ts';
import { twoPeerCall } from './rooms-scenarios.ts';

// A missing binary fails this file at collection, rather than leaving its tests unrun.
runtimeBinary('wrangler');

describe.skipIf(!available('Chromium', CHROMIUM))('demo call on workerd (wrangler dev)', () => {
  twoPeerCall('workerd', async () => {
    const dir = await persistDir();
    const hub = await startWorkerdHub(roomsEnv, { persistTo: dir.path });
    return {
      url: hub.url,
      async stop() {
        await hub.stop();
        await dir.remove();
      },
    };
  });
});
