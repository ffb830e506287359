/**
 * Closes the streams of subscribers whose tokens expire, with one timer for all of them instead of
 * one per connection: subscribers are kept in buckets of {@link GRAIN_MS} by expiry time, and the
 * timer is set for the earliest bucket only while there is one.
 */

/** What an expiry acts on: a subscriber, closed when its token expires. */
export interface Expiring {
  /** When its token expires, in ms since the epoch. */
  readonly expiresAt?: number;
  /** Ends the stream (reason `expired`). */
  expire(): void;
}

/** Width of a bucket: a stream closes at most this late. */
const GRAIN_MS = 100;
/** setTimeout overflows past 2^31-1 ms (~24.8 days); later expiries wait for a nearer timer. */
const MAX_DELAY = 2 ** 31 - 1;

export class Expiries {
  readonly #buckets = new Map<number, Set<Expiring>>();
  /** Bucket keys, kept sorted (ascending), earliest first. */
  #order: number[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  /** Number of subscribers waiting to expire. */
  get size(): number {
    let n = 0;
    for (const set of this.#buckets.values()) n += set.size;
    return n;
  }

  /** Arms the expiry of `subject` (at its `expiresAt`); one already past expires now. */
  add(subject: Expiring): void {
    const at = subject.expiresAt;
    if (at === undefined) return;
    if (at <= Date.now()) {
      subject.expire();
      return;
    }
    const key = Math.ceil(at / GRAIN_MS);
    let set = this.#buckets.get(key);
    if (!set) {
      set = new Set();
      this.#buckets.set(key, set);
      insertSorted(this.#order, key);
    }
    set.add(subject);
    this.#arm();
  }

  /** Disarms it (its stream ended otherwise). */
  delete(subject: Expiring): void {
    const at = subject.expiresAt;
    if (at === undefined) return;
    const key = Math.ceil(at / GRAIN_MS);
    const set = this.#buckets.get(key);
    if (!set?.delete(subject) || set.size > 0) return;
    this.#buckets.delete(key);
    this.#order.splice(this.#order.indexOf(key), 1);
    if (this.#order.length === 0) this.stop();
  }

  /** Stops the timer (for shutdown); armed subjects stay armed for a later `add`. */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  #arm(): void {
    const first = this.#order[0];
    if (first === undefined) return;
    const at = first * GRAIN_MS;
    if (at >= this.#timerAt) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#fire(), Math.min(Math.max(0, at - Date.now()), MAX_DELAY));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    while (this.#order.length > 0 && this.#order[0]! * GRAIN_MS <= now) {
      const key = this.#order.shift()!;
      const set = this.#buckets.get(key)!;
      this.#buckets.delete(key);
      for (const subject of set) subject.expire();
    }
    this.#arm();
  }
}

function insertSorted(list: number[], value: number): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, value);
}
