import { utf8 } from './encode.ts';

/** Anything that can receive a keep-alive: an {@link EventStream} in practice. */
export interface HeartbeatTarget {
  /** Set by every write; the heartbeat reads and clears it on each tick. */
  active: boolean;
  write(chunk: Uint8Array): boolean;
}

/** A comment line: ignored by every client, but it keeps proxies and load balancers from cutting the stream. */
const KEEP_ALIVE = utf8.encode(':\n');

/**
 * Streams kept alive in one go. A larger crowd is served in batches, each in a task of its own, so that
 * requests and publishes run in between: one pass over 20,000 idle streams held Node's event loop for
 * a sixth of a second (a write system call each), and 100,000 would hold it for most of one.
 */
const BATCH = 1000;

/**
 * One timer for every stream: on each tick, streams that wrote nothing since the previous tick get a
 * `:` comment, a batch at a time. Streams that are busy cost nothing. The timer runs only while
 * streams are registered, so an idle process (or Durable Object) has no timer keeping it awake.
 *
 * @example
 * const heartbeat = new Heartbeat(15_000);
 * const stream = new EventStream({ heartbeat });
 */
export class Heartbeat {
  readonly #targets = new Set<HeartbeatTarget>();
  #timer: ReturnType<typeof setInterval> | undefined;
  /** The tick in progress, between two batches: where it stands among the streams. */
  #pass: Iterator<HeartbeatTarget> | undefined;

  readonly intervalMs: number;

  /** @param intervalMs tick period; keep it well under proxy idle timeouts (~100 s on Cloudflare, 60 s on nginx). */
  constructor(intervalMs: number) {
    if (!(intervalMs > 0)) throw new RangeError('heartbeat interval must be positive');
    this.intervalMs = intervalMs;
  }

  /** Number of streams being kept alive. */
  get size(): number {
    return this.#targets.size;
  }

  add(target: HeartbeatTarget): void {
    this.#targets.add(target);
    this.#timer ??= setInterval(() => this.#start(), this.intervalMs);
  }

  delete(target: HeartbeatTarget): void {
    this.#targets.delete(target);
    if (this.#targets.size === 0) this.stop();
  }

  /** Sends the keep-alive to every stream idle since the last tick, in one go. Exposed for tests. */
  tick(): void {
    for (const target of this.#targets) beat(target);
  }

  /** Stops the timer (streams stay registered until they close). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#pass = undefined;
  }

  #start(): void {
    // A tick still under way (a process starved for a whole interval) goes on; no second one.
    if (this.#pass) return;
    // A Set's iterator follows deletions and additions made while the batches run.
    this.#pass = this.#targets.values();
    this.#batch();
  }

  readonly #batch = (): void => {
    const pass = this.#pass;
    if (!pass) return;
    for (let n = 0; n < BATCH; n++) {
      const next = pass.next();
      if (next.done) {
        this.#pass = undefined;
        return;
      }
      beat(next.value);
    }
    setTimeout(this.#batch, 0);
  };
}

/** Keeps `target` alive if it wrote nothing since the previous tick. */
function beat(target: HeartbeatTarget): void {
  if (!target.active) target.write(KEEP_ALIVE);
  // Cleared after the write too, so a stream that only heartbeats still counts as idle next tick.
  target.active = false;
}
