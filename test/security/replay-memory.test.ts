/**
 * A replay holds at most one page of history and its backlog bound per subscriber, however long the
 * history and however slowly the subscriber reads: measured as the hub process's resident memory,
 * per paused replay, on the runtimes whose process we can see (workerd runs the same code).
 */
import { execFileSync } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUB, publishOk, q } from '../conformance/client.ts';
import { fixtureEnv } from '../conformance/target.ts';
import { type RuntimeHub, runtimes } from '../helpers/runtimes.ts';

/** Resident memory of a process, in bytes (Linux `ps`). */
const rss = (pid: number) => Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)]).toString()) * 1024;

/** A subscriber that asks for the whole history and then never reads. */
function pausedReplay(url: string, topic: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: hostname, port: Number(port) }, () => {
      socket.write(
        `GET ${HUB}?match=${q(topic)} HTTP/1.1\r\nHost: ${hostname}\r\nLast-Event-ID: earliest\r\n\r\n`,
      );
      socket.once('data', () => {
        socket.pause();
        resolve(socket);
      });
    });
    socket.on('error', reject);
  });
}

const settle = () => new Promise((r) => setTimeout(r, 1500));

for (const runtime of ['node', 'bun', 'deno'] as const) {
  describe(`replay memory: ${runtime}`, () => {
    let hub: RuntimeHub;
    beforeAll(async () => {
      hub = await runtimes[runtime]!({ ...fixtureEnv, SSEHUB_HISTORY_SIZE: '1000' });
    });
    afterAll(() => hub?.stop());

    it('costs a paused subscriber a bounded amount, not a copy of the history', async () => {
      const topic = `/replay-memory/${crypto.randomUUID()}`;
      // 20 MB of history, 300 times the backlog bound of the fixture (64 KiB).
      const payload = 'm'.repeat(200_000);
      for (let i = 0; i < 100; i++) await publishOk(hub.url, { topic, data: `${i}:${payload}` });
      const sockets = [await pausedReplay(hub.url, topic), await pausedReplay(hub.url, topic)];
      await settle();
      const before = rss(hub.child.pid!);
      for (let i = 0; i < 8; i++) sockets.push(await pausedReplay(hub.url, topic));
      await settle();
      const perSubscriber = (rss(hub.child.pid!) - before) / 8;
      for (const socket of sockets) socket.destroy();
      // A copy of the history would be 20 MB each.
      expect(perSubscriber).toBeLessThan(4 * 1024 * 1024);
    });
  });
}
