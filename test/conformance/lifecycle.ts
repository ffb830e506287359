/** Stream lifecycle: disconnect cleanup, slow subscribers, independent clients, graceful shutdown. */
import { type IncomingMessage, request } from 'node:http';
import { createConnection } from 'node:net';
import { EventSource } from 'eventsource';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { expect, it } from 'vitest';
import { eventually } from '../helpers/sse.ts';
import { HUB, metric, publishOk, q, subscribe, uniqueTopic } from './client.ts';
import type { Capabilities, Target } from './target.ts';

export function lifecycleTests(target: () => Target, start: () => Promise<Target>, caps: Capabilities) {
  const url = () => target().url;
  const connections = () => metric(url(), 'ssehub_connections');

  it('forgets subscribers that go away, politely or not (metrics drop back)', async () => {
    await eventually(async () => (await connections()) === 0, 'no open streams');
    const polite = await Promise.all([1, 2, 3].map(() => subscribe(url(), `match=${q(uniqueTopic())}`)));
    const { hostname, port } = new URL(url());
    const rude = await Promise.all(
      [1, 2].map(
        () =>
          new Promise<ReturnType<typeof createConnection>>((resolve) => {
            const socket = createConnection({ host: hostname, port: Number(port) }, () => {
              socket.write(`GET ${HUB}?match=%2Frude HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
              socket.once('data', () => resolve(socket));
            });
          }),
      ),
    );
    await eventually(async () => (await connections()) === 5, '5 open streams');
    expect(await metric(url(), 'ssehub_subscriptions')).toBe(5);
    for (const s of polite) s.close();
    for (const socket of rude) socket.resetAndDestroy();
    await eventually(async () => (await connections()) === 0, 'streams cleaned up');
    expect(await metric(url(), 'ssehub_subscriptions')).toBe(0);
  });

  it('answers HEAD as GET would, without opening a stream that nothing would ever close', async () => {
    await eventually(async () => (await connections()) === 0, 'no open streams');
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${url()}${HUB}?match=${q(uniqueTopic())}`, { method: 'HEAD' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      expect(await res.text()).toBe('');
    }
    expect(await connections()).toBe(0);
    expect(await metric(url(), 'ssehub_subscriptions')).toBe(0);
    // Refused as GET is: a bad token, a bad selector.
    const badToken = await fetch(`${url()}${HUB}?match=${q(uniqueTopic())}`, {
      method: 'HEAD',
      headers: { authorization: 'Bearer not.a.token' },
    });
    expect(badToken.status).toBe(401);
    const badSelector = await fetch(`${url()}${HUB}`, { method: 'HEAD' });
    expect(badSelector.status).toBe(400);
    expect(await connections()).toBe(0);
  });

  it('closes a subscriber that falls too far behind; it resumes with Last-Event-ID and loses nothing', async () => {
    const topic = uniqueTopic('slow');
    const closedBefore = await metric(url(), 'ssehub_slow_subscribers_closed_total');
    const received: string[] = [];
    let woken = false;
    let done!: () => void;
    const finished = new Promise<void>((r) => {
      done = r;
    });
    // It reads the first event, then stops reading: the kernel buffers fill, then the hub's queue bound is passed.
    const response = new Promise<IncomingMessage>((resolve) => {
      const req = request(`${url()}${HUB}?match=${q(topic)}`, (res) => {
        res.on('data', (chunk: Buffer) => {
          received.push(chunk.toString());
          // Pauses once; after resume() it reads on, so it sees the end however the server closes.
          if (!woken && received.join('').includes('data: first')) res.pause();
        });
        res.on('end', done);
        res.on('error', done);
        res.on('aborted', done);
        resolve(res);
      });
      req.on('error', done);
      req.end();
    });
    const res = await response;
    const ids = [await publishOk(url(), { topic, data: 'first' })];
    await eventually(() => res.isPaused(), 'the client to read the first event');
    const payload = 'p'.repeat(100_000);
    for (let i = 0; i < 100; i++) ids.push(await publishOk(url(), { topic, data: `${i}:${payload}` }));
    await eventually(
      async () => (await metric(url(), 'ssehub_slow_subscribers_closed_total')) === closedBefore + 1,
      'the slow subscriber to be closed',
    );
    // The client wakes up and reads what had reached it, then reconnects from its last complete event.
    woken = true;
    res.resume();
    await finished;
    const first: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (e) => first.push(e) });
    parser.feed(received.join(''));
    expect(first.length).toBeGreaterThanOrEqual(1);
    expect(first.length).toBeLessThan(ids.length);
    const resumed = await subscribe(url(), `match=${q(topic)}`, { 'last-event-id': first.at(-1)!.id! });
    await resumed.waitForEvents(ids.length - first.length, 10_000);
    expect([...first, ...resumed.events].map((e) => e.id)).toEqual(ids);
    resumed.close();
  });

  it('serves the independent eventsource client', async () => {
    const topic = uniqueTopic();
    const source = new EventSource(`${url()}${HUB}?match=${q(topic)}`);
    const opened = new Promise<void>((resolve) => {
      source.onopen = () => resolve();
    });
    const message = new Promise<MessageEvent>((resolve) => {
      source.onmessage = resolve;
    });
    await opened;
    const id = await publishOk(url(), { topic, data: 'to eventsource' });
    const event = await message;
    expect(event.data).toBe('to eventsource');
    expect(event.lastEventId).toBe(id);
    source.close();
  });

  // Only registered where the runtime can show it: a test that does not apply is not a skipped test.
  if (caps.gracefulShutdown)
    it('ends streams cleanly on SIGTERM and exits 0', async () => {
      const own = await start();
      const sub = await subscribe(own.url, `match=${q(uniqueTopic())}`);
      await sub.waitFor(() => sub.retries.length > 0, 'the stream to open');
      const exit = own.stop();
      await sub.ended;
      expect(sub.endedCleanly).toBe(true);
      expect(await exit).toBe(0);
    });
}
