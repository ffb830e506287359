/** MERCURE.md — too many connections (total, per client) → 429. */
import { expect, it } from 'vitest';
import { eventually } from '../helpers/sse.ts';
import { metric, subscribe } from './client.ts';
import type { Capabilities, Start } from './target.ts';
import { bearer, detail, draft } from './tokens.ts';

export function limitsTests(start: Start, caps: Capabilities) {
  it('answers 429 past the per-client and total connection limits, and frees slots on close', async () => {
    const hub = await start({ SSEHUB_MAX_CONNECTIONS: '5', SSEHUB_MAX_CONNECTIONS_PER_CLIENT: '2' });
    try {
      const as = async (sub: string) =>
        bearer(await draft([detail(['subscribe'], [{ match: '*' }])], {}, { sub }));
      const open = async (headers: Record<string, string> = {}) => subscribe(hub.url, 'match=%2Fa', headers);
      const alice = await as('alice');
      const streams = [await open(alice), await open(alice)];
      const third = await open(alice);
      expect(third.status).toBe(429);
      expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
      // Anonymous clients count by address: this test process is one client.
      streams.push(await open(), await open());
      expect((await open()).status).toBe(429);
      streams.push(await open(await as('bob')));
      expect(streams.map((s) => s.status)).toEqual([200, 200, 200, 200, 200]);
      // Five open: the total is reached, whoever asks (where one object holds every stream).
      if (!caps.connectionLimitPerObject) expect((await open(await as('carol'))).status).toBe(429);
      streams.shift()!.close();
      await eventually(async () => (await metric(hub.url, 'ssehub_connections')) === 4, 'the close seen');
      const again = await open(alice);
      expect(again.status).toBe(200);
      again.close();
      for (const s of streams) s.close();
    } finally {
      await hub.stop();
    }
  });
}
