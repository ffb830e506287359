import { describe, expect, it } from 'vitest';
import { brokerContract } from './contract.ts';
import { createMemoryBroker } from './memory.ts';
import { type Broker, EARLIEST } from './types.ts';

brokerContract('memory', { create: ({ retention }) => createMemoryBroker({ retention }) });

describe('memory broker', () => {
  it('leaves hub events out of pages for a reader that skips them, and only them, within its bounds', async () => {
    const broker = createMemoryBroker({
      retention: {
        updates: { maxCount: 100, maxBytes: Number.POSITIVE_INFINITY },
        lanes: [{ name: 'presence', prefix: '/p/', maxCount: 3, maxBytes: Number.POSITIVE_INFINITY }],
      },
    });
    const publish = (b: Broker, topic: string) => b.publish({ topics: [topic], data: topic, private: false });
    const hub = (topic: string) =>
      broker.publish({ topics: [topic], data: topic, private: true, type: 'mercure' });
    const a = await publish(broker, '/a');
    const e1 = await hub('/p/e1');
    const p1 = await publish(broker, '/p/1'); // a publisher's update in the lane: never skipped
    const e2 = await hub('/p/e2');
    const b = await publish(broker, '/b');
    expect((await broker.history(a.id)).updates).toEqual([e1, p1, e2, b]);
    expect((await broker.history(a.id, Number.POSITIVE_INFINITY, true)).updates).toEqual([p1, b]);
    // Skipped ones do not count toward the limit; pages still join up.
    expect(await broker.history(a.id, 1, true)).toMatchObject({ updates: [p1], more: true });
    expect(await broker.historyAfter(p1.pos, 1, true)).toMatchObject({ updates: [b], more: false });
    expect(await broker.history(EARLIEST, 2, true)).toMatchObject({ updates: [a, p1], more: true });
    // Past the lane's bound of 3, the oldest goes whichever it is: e1, then p1, then e2.
    const e3 = await hub('/p/e3');
    const e4 = await hub('/p/e4');
    expect((await broker.history(EARLIEST)).updates).toEqual([a, e2, b, e3, e4]);
    expect((await broker.history(EARLIEST, Number.POSITIVE_INFINITY, true)).updates).toEqual([a, b]);
    expect((await broker.history(a.id, Number.POSITIVE_INFINITY, true)).lost).toEqual(['presence']);
    const p2 = await publish(broker, '/p/2');
    expect((await broker.history(EARLIEST, Number.POSITIVE_INFINITY, true)).updates).toEqual([a, b, p2]);
    expect((await broker.history(b.id, Number.POSITIVE_INFINITY, false)).updates).toEqual([e3, e4, p2]);
  });

  it('keeps skipping right across many evictions (the queues compact as they go)', async () => {
    const broker = createMemoryBroker({ historySize: 10 });
    const published = [];
    for (let i = 0; i < 5000; i++) {
      const input = { topics: [`/t/${i}`], data: String(i), private: false };
      published.push(await broker.publish(i % 3 === 0 ? input : { ...input, type: 'mercure' }));
    }
    const kept = published.slice(-10);
    expect((await broker.history(EARLIEST)).updates).toEqual(kept);
    expect((await broker.history(EARLIEST, Number.POSITIVE_INFINITY, true)).updates).toEqual(
      kept.filter((u) => u.type !== 'mercure'),
    );
  });
});
