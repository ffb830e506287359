/**
 * SSEHUB_MAX_CONNECTION_AGE, black-box: a stream ends cleanly near its maximum age (at a random point
 * of its last tenth), and a client that resumes with `Last-Event-ID` misses nothing and gets nothing
 * twice while updates keep coming.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishOk, q, subscribe, uniqueTopic } from '../conformance/client.ts';
import { fixtureEnv } from '../conformance/target.ts';
import { resumingSubscriber } from '../helpers/cluster.ts';
import { startNodeHub } from '../helpers/hub.ts';

const AGE_S = 2;

describe('maximum connection age', () => {
  let hub: Awaited<ReturnType<typeof startNodeHub>>;
  beforeAll(async () => {
    hub = await startNodeHub({ ...fixtureEnv, SSEHUB_MAX_CONNECTION_AGE: String(AGE_S) });
  });
  afterAll(() => hub?.stop());

  it('ends each stream cleanly between 90% and 100% of the age', async () => {
    const streams = await Promise.all(
      [1, 2, 3, 4].map(async () => {
        const opened = Date.now();
        const stream = await subscribe(hub.url, `match=${q(uniqueTopic())}`);
        await stream.ended;
        return { stream, lived: Date.now() - opened };
      }),
    );
    for (const { stream, lived } of streams) {
      expect(stream.endedCleanly).toBe(true);
      // 100 ms of timer grain, plus a loaded machine.
      expect(lived).toBeGreaterThanOrEqual(AGE_S * 900 - 100);
      expect(lived).toBeLessThan(AGE_S * 1000 + 700);
    }
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/^ssehub_streams_closed_total\{reason="age"\} [4-9]/m);
  });

  it('lets a resuming client lose nothing across the ends', async () => {
    const topic = uniqueTopic('age');
    const sub = resumingSubscriber([hub.url], `match=${q(topic)}`, 50);
    await sub.waitFor(() => sub.connections.length === 1, 'the first connection');
    const ids: string[] = [];
    const started = Date.now();
    // Updates keep coming for a little more than two lifetimes.
    while (Date.now() - started < AGE_S * 2200) {
      ids.push(await publishOk(hub.url, { topic, data: `n${ids.length}` }));
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    const sentinel = await publishOk(hub.url, { topic, data: 'end' });
    await sub.waitFor(() => sub.events.at(-1)?.id === sentinel, 'the sentinel');
    await sub.stop();
    expect(sub.connections.length).toBeGreaterThanOrEqual(3);
    for (const connection of sub.connections.slice(1)) {
      expect(connection.status).toBe(200);
      expect(connection.reconciled).toBe(connection.sent);
    }
    expect(sub.events.map((e) => e.id)).toEqual([...ids, sentinel]);
  });
});
