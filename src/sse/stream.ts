/**
 * One subscriber's event stream: a bounded queue of already-encoded SSE bytes in front of either a
 * Web `ReadableStream` (any runtime) or a direct sink a runtime adapter attaches (the Node fast path).
 * Zero dependencies: Web APIs only.
 */
import { concat } from './bytes.ts';
import { encodeComment, encodeEvent, encodeRetry, type SseEvent, utf8 } from './encode.ts';
import type { Heartbeat } from './heartbeat.ts';

/** Why a stream ended. `client`: the peer went away; `slow`: it fell behind; `server`: we closed it. */
export type CloseReason = 'client' | 'slow' | 'server' | (string & {});

/**
 * Where the bytes go. A runtime adapter may provide its own (e.g. a Node `ServerResponse`) so that
 * frames skip the `ReadableStream` machinery; the default sink is the stream's own controller.
 */
export interface StreamSink {
  /** Hands bytes to the network (or queues them). Never throws for a closed peer. */
  write(chunk: Uint8Array): void;
  /** Bytes accepted but not yet sent: the backlog that the queue bound applies to. */
  readonly buffered: number;
  /** Ends the stream after the queued bytes are sent. */
  end(): void;
  /** Drops queued bytes and closes at once. */
  abort(): void;
  /**
   * Calls `listener` once, the next time the backlog has been handed on (it may have grown again
   * since). Optional: without it, {@link EventStream.drained} checks the backlog every 100 ms.
   */
  onDrain?(listener: () => void): void;
}

export interface EventStreamOptions {
  /**
   * Backlog bound in bytes. A subscriber that falls further behind is closed; it reconnects with
   * `Last-Event-ID`, so nothing is lost. Default 1 MiB (Centrifugo's default).
   */
  maxQueueBytes?: number;
  /** Reconnection delay sent first as `retry:`, in ms. Omit to leave the client's default. */
  retry?: number;
  /** The shared heartbeat that keeps this stream alive while idle. */
  heartbeat?: Heartbeat;
  /**
   * The request this stream answers: the stream ends when its client goes away (`request.signal`),
   * and a runtime adapter that writes event streams itself may have claimed it (see
   * {@link writeStreamsDirectly}).
   */
  request?: Request;
  /** An abort signal that ends the stream, for a stream that answers no {@link Request}. */
  signal?: AbortSignal;
  /** Called exactly once when the stream ends, whoever ended it. */
  onClose?: (reason: CloseReason) => void;
}

const DIRECT = Symbol.for('ssehub.direct-streams');
/** The stream behind a direct response: a property, not a WeakMap entry the collector must visit. */
const STREAM = Symbol('ssehub.event-stream');

/**
 * Builds a direct stream's response headers from a record: the adapter's own `Headers`, which may be
 * cheaper to build, change and read than the runtime's (see {@link writeStreamsDirectly}).
 */
export type DirectHeaders = (record: Readonly<Record<string, string>>) => Headers;

/**
 * Marks `request` as one whose event streams the runtime adapter writes itself (the Node adapter, to
 * its `ServerResponse`): a stream answering it then builds no `ReadableStream` — about 2–3 KB per idle
 * connection on Node 20 — and leaves its disconnect to the adapter, which finds the stream behind the
 * response with {@link eventStreamOf}. `headers`, when given, builds the response's headers (when the
 * stream has none of its own beyond {@link eventStreamHeaders}).
 */
export function writeStreamsDirectly(request: Request, headers?: DirectHeaders): void {
  (request as unknown as Record<symbol, true | DirectHeaders>)[DIRECT] = headers ?? true;
}

/** What a runtime adapter said about the event streams of `request` (see {@link writeStreamsDirectly}). */
const writesDirectly = (request: Request | undefined): boolean | DirectHeaders =>
  (request as unknown as Record<symbol, true | DirectHeaders> | undefined)?.[DIRECT] ?? false;

