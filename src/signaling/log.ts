/**
 * What the room state (`state.ts`) and the room documents (`docs.ts`) both do with the hub's log:
 * follow the broker from the history it still holds, run one change at a time per key, and keep
 * a bounded number of records, forgetting the least recently used. Web APIs only.
 */
import { type Broker, comparePos, EARLIEST, type Update } from '../brokers/index.ts';

/**
 * Follows `broker`: hands the history it holds to `history`, then every update published since to
 * `live`, each exactly once. Listening starts before history is read, so an update published
 * meanwhile is in one or the other (or both: `lastPos`, the position of the last update read, tells).
 * A broker that cannot answer is logged as `what`, and following starts from the live updates.
 */
export function followBroker(
  broker: Broker,
  handlers: {
    history(updates: readonly Update[]): void;
    live(updates: readonly Update[]): void;
    lastPos(): string | undefined;
    what: string;
  },
): { ready: Promise<void>; unsubscribe(): void } {
  let buffered: Update[] | undefined = [];
  const unsubscribe = broker.subscribe((updates) => {
    if (buffered) buffered.push(...updates);
    else handlers.live(updates);
  });
  const ready = broker.history(EARLIEST).then(
    ({ updates }) => {
      handlers.history(updates);
      const last = handlers.lastPos();
      const late = buffered!.filter((u) => last === undefined || comparePos(u.pos, last) > 0);
      buffered = undefined;
      handlers.live(late);
    },
    (error) => {
      console.error(`ssehub: rooms could not read the history of their ${handlers.what}`, error);
      const late = buffered!;
      buffered = undefined;
      handlers.live(late);
    },
  );
  return { ready, unsubscribe };
}

/** Runs steps one at a time per key, in the order they were given; a failed step does not stop the next. */
export class Serializer {
  readonly #chains = new Map<string, Promise<unknown>>();

  run<T>(key: string, step: () => Promise<T>): Promise<T> {
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const next = previous.then(step, step);
    const settled = next.then(
      () => {},
      () => {},
    );
    this.#chains.set(key, settled);
    void settled.then(() => {
      if (this.#chains.get(key) === settled) this.#chains.delete(key);
    });
    return next;
  }
}

/** A map of at most `max` entries: setting one more forgets the least recently read or set. */
export class LruMap<V> {
  readonly #map = new Map<string, V>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** The value, without counting as a use. */
  peek(key: string): V | undefined {
    return this.#map.get(key);
  }

  has(key: string): boolean {
    return this.#map.has(key);
  }

  /** The value, which becomes the most recently used. */
  get(key: string): V | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.#max) {
      const oldest = this.#map.keys().next().value;
      if (oldest !== undefined) this.#map.delete(oldest);
    }
  }

  keys(): IterableIterator<string> {
    return this.#map.keys();
  }
}
