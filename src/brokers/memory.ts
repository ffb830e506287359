import {
  type Broker,
  EARLIEST,
  generateId,
  type HistoryResult,
  type Update,
  type UpdateInput,
  type UpdateListener,
} from './types.ts';

export interface MemoryBrokerOptions {
  /** How many updates to keep for replay (a ring buffer). 0 keeps none. Default 1000. */
  historySize?: number;
  /** Restores history, e.g. from Durable Object storage; oldest first. */
  initialHistory?: readonly Update[];
  /** Called after each update is stored (e.g. to persist it). */
  onStore?: (update: Update) => void;
}

/**
 * The in-process broker: a bounded ring buffer of history and synchronous fan-out. The default for
 * a single hub process, and the one that runs inside the Cloudflare Durable Object.
 *
 * @example
 * const broker = createMemoryBroker({ historySize: 10_000 });
 */
export function createMemoryBroker(options: MemoryBrokerOptions = {}): Broker & { readonly size: number } {
  const capacity = Math.max(0, Math.floor(options.historySize ?? 1000));
  const ring: (Update | undefined)[] = new Array(capacity);
  /** First retained sequence number and the next one to assign: history is [first, next). */
  let first = 0;
  let next = 0;
  /** Earliest retained occurrence of each id (a reused id resolves to its earliest occurrence). */
  const seqOf = new Map<string, number>();
  const listeners = new Set<UpdateListener>();

  const at = (seq: number) => ring[seq % capacity]!;

  /** Appends at sequence number `next`. */
  function append(update: Update): void {
    if (capacity > 0) {
      if (next - first === capacity) evictOldest();
      ring[next % capacity] = update;
      if (!seqOf.has(update.id)) seqOf.set(update.id, next);
    }
    next++;
    if (capacity === 0) first = next;
  }

  function evictOldest(): void {
    const old = at(first);
    ring[first % capacity] = undefined;
    first++;
    if (seqOf.get(old.id) === first - 1) {
      seqOf.delete(old.id);
      // Rare: the id was reused later; its earliest retained occurrence becomes the cursor.
      for (let s = first; s < next; s++) {
        if (at(s).id === old.id) {
          seqOf.set(old.id, s);
          break;
        }
      }
    }
  }

  for (const update of options.initialHistory ?? []) append({ ...update, pos: String(next) });

  return {
    get size() {
      return next - first;
    },
    get healthy() {
      return true;
    },
    async publish(input: UpdateInput): Promise<Update> {
      const update: Update = { ...input, id: input.id ?? generateId(), pos: String(next) };
      append(update);
      options.onStore?.(update);
      const batch = [update];
      for (const listener of listeners) listener(batch);
      return update;
    },
    subscribe(listener: UpdateListener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async history(cursor: string): Promise<HistoryResult> {
      const found = cursor === EARLIEST ? first : seqOf.get(cursor);
      const start = found === undefined ? first : cursor === EARLIEST ? first : found + 1;
      const updates: Update[] = [];
      for (let s = start; s < next; s++) updates.push(at(s));
      return { found: found !== undefined, updates };
    },
    async lastEventId(): Promise<string> {
      return next > first ? at(next - 1).id : EARLIEST;
    },
    async close() {
      listeners.clear();
    },
  };
}
