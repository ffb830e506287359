/**
 * Closes the streams of subscribers whose tokens expire, with one timer for all of them instead of
 * one per connection: subscribers are kept in buckets of {@link GRAIN_MS} by expiry time, and the
 * timer is set for the earliest bucket only while there is one.
 *
 * With a maximum connection age, the same timer also ends streams that have lived that long (at a
 * random point of the age's last tenth, so that reconnects spread out), whichever comes first.
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

export interface ExpiriesOptions {
  /** Longest a subject lives, in ms; 0 or absent for no limit. */
  maxAgeMs?: number;
  /** Called instead of `expire()` for a subject whose age ran out before its token. */
  onAged?: (subject: Expiring) => void;
}

export class Expiries {
  readonly #buckets = new Map<number, Set<Expiring>>();
  readonly #maxAgeMs: number;
  readonly #onAged: ((subject: Expiring) => void) | undefined;
  /** When a subject ends by age rather than at `expiresAt` (only with a maximum age). */
  readonly #aged = new Map<Expiring, number>();
  /** Bucket keys, kept sorted (ascending), earliest first. */
  #order: number[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(options: ExpiriesOptions = {}) {
    this.#maxAgeMs = options.maxAgeMs ?? 0;
    this.#onAged = options.onAged;
  }

  /** Number of subscribers waiting to expire. */
  get size(): number {
    let n = 0;
    for (const set of this.#buckets.values()) n += set.size;
    return n;
  }

  /** Arms the expiry of `subject` (at its `expiresAt`); one already past expires now. */
  add(subject: Expiring): void {
    let at = subject.expiresAt;
    if (this.#maxAgeMs > 0) {
      const aged = Date.now() + Math.round(this.#maxAgeMs * (0.9 + 0.1 * Math.random()));
      if (at === undefined || aged < at) {
        at = aged;
        this.#aged.set(subject, aged);
      }
    }
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
    const aged = this.#maxAgeMs > 0 ? this.#aged.get(subject) : undefined;
    if (aged !== undefined) this.#aged.delete(subject);
    const at = aged ?? subject.expiresAt;
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
      for (const subject of set) {
        if (this.#aged.delete(subject)) (this.#onAged ?? ((s: Expiring) => s.expire()))(subject);
        else subject.expire();
      }
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
