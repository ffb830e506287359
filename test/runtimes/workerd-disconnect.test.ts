/**
 * With the heartbeat `wrangler.toml` ships (not the suite's 1 s), a subscriber whose TCP connection
 * drops without a goodbye is gone from the hub object's count within 10 s. Inside a Durable Object a
 * dead client only shows when a write to it fails, so this is the heartbeat setting under test.
 */
import { readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { HUB, metric } from '../conformance/client.ts';
import { fixtureEnv } from '../conformance/target.ts';
import { persistDir, type RuntimeHub, runtimeBinary, startWorkerdHub } from '../helpers/runtimes.ts';
import { eventually } from '../helpers/sse.ts';

runtimeBinary('wrangler');

let hub: RuntimeHub;
let dir: Awaited<ReturnType<typeof persistDir>>;
beforeAll(async () => {
  const { SSEHUB_HEARTBEAT: _suiteHeartbeat, ...vars } = fixtureEnv;
  dir = await persistDir();
  hub = await startWorkerdHub(vars, { persistTo: dir.path });
});
afterAll(async () => {
  await hub?.stop();
  await dir?.remove();
});

/** A subscriber on a raw socket, open once the response headers arrived. */
function rawSubscriber(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port) }, () => {
      socket.write(`GET ${HUB}?match=%2Fgone HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
      socket.once('data', () => resolve(socket));
    });
  });
}

it('forgets a vanished subscriber within 10 s with the shipped heartbeat', async () => {
  const heartbeat = Number(
    /^SSEHUB_HEARTBEAT\s*=\s*"(\d+)"/m.exec(readFileSync('wrangler.toml', 'utf8'))?.[1],
  );
  expect(heartbeat).toBeGreaterThan(1);
  const sockets = await Promise.all([rawSubscriber(hub.url), rawSubscriber(hub.url)]);
  await eventually(async () => (await metric(hub.url, 'ssehub_connections')) === 2, 'two open streams');
  for (const socket of sockets) socket.resetAndDestroy();
  await eventually(async () => (await metric(hub.url, 'ssehub_connections')) === 0, 'both gone', 10_000);
});
