import { comparePos, type Update } from '../brokers/types.ts';
import { concat } from '../sse/bytes.ts';
import { encodeEvent, utf8 } from '../sse/encode.ts';
import type { EventStream } from '../sse/stream.ts';
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
  /** Position of the last replayed update: live updates at or before it were already sent. */
  replayedTo: string | undefined;

  constructor(
    /** Hub-generated, unique per connection. */
    readonly id: string,
    readonly stream: EventStream,
    readonly subscriptions: readonly Subscription[],
    readonly principal: Principal | null,
  ) {}

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

  /** Filters one live update: buffered during replay, dropped when the replay already sent it. */
  accepts(update: Update): boolean {
    if (this.pending) {
      this.pending.push(update);
      return false;
    }
    if (this.replayedTo !== undefined) {
      if (comparePos(update.pos, this.replayedTo) <= 0) return false;
      this.replayedTo = undefined;
    }
    return this.canRead(update);
  }
}

/**
 * Fans updates out to local subscribers: matches each update once, encodes it once, and writes the
 * same bytes to every matching stream. Updates that arrive together (a Redis read batch, a replay)
 * are coalesced into one write per subscriber.
 */
export class Dispatcher {
  readonly index = new SubscriptionIndex<Subscriber>();
  /** Every open subscriber, for shutdown and the subscription API. */
  readonly subscribers = new Set<Subscriber>();

  #queue: Update[] | undefined;

  /**
   * @param defer schedules the fan-out of what the broker delivered. Updates that arrive before it
   *   runs go out together: one write per subscriber instead of one per update. On Node the runtime
   *   passes `setImmediate`, so every publish handled in one event-loop turn is coalesced — the busier
   *   the hub, the bigger the batches — at no cost in latency when idle. Default: a microtask.
   */
  constructor(
    readonly metrics: Metrics,
    // Wrapped: a bare `queueMicrotask` called as a method throws "Illegal invocation" in workerd.
    readonly defer: (flush: () => void) => void = (flush) => queueMicrotask(flush),
  ) {}

  add(subscriber: Subscriber): void {
    this.subscribers.add(subscriber);
    this.index.add(subscriber, subscriber.subscriptions);
    this.metrics.connections++;
    this.metrics.subscriptions += subscriber.subscriptions.length;
  }

  remove(subscriber: Subscriber): void {
    if (!this.subscribers.delete(subscriber)) return;
    this.index.remove(subscriber, subscriber.subscriptions);
    this.metrics.connections--;
    this.metrics.subscriptions -= subscriber.subscriptions.length;
  }

  /** Broker listener: queues updates (in order) for the next fan-out. */
  dispatch(updates: readonly Update[]): void {
    if (this.#queue) {
      for (const update of updates) this.#queue.push(update);
      return;
    }
    this.#queue = [...updates];
    const defer = this.defer; // called unbound: host functions reject a foreign `this`
    defer(() => {
      const batch = this.#queue!;
      this.#queue = undefined;
      this.deliver(batch);
    });
  }

  /** Delivers a batch of updates, in order, to every matching subscriber now. */
  deliver(updates: readonly Update[]): void {
    // Frames are encoded on the first delivery: an update nobody receives (e.g. a subscription event
    // no one watches) costs no encoding until a replay asks for it.
    if (updates.length === 1) {
      const update = updates[0]!;
      let frame: Uint8Array | undefined;
      this.index.forEachMatch(update.topics, (s) => {
        if (!s.accepts(update)) return;
        frame ??= frameOf(update);
        this.#write(s, frame);
      });
      return;
    }
    const perSubscriber = new Map<Subscriber, Uint8Array[]>();
    for (const update of updates) {
      let frame: Uint8Array | undefined;
      this.index.forEachMatch(update.topics, (s) => {
        if (!s.accepts(update)) return;
        frame ??= frameOf(update);
        const list = perSubscriber.get(s);
        if (list) list.push(frame);
        else perSubscriber.set(s, [frame]);
      });
    }
    let whole: Uint8Array | undefined;
    for (const [s, list] of perSubscriber) {
      // Subscribers that take the whole batch (the usual case) share one concatenated buffer.
      if (list.length === updates.length) {
        whole ??= concat(list);
        this.#write(s, whole, list.length);
      } else this.#write(s, list.length === 1 ? list[0]! : concat(list), list.length);
    }
  }

  /**
   * Ends the replay of `subscriber`: sends what arrived meanwhile, minus what the replay covered.
   */
  goLive(subscriber: Subscriber): void {
    const pending = subscriber.pending ?? [];
    subscriber.pending = undefined;
    const frames: Uint8Array[] = [];
    for (const update of pending) if (subscriber.accepts(update)) frames.push(frameOf(update));
    if (frames.length > 0) this.#write(subscriber, concat(frames), frames.length);
  }

  #write(subscriber: Subscriber, bytes: Uint8Array, events = 1): void {
    if (subscriber.stream.write(bytes)) this.metrics.eventsDelivered += events;
  }
}
