import { type ActiveSubscription, comparePos, type Update } from '../brokers/index.ts';
import type { EventStream } from '../sse/index.ts';
import { concat, encodeEvent, utf8 } from '../sse/index.ts';
import type { Principal } from './auth.ts';
import type { Subscription } from './matchers.ts';
import { SubscriptionIndex } from './matchers.ts';
import type { Metrics } from './metrics.ts';

const frames = new WeakMap<Update, Uint8Array>();

/** The SSE bytes of an update, encoded once and shared by every subscriber that receives it. */
export function frameOf(update: Update): Uint8Array {
  let frame = frames.get(update);
  if (!frame) {
    frame = utf8.encode(
      encodeEvent({ id: update.id, event: update.type, retry: update.retry, data: update.data }),
    );
    frames.set(update, frame);
  }
  return frame;
}

/** One connected subscriber: its stream, its matchers and what its token lets it read. */
export class Subscriber {
  /**
   * Live updates that arrive while history is being replayed; delivered (without the ones the replay
   * already covered) when the replay is done. Undefined once live.
   */
  pending: Update[] | undefined;
  /** What the pending updates weigh as frames: with the stream's backlog, held to its bound. */
  pendingBytes = 0;
  /** Position of the last replayed update: live updates at or before it were already sent. */
  replayedTo: string | undefined;
  /** What its subscription events announced (see `Presence`), until its `active: false` ones. */
  announced: readonly ActiveSubscription[] | undefined;
  /** The last presence step of this connection: the next one waits for it. */
  presence: Promise<void> | undefined;

  /** Hub-generated, unique per connection. */
  readonly id: string;
  readonly stream: EventStream;
  readonly subscriptions: readonly Subscription[];
  readonly principal: Principal | null;

  constructor(
    id: string,
    stream: EventStream,
    subscriptions: readonly Subscription[],
    principal: Principal | null,
  ) {
    this.id = id;
    this.stream = stream;
    this.subscriptions = subscriptions;
    this.principal = principal;
  }

  /** When its token expires (ms since the epoch), if it has one: its stream ends then. */
  get expiresAt(): number | undefined {
    return this.principal?.expiresAt;
  }

  /** Ends its stream because its token expired. */
  expire(): void {
    this.stream.close('expired');
  }

  /** True when this subscriber may receive `update` (public, or its token grants one of the topics). */
  canRead(update: Update): boolean {
    return !update.private || (this.principal?.canSubscribe(update.topics) ?? false);
  }

  /** True when one of this subscriber's matchers selects one of `topics`. */
  matches(topics: readonly string[]): boolean {
    for (const s of this.subscriptions) {
      if (s.match === '*') return true;
      if (s.pattern ? topics.some((t) => s.pattern!.test(t)) : topics.includes(s.match)) return true;
    }
    return false;
  }

  /**
   * Filters one live update: kept aside during replay (a subscriber that falls further behind than
   * its bound meanwhile is closed as too slow, as it would be live), dropped when the replay already
   * sent it.
   */
  accepts(update: Update): boolean {
    if (this.pending) {
      // One it may not read would be dropped when it goes live: it is not kept, nor counted.
      if (!this.canRead(update)) return false;
      this.pending.push(update);
      this.pendingBytes += frameOf(update).byteLength;
      if (this.pendingBytes + this.stream.buffered > this.stream.limit) this.stream.abort('slow');
      return false;
    }
    if (this.replayedTo !== undefined) {
      if (comparePos(update.pos, this.replayedTo) <= 0) return false;
      this.replayedTo = undefined;
    }
    return this.canRead(update);
  }

  /** Forgets pending updates at or before `pos`: the replay reads them from history. */
  replayed(pos: string): void {
    this.replayedTo = pos;
    if (!this.pending?.length) return;
    const newer = this.pending.filter((u) => comparePos(u.pos, pos) > 0);
    if (newer.length === this.pending.length) return;
    this.pending = newer;
    this.pendingBytes = newer.reduce((sum, u) => sum + frameOf(u).byteLength, 0);
  }
}

/**
 * Longest stretch of fan-out in one turn of the event loop, in ms. Matching is bounded per update, but
 * a burst of updates (a Redis batch, many publishes in one turn) can add up; what is left waits for
 * the next turn, so other requests (health checks, publishes, new subscribers) are served in between.
 */
const SLICE_MS = 10;

/**
 * Fans updates out to local subscribers: matches each update once, encodes it once, and writes the
 * same bytes to every matching stream. Updates that arrive together (a Redis read batch, a replay)
 * are coalesced into one write per subscriber.
 */
export class Dispatcher {
  readonly index = new SubscriptionIndex<Subscriber>();
  /** Every open subscriber, for shutdown and the subscription API. */
  readonly subscribers = new Set<Subscriber>();

