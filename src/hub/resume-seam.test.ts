import { describe, expect, it } from 'vitest';
import { type Broker, createMemoryBroker } from '../brokers/index.ts';
import { defaults } from '../config/index.ts';
import { createHub } from './app.ts';

/** The ids and data of a stream's events, read until `until` holds. */
async function eventsUntil(response: Response, until: (data: string[]) => boolean): Promise<string[]> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  for (;;) {
    const data = [...text.matchAll(/^data: (.*)$/gm)].map((m) => m[1]!);
    if (until(data)) {
      await reader.cancel();
      return data;
    }
    const { value, done } = await reader.read();
    if (done) return data;
    text += value;
  }
}

describe('the seam of a resumed subscription', () => {
  it('never sends the update its cursor names, even when its fan-out comes after the subscriber registered', async () => {
    // The fan-out of an update runs a turn after its publish is answered (Node: setImmediate). A
    // subscriber resuming from that very update can register in between: the update then reaches it
    // live while the replay, starting after it, sends nothing.
    const fanOuts: (() => void)[] = [];
    const broker = createMemoryBroker({ historySize: 100 });
    const wrapped = Object.create(broker) as Broker;
    wrapped.history = async (...args) => {
      // The subscriber is registered now: the pending fan-out reaches it here.
      for (const flush of fanOuts.splice(0)) flush();
      return broker.history(...args);
    };
    const hub = createHub({
      broker: wrapped,
      settings: { ...defaults, allowAnonymousPublish: true },
      defer: (flush) => fanOuts.push(flush),
    });
    const cursor = await broker.publish({ topics: ['/seam'], data: 'cursor', private: false });
    expect(fanOuts).toHaveLength(1);
    const resumed = await hub.app.request('/.well-known/mercure?match=%2Fseam', {
      headers: { 'last-event-id': cursor.id },
    });
    expect(resumed.status).toBe(200);
    expect(resumed.headers.get('mercure-last-event-id')).toBe(cursor.id);
    await broker.publish({ topics: ['/seam'], data: 'next', private: false });
    for (const flush of fanOuts.splice(0)) flush();
    expect(await eventsUntil(resumed, (data) => data.includes('next'))).toEqual(['next']);
  });
});
