/**
 * The demo's shared notes on the Workers runtime: the Worker and its hub Durable Object in workerd
 * under `wrangler dev --local`, history in the object's storage (kept across a restart of wrangler
 * with the same `--persist-to`), so the same scenarios as on the Node hub hold.
 */
import { describe } from 'vitest';
import { CHROMIUM } from '../helpers/browser.ts';
import { available } from '../helpers/require.ts';
import { roomsEnv } from '../helpers/rooms.ts';
import { persistDir, type RuntimeHub, runtimeBinary, startWorkerdHub } from '../helpers/runtimes.ts';
import { sharedNotes } from './notes-scenarios.ts';

// A missing binary fails this file at collection, rather than leaving its tests unrun.
runtimeBinary('wrangler');

describe.skipIf(!available('Chromium', CHROMIUM))('shared notes on workerd (wrangler dev)', () => {
  sharedNotes('workerd', async () => {
    const dir = await persistDir();
    let hub: RuntimeHub = await startWorkerdHub(roomsEnv, { persistTo: dir.path });
    const port = hub.port;
    return {
      url: hub.url,
      async restart() {
        await hub.stop();
        hub = await startWorkerdHub(roomsEnv, { persistTo: dir.path, port });
      },
      async stop() {
        await hub.stop();
        await dir.remove();
      },
    };
  });
});
