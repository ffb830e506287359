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
 * The interval is served in this many turns: each turn keeps alive one slot of the streams, so that a
 * tick over 100,000 streams holds the event loop for 1/16 of the time one pass over all would.
 */
const SLOTS = 16;

/**
 * One timer for every stream: streams that wrote nothing during the last interval get a `:` comment.
 * Streams are spread over {@link SLOTS} slots, served one per 1/16 of the interval, rather than all in
 * one pass (which, with a large idle crowd, held the event loop for one system call per stream: a
 * tenth of a second at 20,000 streams). Streams that are busy cost nothing. The timer runs only while
 * streams are registered, so an idle process (or Durable Object) has no timer keeping it awake.
 *
 * @example
 * const heartbeat = new Heartbeat(15_000);
 * const stream = new EventStream({ heartbeat });
 */
export class Heartbeat {
  readonly #slots: Set<HeartbeatTarget>[] = Array.from({ length: SLOTS }, () => new Set());
  /** The slot the next turn serves. */
  #due = 0;
  #size = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  readonly intervalMs: number;

  /** @param intervalMs tick period; keep it well under proxy idle timeouts (~100 s on Cloudflare, 60 s on nginx). */
  constructor(intervalMs: number) {
    if (!(intervalMs > 0)) throw new RangeError('heartbeat interval must be positive');
    this.intervalMs = intervalMs;
  }

  /** Number of streams being kept alive. */
  get size(): number {
    return this.#size;
  }

  /** Registers `target` in the smallest slot (the first of them from the one served next). */
  add(target: HeartbeatTarget): void {
    if (this.#slots.some((slot) => slot.has(target))) return;
    let slot = this.#slots[this.#due]!;
    for (let i = 1; i < SLOTS && slot.size > 0; i++) {
      const other = this.#slots[(this.#due + i) % SLOTS]!;
      if (other.size < slot.size) slot = other;
    }
    slot.add(target);
    this.#size++;
    this.#timer ??= setInterval(() => this.#turn(), Math.max(1, this.intervalMs / SLOTS));
  }

  delete(target: HeartbeatTarget): void {
    for (const slot of this.#slots) {
      if (slot.delete(target)) {
        this.#size--;
        break;
      }
    }
    if (this.#size === 0) this.stop();
  }

  /** Sends the keep-alive to every stream idle since the last tick, whatever its slot. Exposed for tests. */
  tick(): void {
    for (const slot of this.#slots) beat(slot);
  }

  /** Stops the timer (streams stay registered until they close). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #turn(): void {
    const slot = this.#slots[this.#due]!;
    this.#due = (this.#due + 1) % SLOTS;
    beat(slot);
  }
}

/** Keeps alive the streams of `slot` that wrote nothing since its previous turn. */
function beat(slot: Set<HeartbeatTarget>): void {
  for (const target of slot) {
    if (!target.active) target.write(KEEP_ALIVE);
    // Cleared after the write too, so a stream that only heartbeats still counts as idle next time.
    target.active = false;
  }
}
