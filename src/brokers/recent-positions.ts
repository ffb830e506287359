/**
 * The newest positions of a stored history, in memory, so that the SQLite broker answers the pages a
 * replay reads near the head without a query: a reconnect storm has every resuming subscriber read the
 * same few newest rows, and `SELECT pos … WHERE pos > ?` (an array of row objects from the binding)
 * cost more than everything else its replay did.
 *
 * The invariant: every stored position above `floor` is in `positions` (ascending), and nothing else
 * is. Positions only grow, so an insert appends; a delete anywhere above the floor is spliced out. A
 * query that would reach below the floor answers undefined, and the broker asks SQLite.
 */
export class RecentPositions {
  /** Ascending. */
  #positions: number[] = [];
  /** Every stored position above it is held; -Infinity: all of them are. */
  #floor = Number.POSITIVE_INFINITY;
  readonly #capacity: number;

  /** @param capacity positions kept at least (up to twice as many between trims). */
  constructor(capacity: number) {
    this.#capacity = Math.max(1, Math.floor(capacity));
  }

  /** How many positions a `reset` should be given: one more than it keeps tells whether it has all. */
  get wanted(): number {
    return this.#capacity + 1;
  }

  /**
   * Starts again from the store: `newestFirst` are its newest positions, descending, as many as
   * {@link wanted} or fewer when the store holds fewer (then all of them are held).
   */
  reset(newestFirst: readonly number[]): void {
    const complete = newestFirst.length <= this.#capacity;
    const kept = complete ? newestFirst : newestFirst.slice(0, this.#capacity);
    this.#positions = [...kept].reverse();
    this.#floor = complete ? Number.NEGATIVE_INFINITY : newestFirst[this.#capacity]!;
  }

  /** Forgets everything: every query goes to the store until the next `reset`. */
  clear(): void {
    this.#positions = [];
    this.#floor = Number.POSITIVE_INFINITY;
  }

  /** A position just stored: the largest so far. */
  add(pos: number): void {
    if (this.#floor === Number.POSITIVE_INFINITY) return;
    this.#positions.push(pos);
    if (this.#positions.length > 2 * this.#capacity) {
      // Keep the newest `capacity` (a copy every `capacity` inserts): the floor rises to the newest
      // one dropped.
      const drop = this.#positions.length - this.#capacity;
      this.#floor = this.#positions[drop - 1]!;
      this.#positions = this.#positions.slice(drop);
    }
  }

  /** A position just deleted from the store. */
  remove(pos: number): void {
    if (!(pos > this.#floor)) return;
    const i = this.#firstAbove(pos - 1);
    if (this.#positions[i] === pos) this.#positions.splice(i, 1);
  }

  /**
   * The stored positions after `pos`, ascending, at most `count` (Infinity: all); undefined when some
   * may lie below what is held.
   */
  after(pos: number, count: number): number[] | undefined {
    if (!(pos >= this.#floor)) return undefined;
    const from = this.#firstAbove(pos);
    const to = Number.isFinite(count)
      ? Math.min(this.#positions.length, from + count)
      : this.#positions.length;
    return this.#positions.slice(from, to);
  }

  /**
   * The stored positions before `pos`, newest first, at most `count`; undefined when some of them may
   * lie below what is held.
   */
  before(pos: number, count: number): number[] | undefined {
    if (this.#floor === Number.POSITIVE_INFINITY) return undefined;
    const end = this.#firstAbove(pos - 1); // first index at or after pos
    if (end < count && this.#floor !== Number.NEGATIVE_INFINITY) return undefined;
    const from = Math.max(0, end - count);
    return this.#positions.slice(from, end).reverse();
  }

  /** Index of the first held position above `pos` (binary search; positions are integers). */
  #firstAbove(pos: number): number {
    let lo = 0;
    let hi = this.#positions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#positions[mid]! > pos) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
