import { describe, expect, it, vi } from 'vitest';
import { Heartbeat } from './heartbeat.ts';
import { type CloseReason, EventStream, eventStreamOf, type StreamSink } from './stream.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (chunks: Uint8Array[]) => chunks.map((c) => new TextDecoder().decode(c)).join('');

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

function memorySink(): StreamSink & {
  chunks: Uint8Array[];
  backlog: number;
  ended: boolean;
  aborted: boolean;
} {
  return {
    chunks: [],
    backlog: 0,
    ended: false,
    aborted: false,
    write(chunk) {
      this.chunks.push(chunk);
      this.backlog += chunk.byteLength;
    },
    get buffered() {
      return this.backlog;
    },
    end() {
      this.ended = true;
    },
    abort() {
      this.aborted = true;
    },
  };
}

describe('EventStream', () => {
  it('starts with the retry hint and delivers frames in order through the ReadableStream', async () => {
    const stream = new EventStream({ retry: 1500 });
    stream.send({ id: '1', data: 'a' });
    stream.comment('note');
    stream.write(bytes('id: 2\ndata: b\n\n'));
    stream.close();
    expect(await readAll(stream.readable)).toBe(
      'retry: 1500\n\nid: 1\ndata: a\n\n: note\nid: 2\ndata: b\n\n',
    );
  });

  it('builds an event-stream response and can be found from its body', () => {
    const stream = new EventStream();
    const response = stream.response({ headers: { 'x-extra': '1' } });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    expect(response.headers.get('x-extra')).toBe('1');
    expect(response.headers.has('transfer-encoding')).toBe(false);
    expect(eventStreamOf(response)).toBe(stream);
    expect(eventStreamOf(new Response(response.body, { headers: response.headers }))).toBe(stream);
    // Found only where the response says it is an event stream: other bodies are never touched.
    expect(eventStreamOf(new Response(response.body))).toBeUndefined();
    expect(eventStreamOf(new Response('x'))).toBeUndefined();
  });

  it('closes a subscriber whose backlog passes the bound, as slow', async () => {
    const reasons: CloseReason[] = [];
    const stream = new EventStream({ maxQueueBytes: 1024, onClose: (r) => reasons.push(r) });
    const reader = stream.readable.getReader();
    const first = reader.read(); // attaches the stream's controller as the sink
    expect(stream.write(bytes('x'.repeat(600)))).toBe(true);
    await first;
    expect(stream.write(bytes('y'.repeat(600)))).toBe(true);
    expect(stream.write(bytes('z'.repeat(600)))).toBe(false);
    expect(reasons).toEqual(['slow']);
    expect(stream.closed).toBe(true);
    // The backlog is dropped and the stream ends cleanly (an error would be logged by Bun, Deno and
    // workerd as uncaught); the client reconnects with Last-Event-ID.
    expect(await reader.read()).toEqual({ done: true, value: undefined });
    expect(stream.write(bytes('after'))).toBe(false);
  });

  it('lets a writer wait for the backlog to drain instead of queueing everything', async () => {
    const stream = new EventStream({ maxQueueBytes: 1024 });
    const reader = stream.readable.getReader();
    expect(stream.write(bytes('a'.repeat(800)))).toBe(true);
    let drained = false;
    const waiting = stream.drained(100).then(() => {
      drained = true;
    });
    await Promise.resolve();
    expect(drained).toBe(false);
    // The consumer takes the backlog: the writer may go on, and the bound was never passed.
    expect((await reader.read()).value).toHaveLength(800);
    await waiting;
    expect(stream.buffered).toBe(0);
    expect(stream.write(bytes('b'.repeat(800)))).toBe(true);
    expect(stream.closed).toBe(false);
    // A stream that ends releases its waiters too.
    const never = stream.drained(0);
    stream.abort();
    await never;
  });

  it('reports a client that cancels, once, and ignores writes afterwards', async () => {
    const onClose = vi.fn();
    const stream = new EventStream({ onClose });
    await stream.readable.cancel();
    expect(onClose).toHaveBeenCalledWith('client');
    expect(stream.write(bytes('x'))).toBe(false);
    expect(() => stream.send({ data: 'x' })).not.toThrow();
    stream.close();
    stream.abort();
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  it('ends when the request signal aborts', () => {
    const onClose = vi.fn();
    const controller = new AbortController();
    const stream = new EventStream({ signal: controller.signal, onClose });
    controller.abort();
    expect(onClose).toHaveBeenCalledWith('client');
    expect(stream.closed).toBe(true);
    const already = new EventStream({ signal: AbortSignal.abort(), onClose });
    expect(already.closed).toBe(true);
  });

  it('flushes pending frames to an attached sink and applies the bound to its backlog', () => {
    const onClose = vi.fn();
    const stream = new EventStream({ retry: 10, maxQueueBytes: 100, onClose });
    stream.send({ data: 'early' });
    const sink = memorySink();
    stream.attach(sink);
    expect(text(sink.chunks)).toBe('retry: 10\n\ndata: early\n\n');
    expect(() => stream.attach(memorySink())).toThrow();
    sink.backlog = 0; // the network took it
    stream.send({ data: 'x'.repeat(50) });
    expect(onClose).not.toHaveBeenCalled();
    stream.send({ data: 'y'.repeat(50) });
    expect(onClose).toHaveBeenCalledWith('slow');
    expect(sink.aborted).toBe(true);
  });

  it('ends an attached sink gracefully on close', () => {
    const stream = new EventStream();
    const sink = memorySink();
    stream.attach(sink);
    stream.close();
    expect(sink.ended).toBe(true);
    expect(sink.aborted).toBe(false);
  });

  it('aborts a sink attached after the client has already gone', () => {
    const stream = new EventStream({ signal: AbortSignal.abort() });
    const sink = memorySink();
    stream.attach(sink);
    expect(sink.aborted).toBe(true);
    expect(sink.chunks).toEqual([]);
  });
});

describe('Heartbeat', () => {
  it('writes a comment only to streams idle since the last tick, and runs only while streams exist', () => {
    vi.useFakeTimers();
    try {
      const heartbeat = new Heartbeat(1000);
      const busy = new EventStream({ heartbeat });
      const idle = new EventStream({ heartbeat });
      const busySink = memorySink();
      const idleSink = memorySink();
      busy.attach(busySink);
      idle.attach(idleSink);
      expect(heartbeat.size).toBe(2);
      vi.advanceTimersByTime(1000); // both were just opened: nothing yet
      busy.send({ data: 'work' });
      vi.advanceTimersByTime(1000);
      expect(text(busySink.chunks)).toBe('data: work\n\n');
      expect(text(idleSink.chunks)).toBe(':\n');
      vi.advanceTimersByTime(1000);
      expect(text(busySink.chunks)).toBe('data: work\n\n:\n');
      expect(text(idleSink.chunks)).toBe(':\n:\n');
      busy.close();
      idle.close();
      expect(heartbeat.size).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps a large crowd alive a batch at a time, each stream once per tick', () => {
    vi.useFakeTimers();
    try {
      const heartbeat = new Heartbeat(1000);
      const streams = Array.from({ length: 2500 }, () => {
        const sink = memorySink();
        const stream = new EventStream({ heartbeat });
        stream.attach(sink);
        return { stream, sink };
      });
      const beats = () => streams.reduce((n, s) => n + s.sink.chunks.length, 0);
      // The first tick finds them all just opened (three batches, nothing written).
      for (let step = 0; step < 3; step++) vi.advanceTimersToNextTimer();
      expect(beats()).toBe(0);
      // The next writes to a thousand streams, then lets other tasks run before the next thousand.
      vi.advanceTimersToNextTimer();
      expect(beats()).toBe(1000);
      const publish = vi.fn();
      setTimeout(publish, 0);
      vi.advanceTimersToNextTimer();
      expect(publish).toHaveBeenCalled();
      expect(beats()).toBe(1000);
      vi.advanceTimersToNextTimer();
      expect(beats()).toBe(2000);
      vi.advanceTimersToNextTimer();
      expect(beats()).toBe(2500);
      expect(streams.every((s) => text(s.sink.chunks) === ':\n')).toBe(true);
      // A stream closed in the middle of a tick is skipped; the others still get theirs.
      vi.advanceTimersToNextTimer();
      expect(beats()).toBe(3500);
      for (const s of streams.slice(2000)) s.stream.close();
      vi.advanceTimersToNextTimer();
      vi.advanceTimersToNextTimer();
      expect(beats()).toBe(4500);
      expect(streams.slice(0, 2000).every((s) => text(s.sink.chunks) === ':\n:\n')).toBe(true);
      expect(streams.slice(2000).every((s) => text(s.sink.chunks) === ':\n')).toBe(true);
      for (const s of streams) s.stream.close();
      expect(heartbeat.size).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