  /** Updates waiting for fan-out, in order, from `#head` on. */
  #queue: Update[] = [];
  #head = 0;
  #scheduled = false;

  /**
   * @param defer schedules the fan-out of what the broker delivered. Updates that arrive before it
   *   runs go out together: one write per subscriber instead of one per update. On Node the runtime
   *   passes `setImmediate`, so every publish handled in one event-loop turn is coalesced — the busier
   *   the hub, the bigger the batches — at no cost in latency when idle. Default: a microtask.
   */
  readonly metrics: Metrics;
  readonly defer: (flush: () => void) => void;

  constructor(
    metrics: Metrics,
    // Wrapped: a bare `queueMicrotask` called as a method throws "Illegal invocation" in workerd.
    defer: (flush: () => void) => void = (flush) => queueMicrotask(flush),
  ) {
    this.metrics = metrics;
    this.defer = defer;
  }

  add(subscriber: Subscriber): void {
    this.subscribers.add(subscriber);
    this.index.add(subscriber, subscriber.subscriptions, subscriber.principal !== null);
    this.metrics.connections++;
    this.metrics.subscriptions += subscriber.subscriptions.length;
  }

  remove(subscriber: Subscriber): void {
    if (!this.subscribers.delete(subscriber)) return;
    this.index.remove(subscriber, subscriber.subscriptions, subscriber.principal !== null);
    this.metrics.connections--;
    this.metrics.subscriptions -= subscriber.subscriptions.length;
  }

  /** Broker listener: queues updates (in order) for the next fan-out. */
  dispatch(updates: readonly Update[]): void {
    for (const update of updates) this.#queue.push(update);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    const defer = this.defer; // called unbound: host functions reject a foreign `this`
    defer(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  /** Fans out what is queued, for at most {@link SLICE_MS}; the rest waits for the next turn. */
  #flush(): void {
    const deadline = performance.now() + SLICE_MS;
    const queue = this.#queue;
    const end = queue.length;
    const done = this.deliver(queue, this.#head, end, deadline);
    this.#head = done;
    if (this.#head < queue.length) {
      // Drop what is done once it is most of the queue, so a long backlog is not copied every turn.
      if (this.#head > 1024 && this.#head * 2 > queue.length) {
        this.#queue = queue.slice(this.#head);
        this.#head = 0;
      }
      this.#schedule();
    } else {
      this.#queue = [];
      this.#head = 0;
    }
  }

  /**
   * Delivers `updates[from, to)`, in order, to every matching subscriber, until `deadline` (a
   * `performance.now()` time) passes; returns the index of the first update not delivered.
   */
  deliver(
    updates: readonly Update[],
    from = 0,
    to = updates.length,
    deadline = Number.POSITIVE_INFINITY,
  ): number {
    // Frames are encoded on the first delivery: an update nobody receives (e.g. a subscription event
    // no one watches) costs no encoding until a replay asks for it.
    if (to - from === 1) {
      const update = updates[from]!;
      let frame: Uint8Array | undefined;
      this.index.forEachMatch(update.topics, update.private, (s) => {
        if (!s.accepts(update)) return;
        frame ??= frameOf(update);
        this.#write(s, frame);
      });
      return to;
    }
    const perSubscriber = new Map<Subscriber, Uint8Array[]>();
    let i = from;
    while (i < to) {
      const update = updates[i++]!;
      let frame: Uint8Array | undefined;
      this.index.forEachMatch(update.topics, update.private, (s) => {
        if (!s.accepts(update)) return;
        frame ??= frameOf(update);
        const list = perSubscriber.get(s);
        if (list) list.push(frame);
        else perSubscriber.set(s, [frame]);
      });
      if (performance.now() > deadline) break;
    }
    const count = i - from;
    let whole: Uint8Array | undefined;
    for (const [s, list] of perSubscriber) {
      // Subscribers that take the whole batch (the usual case) share one concatenated buffer.
      if (list.length === count) {
        whole ??= concat(list);
        this.#write(s, whole, list.length);
      } else this.#write(s, list.length === 1 ? list[0]! : concat(list), list.length);
    }
    return i;
  }

  /**
   * Ends the replay of `subscriber`: sends what arrived meanwhile, minus what the replay covered.
   */
  goLive(subscriber: Subscriber): void {
    const pending = subscriber.pending ?? [];
    subscriber.pending = undefined;
    subscriber.pendingBytes = 0;
    const frames: Uint8Array[] = [];
    for (const update of pending) if (subscriber.accepts(update)) frames.push(frameOf(update));
    if (frames.length > 0) this.#write(subscriber, concat(frames), frames.length);
  }

  #write(subscriber: Subscriber, bytes: Uint8Array, events = 1): void {
    if (subscriber.stream.write(bytes)) this.metrics.eventsDelivered += events;
  }
}