const streams = new WeakMap<ReadableStream<Uint8Array>, EventStream>();
/** Encoded `retry:` hints, shared by every stream that sends the same one. */
const retryFrames = new Map<number, Uint8Array>();

/**
 * A subscriber's stream of SSE frames with a bounded backlog. Writes after close are no-ops.
 *
 * @example
 * const stream = new EventStream({ request: c.req.raw, heartbeat });
 * stream.send({ id: '1', data: 'hello' });
 * return stream.response();
 */
export class EventStream {
  #readable: ReadableStream<Uint8Array> | undefined;
  /** True when the stream opened or wrote since the last heartbeat tick (read and reset by {@link Heartbeat}). */
  active = true;
  #sink: StreamSink | undefined;
  #pending: Uint8Array[] | undefined = [];
  #pendingBytes = 0;
  #limit: number;
  #closed = false;
  // Only what is needed after construction is kept: an idle stream is multiplied by every subscriber.
  readonly #heartbeat: Heartbeat | undefined;
  readonly #onClose: ((reason: CloseReason) => void) | undefined;
  /** Written by the runtime adapter (true, or how it builds the response's headers), or not (false). */
  readonly #direct: boolean | DirectHeaders;

  constructor(options: EventStreamOptions = {}) {
    this.#heartbeat = options.heartbeat;
    this.#onClose = options.onClose;
    this.#direct = writesDirectly(options.request);
    this.#limit = options.maxQueueBytes ?? 1024 * 1024;
    if (options.retry !== undefined) this.write(retryFrame(options.retry));
    // A direct stream's adapter reports the disconnect itself: not touching `request.signal` spares
    // Node's request wrapper an AbortController per connection.
    const signal = options.signal ?? (this.#direct ? undefined : options.request?.signal);
    if (signal) {
      if (signal.aborted) this.#finish('client');
      else signal.addEventListener('abort', () => this.#finish('client'), { once: true });
    }
    if (!this.#closed) options.heartbeat?.add(this);
  }

  /** The body to hand to `new Response(...)`, built on first use; see {@link EventStream.response}. */
  get readable(): ReadableStream<Uint8Array> {
    this.#readable ??= this.#createReadable();
    return this.#readable;
  }

  #createReadable(): ReadableStream<Uint8Array> {
    let pullSink: PullSink | undefined;
    const readable = new ReadableStream<Uint8Array>(
      {
        // With a zero high-water mark, pull() runs on the consumer's first read: only then is the
        // controller attached, so a runtime adapter can attach its own sink before that. Every later
        // pull() is the consumer (the runtime writing to its socket) asking for more.
        pull: (controller) => {
          if (!this.#sink) {
            pullSink = new PullSink(controller, () => this.#finish('client'));
            this.attach(pullSink);
          }
          pullSink?.pull();
        },
        cancel: () => this.#finish('client'),
      },
      { highWaterMark: 0 },
    );
    streams.set(readable, this);
    return readable;
  }

  /** True once the stream has ended for any reason. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes waiting to be sent to this subscriber. */
  get buffered(): number {
    return this.#sink ? this.#sink.buffered : this.#pendingBytes;
  }

  /** The backlog bound, in bytes (see {@link EventStreamOptions.maxQueueBytes}). */
  get limit(): number {
    return this.#limit;
  }

  /**
   * Queues already-encoded bytes. Returns false when the stream is closed. When the backlog passes
   * the bound the subscriber is closed as too slow (reason `slow`) — except that a chunk larger than
   * the bound always goes to a subscriber with nothing queued: an update the bound cannot hold must not
   * close every subscriber it is for, again at each of their reconnects.
   */
  write(chunk: Uint8Array): boolean {
    if (this.#closed) return false;
    this.active = true;
    const sink = this.#sink;
    const before = this.buffered;
    if (sink) sink.write(chunk);
    else {
      this.#pending!.push(chunk);
      this.#pendingBytes += chunk.byteLength;
    }
    if (before > 0 && this.buffered > this.#limit) this.abort('slow');
    return !this.#closed;
  }

  /** Encodes and queues one event. Throws `SseError` for a field that cannot be encoded. */
  send(event: SseEvent): boolean {
    return this.write(utf8.encode(encodeEvent(event)));
  }

  /** Queues a comment line (never dispatches an event). */
  comment(text = ''): boolean {
    return this.write(utf8.encode(encodeComment(text)));
  }

  /**
   * Routes output to `sink` instead of the `ReadableStream` (runtime adapters call this before the
   * body is read). Bytes queued so far are flushed to it in order.
   */
  attach(sink: StreamSink): void {
    if (this.#sink) throw new Error('EventStream already has a sink');
    this.#sink = sink;
    const pending = this.#pending!;
    this.#pending = undefined;
    this.#pendingBytes = 0;
    if (this.#closed && this.#closeReason !== 'server') {
      sink.abort();
      return;
    }
    for (const chunk of pending) sink.write(chunk);
    if (this.#closed) sink.end();
    // Waiters registered before there was a sink to report drains.
    if (this.#drainWaiters) sink.onDrain?.(() => this.#wakeDrainWaiters());
  }

  /**
   * Resolves once the backlog is at most `bytes` (or the stream has ended): lets a writer with much to
   * send (a history replay) go at the pace of the subscriber instead of queueing it all.
   */
  async drained(bytes: number): Promise<void> {
    while (!this.#closed && this.buffered > bytes) {
      await new Promise<void>((resolve) => {
        this.#drainWaiters ??= [];
        this.#drainWaiters.push(resolve);
        const sink = this.#sink;
        if (sink?.onDrain) sink.onDrain(() => this.#wakeDrainWaiters());
        else if (sink) setTimeout(() => this.#wakeDrainWaiters(), 100);
      });
    }
  }

  /** Made on first use: most streams never wait for a drain, and every idle one would keep it. */
  #drainWaiters: (() => void)[] | undefined;

  #wakeDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = undefined;
    if (waiters) for (const resolve of waiters) resolve();
  }

  /** Ends the stream after what is queued has been sent. */
  close(reason: CloseReason = 'server'): void {
    if (this.#closed) return;
    this.#finish(reason);
    this.#sink?.end();
  }

  /** Ends the stream now, dropping what is queued. */
  abort(reason: CloseReason = 'server'): void {
    if (this.#closed) return;
    this.#finish(reason);
    if (this.#sink) this.#sink.abort();
    else this.#pending = [];
  }

  /** Builds the `text/event-stream` response for this stream (see {@link eventStreamHeaders}). */
  response(init: { status?: number; headers?: HeadersInit } = {}): Response {
    const status = init.status ?? 200;
    // Without headers of its own, a plain record: a runtime's Response copies it into its Headers
    // (Node's adapter only once they are read), which spares each subscriber a Headers built twice.
    let headers: HeadersInit = { ...eventStreamHeaders };
    const own = init.headers;
    if (own instanceof Headers || Array.isArray(own)) {
      if (hasEntries(own)) {
        const merged = new Headers(own);
        for (const [name, value] of Object.entries(eventStreamHeaders)) merged.set(name, value);
        headers = merged;
      }
    } else if (own !== undefined) {
      // A record stays a record (a CORS header or two, a replay's cursor): no Headers built here.
      const merged: Record<string, string> = {};
      for (const name in own) merged[name.toLowerCase()] = own[name]!;
      for (const name in eventStreamHeaders) merged[name] = eventStreamHeaders[name]!;
      headers = merged;
    }
    const direct = this.#direct;
    if (!direct) return new Response(this.readable, { status, headers });
    if (direct !== true && !(headers instanceof Headers)) headers = direct(headers as Record<string, string>);
    const response = new Response(null, { status, headers });
    (response as unknown as Record<symbol, EventStream>)[STREAM] = this;
    return response;
  }

  #closeReason: CloseReason | undefined;

  #finish(reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    this.#heartbeat?.delete(this);
    this.#onClose?.(reason);
    this.#wakeDrainWaiters();
  }
}

/** Whether `headers` holds at least one header. */
function hasEntries(headers: HeadersInit | undefined): boolean {
  if (headers === undefined) return false;
  if (headers instanceof Headers || Array.isArray(headers)) {
    for (const _ of headers) return true;
    return false;
  }
  for (const _ in headers) return true;
  return false;
}

/**
 * Headers every event stream carries. No `Transfer-Encoding`: the server picks the framing, and a
 * hand-set one is invalid on HTTP/2. `X-Accel-Buffering: no` stops nginx from buffering the stream.
 */
export const eventStreamHeaders: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
});

/**
 * The {@link EventStream} behind a response (a direct one, or one whose body is the stream's
 * `readable`), for runtime adapters that take over the writing.
 */
export function eventStreamOf(response: Response): EventStream | undefined {
  const direct = (response as unknown as Record<symbol, EventStream | undefined>)[STREAM];
  if (direct) return direct;
  // Only an event stream's body can be a stream's: other bodies stay untouched (a runtime's own
  // Response, like Node's adapter's, may build a whole body just to answer `body`).
  if (response.headers.get('content-type') !== eventStreamHeaders['content-type']) return undefined;
  return response.body ? streams.get(response.body) : undefined;
}

function retryFrame(ms: number): Uint8Array {
  let frame = retryFrames.get(ms);
  if (!frame) {
    frame = utf8.encode(encodeRetry(ms));
    if (retryFrames.size < 64) retryFrames.set(ms, frame);
  }
  return frame;
}

/**
 * The default sink: frames wait in our own queue until the consumer pulls, so the backlog is exactly
 * what the runtime has not taken yet (its socket is full) and an abort can drop it. The queue is
 * handed over in one chunk per pull. Ending is always a clean close: `controller.error()` would be
 * logged as an uncaught error by Bun, Deno and workerd for what is a routine disconnect.
 */
class PullSink implements StreamSink {
  #queue: Uint8Array[] = [];
  #queued = 0;
  /** The consumer has a read waiting and nothing was there for it. */
  #demand = false;
  #drainListeners: (() => void)[] = [];
  #ending = false;
  #done = false;

  readonly controller: ReadableStreamDefaultController<Uint8Array>;
  /** Called when the consumer is gone (a write to it failed). */
  readonly onGone: () => void;

  constructor(controller: ReadableStreamDefaultController<Uint8Array>, onGone: () => void) {
    this.controller = controller;
    this.onGone = onGone;
  }

  get buffered(): number {
    return this.#queued;
  }

  write(chunk: Uint8Array): void {
    if (this.#done || this.#ending) return;
    if (this.#demand) {
      this.#demand = false;
      this.#enqueue(chunk);
    } else {
      this.#queue.push(chunk);
      this.#queued += chunk.byteLength;
    }
  }

  /** The consumer wants more. */
  pull(): void {
    if (this.#done) return;
    if (this.#queue.length > 0) {
      const chunks = this.#queue;
      this.#queue = [];
      this.#queued = 0;
      this.#enqueue(chunks.length === 1 ? chunks[0]! : concat(chunks));
    } else if (this.#ending) this.#close();
    else this.#demand = true;
    const listeners = this.#drainListeners;
    this.#drainListeners = [];
    for (const listener of listeners) listener();
  }

  onDrain(listener: () => void): void {
    if (this.#queued === 0 || this.#done) listener();
    else this.#drainListeners.push(listener);
  }

  end(): void {
    if (this.#done) return;
    this.#ending = true;
    if (this.#queue.length === 0) this.#close();
  }

  abort(): void {
    this.#queue = [];
    this.#queued = 0;
    this.#close();
  }

  #enqueue(chunk: Uint8Array): void {
    try {
      this.controller.enqueue(chunk);
    } catch {
      // The consumer cancelled in between: it is gone. Writes after close stay no-ops.
      this.#done = true;
      this.onGone();
    }
  }

  #close(): void {
    if (this.#done) return;
    this.#done = true;
    try {
      this.controller.close();
    } catch {}
  }
}
