/**
 * A relay's upstreams: one feed per shard (`shard-feed.ts`), opened when a subscriber first needs
 * that shard, kept open while the relay has subscribers, and reopened from the last position read
 * whenever it breaks (the shard restarted, was moved, or cut a relay that fell behind) or goes quiet
 * for three heartbeats. A reopened feed starts with the history after that position, so nothing is
 * missed unless the shard's history discarded it (`lost`), which the consumers are told.
 */
import { fromWire, INTERNAL, INTERNAL_ORIGIN, type ShardUpdate } from './wire.ts';

/** How a relay reaches an object: a Durable Object stub's `fetch`, or a fake in tests. */
export type ObjectLink = (path: string, init?: RequestInit) => Promise<Response>;

/** What the feeds deliver to: the merged broker (every shard) and the per-shard brokers. */
export interface FeedConsumer {
  /** A new update of shard `shard`, in that shard's order, each exactly once. */
  update(shard: number, update: ShardUpdate): void;
  /**
   * Shard `shard` discarded updates of retention lanes `lanes` this relay had not read: its subscribers
   * that could match them may have missed some.
   */
  lost(shard: number, lanes: readonly string[]): void;
}

/** Backoff between reconnections, in ms: doubling from the first to the last. */
const BACKOFF = [50, 100, 200, 500, 1000, 2000];

const decoder = () => new TextDecoder();

interface Waiter {
  readonly pos: number;
  readonly resolve: () => void;
}

/** One shard's feed. */
export class Upstream {
  /** Position of the last update read (-1: none; undefined until the feed first said where it starts). */
  pos: number | undefined;
  readonly #link: ObjectLink;
  readonly #shard: number;
  readonly #consumer: FeedConsumer;
  readonly #silenceMs: number;
  #running = false;
  /** Counts starts: a loop from before a stop and a new start must not run on beside the new one. */
  #generation = 0;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #waiters: Waiter[] = [];

  constructor(shard: number, link: ObjectLink, consumer: FeedConsumer, silenceMs: number) {
    this.#shard = shard;
    this.#link = link;
    this.#consumer = consumer;
    this.#silenceMs = silenceMs;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Opens the feed (once); it keeps itself open until {@link Upstream.stop}. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#run(++this.#generation);
  }

  /**
   * Closes the feed (a relay with no subscribers left). A later start begins at the shard's newest
   * update, not where this one stopped: nobody is waiting for what came in between.
   */
  stop(): void {
    this.#running = false;
    this.pos = undefined;
    void this.#reader?.cancel().catch(() => {});
  }

  /**
   * Resolves true once the feed has read up to `pos` (-1: once it knows where it starts), false
   * after `timeoutMs`.
   */
  reached(pos: number, timeoutMs: number): Promise<boolean> {
    if (this.pos !== undefined && this.pos >= pos) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = { pos, resolve: () => resolve(true) };
      this.#waiters.push(waiter);
      setTimeout(() => {
        const at = this.#waiters.indexOf(waiter);
        if (at !== -1) {
          this.#waiters.splice(at, 1);
          resolve(false);
        }
      }, timeoutMs);
    });
  }

  #wake(): void {
    const pos = this.pos ?? -2;
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.pos <= pos) waiter.resolve();
      else still.push(waiter);
    }
    this.#waiters = still;
  }

  async #run(generation: number): Promise<void> {
    let failures = 0;
    const current = () => this.#running && this.#generation === generation;
    while (current()) {
      const ok = await this.#read(current).catch((error: unknown) => {
        if (current()) console.error(`ssehub: feed of shard ${this.#shard} broke`, error);
        return false;
      });
      if (!current()) return;
      failures = ok ? 0 : failures + 1;
      await new Promise((resolve) => setTimeout(resolve, BACKOFF[Math.min(failures, BACKOFF.length - 1)]));
    }
  }

  /** One connection: reads lines until the feed ends. True when it delivered something. */
  async #read(current: () => boolean): Promise<boolean> {
    const after = this.pos === undefined ? '' : `?after=${this.pos}`;
    const response = await this.#link(`${INTERNAL}feed${after}`);
    if (response.status !== 200 || !response.body) {
      await response.body?.cancel();
      throw new Error(`feed answered ${response.status}`);
    }
    const reader = response.body.getReader();
    this.#reader = reader;
    const text = decoder();
    let buffer = '';
    let delivered = false;
    // Heartbeats arrive every interval: a feed silent for longer is a connection that died unseen.
    let heard = true;
    const watchdog = setInterval(() => {
      if (!heard) void reader.cancel().catch(() => {});
      heard = false;
    }, this.#silenceMs);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || !current()) return delivered;
        heard = true;
        buffer += text.decode(value, { stream: true });
        let end = buffer.indexOf('\n');
        while (end !== -1 && current()) {
          const line = buffer.slice(0, end);
          buffer = buffer.slice(end + 1);
          if (this.#line(line)) delivered = true;
          end = buffer.indexOf('\n');
        }
      }
    } finally {
      clearInterval(watchdog);
      this.#reader = undefined;
    }
  }

  /** Handles one line; true when it was an update. */
  #line(line: string): boolean {
    if (line === '' || line.startsWith(':')) return false;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      console.error(`ssehub: unreadable feed line from shard ${this.#shard}`);
      return false;
    }
    if (Array.isArray(value)) {
      const update = fromWire(value);
      if (!update) {
        console.error(`ssehub: malformed update on the feed of shard ${this.#shard}`);
        return false;
      }
      // A reconnection starts after the last position read: nothing comes twice, but be sure.
      if (this.pos !== undefined && update.pos <= this.pos) return false;
      this.pos = update.pos;
      this.#consumer.update(this.#shard, update);
      this.#wake();
      return true;
    }
    const control = value as { head?: unknown; lost?: unknown };
    if (typeof control.head === 'number' && this.pos === undefined) {
      this.pos = control.head;
      this.#wake();
    } else if (Array.isArray(control.lost) && control.lost.length > 0) {
      this.#consumer.lost(
        this.#shard,
        control.lost.filter((lane): lane is string => typeof lane === 'string'),
      );
    }
    return false;
  }
}

/** Builds the link to a named object from a stub getter (the relay's view of `env.HUB`). */
export function linkTo(
  stub: (name: string) => { fetch(request: Request): Promise<Response> },
  name: string,
): ObjectLink {
  return (path, init) => stub(name).fetch(new Request(`${INTERNAL_ORIGIN}${path}`, init));
}
