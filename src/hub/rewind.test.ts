import { describe, expect, it } from 'vitest';
import { type Broker, createMemoryBroker } from '../brokers/index.ts';
import { defaults } from '../config/index.ts';
import { createHub } from './app.ts';
import { REWIND_MIN_SCAN, rewindScanBound } from './rewind.ts';

/** A memory broker that counts what backward reads return. */
function countingBroker(): Broker & { read: number; calls: number } {
  const broker = createMemoryBroker({ historySize: 10_000 });
  const counted = Object.assign(Object.create(broker) as Broker, { read: 0, calls: 0 });
  counted.historyBefore = async (pos, limit) => {
    const page = await broker.historyBefore(pos, limit);
    counted.calls++;
    counted.read += page.updates.length;
    return page;
  };
  return counted;
}

/** The ids of a stream's events, read until `until` holds. */
async function idsUntil(response: Response, until: (ids: string[]) => boolean): Promise<string[]> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  for (;;) {
    const ids = [...text.matchAll(/^id: (.*)$/gm)].map((m) => m[1]!);
    if (until(ids)) {
      await reader.cancel();
      return ids;
    }
    const { value, done } = await reader.read();
    if (done) return ids;
    text += value;
  }
}

describe('rewind', () => {
  it('reads at most max(10 N, 1000) updates, however rare the topic', async () => {
    expect(rewindScanBound(1)).toBe(REWIND_MIN_SCAN);
    expect(rewindScanBound(500)).toBe(5000);
    const broker = countingBroker();
    const hub = createHub({ broker, settings: { ...defaults, allowAnonymousPublish: true } });
    // The only older update of /rare: 3000 updates back.
    await broker.publish({ topics: ['/rare'], data: 'old', private: false });
    for (let i = 0; i < 3000; i++) await broker.publish({ topics: ['/busy'], data: `${i}`, private: false });

    // Beyond the bound: not found, and no more read than the bound.
    const far = await hub.app.request('/.well-known/mercure?match=%2Frare&rewind=1');
    expect(far.status).toBe(200);
    // Published at once: during the rewind or after it, the seam sends it once, after the rewind.
    const live = await broker.publish({ topics: ['/rare'], data: 'live', private: false });
    expect(await idsUntil(far, (got) => got.length > 0)).toEqual([live.id]);
    expect(broker.read).toBe(REWIND_MIN_SCAN);
    expect(broker.calls).toBeLessThanOrEqual(6);

    // Within it: found, and the reading stops there.
    for (let i = 0; i < 500; i++) await broker.publish({ topics: ['/busy'], data: `${i}`, private: false });
    broker.read = 0;
    const near = await hub.app.request('/.well-known/mercure?match=%2Frare&rewind=1');
    const marker = await broker.publish({ topics: ['/rare'], data: 'marker', private: false });
    expect(await idsUntil(near, (got) => got.length > 1)).toEqual([live.id, marker.id]);
    expect(broker.read).toBeLessThan(REWIND_MIN_SCAN);
    await hub.shutdown();
  });
});
