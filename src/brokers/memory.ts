import {
  type Broker,
  countRetention,
  DEFAULT_LANE,
  EARLIEST,
  generateId,
  type HistoryResult,
  laneOf,
  limitsOf,
  type Retention,
  type Update,
  type UpdateInput,
  type UpdateListener,
  weightOf,
} from './types.ts';

export interface MemoryBrokerOptions {
  /** How many updates to keep for replay, with no byte bound: shorthand for `retention`. Default 1000. */
  historySize?: number;
  /** How long updates are kept, per lane (see {@link Retention}); wins over `historySize`. */
  retention?: Retention;
  /**
   * Restores history, e.g. from Durable Object storage; oldest first. Their positions (decimal
   * integers, ascending) are kept, and new updates are numbered after the last one.
   */
  initialHistory?: readonly Update[];
  /**
   * Called with each new update (id and position assigned) before it is kept or announced, e.g. to
   * persist it. Throwing refuses the publish: nothing is kept, nothing is announced.
   */
  onStore?: (update: Update, lane: string) => void;
  /** Called with each update the retention bounds discard (e.g. to delete it from storage). */
  onEvict?: (update: Update) => void;
}

/** One retained update, with its position as a number and what it weighs. */
interface Entry {
  readonly seq: number;
  readonly update: Update;
  readonly weight: number;
}

/** The updates of one lane, oldest first: a queue that drops from its head. */
class LaneQueue {
  entries: Entry[] = [];
  head = 0;
  bytes = 0;
  /** Position of the newest update this lane discarded, -1 before any. */
  lostUpTo = -1;

  readonly name: string;
  readonly maxCount: number;
  readonly maxBytes: number;

  constructor(name: string, maxCount: number, maxBytes: number) {
    this.name = name;
    this.maxCount = maxCount;
    this.maxBytes = maxBytes;
  }

  get size(): number {
    return this.entries.length - this.head;
  }

  oldest(): Entry | undefined {
    return this.entries[this.head];
  }

  shift(): Entry {
    const entry = this.entries[this.head]!;
    this.entries[this.head++] = undefined as unknown as Entry;
    // Compact once the dropped head is both large and most of the array.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    this.bytes -= entry.weight;
    this.lostUpTo = entry.seq;
    return entry;
  }

  /** Index of the first entry positioned after `seq`. */
  after(seq: number): number {
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.entries[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * The in-process broker: bounded history in retention lanes and synchronous fan-out. The default for
 * a single hub process, and the one that runs inside the Cloudflare Durable Object.
 *
 * @example
 * const broker = createMemoryBroker({ historySize: 10_000 });
 */
export function createMemoryBroker(options: MemoryBrokerOptions = {}): Broker & { readonly size: number } {
  const retention = options.retention ?? countRetention(Math.max(0, Math.floor(options.historySize ?? 1000)));
  const lanes = new Map<string, LaneQueue>();
  const laneNamed = (name: string): LaneQueue => {
    let lane = lanes.get(name);
    if (!lane) {
      const { maxCount, maxBytes } = limitsOf(retention, name);
      lane = new LaneQueue(name, Math.max(0, Math.floor(maxCount)), maxBytes);
      lanes.set(name, lane);
    }
    return lane;
  };
  laneNamed(DEFAULT_LANE);
  for (const lane of retention.lanes ?? []) laneNamed(lane.name);
  /** The next position to assign. */
  let next = 0;
  let size = 0;
  /** Earliest retained occurrence of each id (a reused id resolves to its earliest occurrence). */
  const earliest = new Map<string, Entry>();
  /** How many retained updates carry each id that is retained more than once (rare). */
  const reused = new Map<string, number>();
  const listeners = new Set<UpdateListener>();

  function keep(lane: LaneQueue, entry: Entry): void {
    lane.entries.push(entry);
    lane.bytes += entry.weight;
    size++;
    const id = entry.update.id;
    if (!earliest.has(id)) earliest.set(id, entry);
    else reused.set(id, (reused.get(id) ?? 1) + 1);
    while (lane.size > lane.maxCount || lane.bytes > lane.maxBytes) evict(lane);
  }

  function evict(lane: LaneQueue): void {
    const old = lane.shift();
    size--;
    forget(old);
    options.onEvict?.(old.update);
  }

  /** Drops a discarded update from the id index, in O(1) unless its id is retained more than once. */
  function forget(old: Entry): void {
    const id = old.update.id;
    const copies = reused.get(id);
    if (copies === undefined) {
      earliest.delete(id);
      return;
    }
    if (copies > 2) reused.set(id, copies - 1);
    else reused.delete(id);
    if (earliest.get(id) !== old) return;
    // The id was reused: its earliest retained occurrence becomes the cursor (a scan, but a rare one).
    let again: Entry | undefined;
    for (const other of lanes.values()) {
      for (let i = other.head; i < other.entries.length; i++) {
        const candidate = other.entries[i]!;
        if (candidate.update.id === id) {
          if (!again || candidate.seq < again.seq) again = candidate;
          break;
        }
      }
    }
    if (again) earliest.set(id, again);
    else earliest.delete(id);
  }

  /** Retained updates positioned after `seq`, across lanes in position order, at most `limit`. */
  function after(seq: number, limit: number): { updates: Update[]; more: boolean } {
    const queues = [...lanes.values()];
    const at = queues.map((lane) => lane.after(seq));
    const updates: Update[] = [];
    for (;;) {
      let pick = -1;
      for (let q = 0; q < queues.length; q++) {
        const entry = queues[q]!.entries[at[q]!];
        if (entry && (pick === -1 || entry.seq < queues[pick]!.entries[at[pick]!]!.seq)) pick = q;
      }
      if (pick === -1) return { updates, more: false };
      if (updates.length === limit) return { updates, more: true };
      updates.push(queues[pick]!.entries[at[pick]!++]!.update);
    }
  }

  /** Lanes that discarded something positioned after `seq`. */
  const lostAfter = (seq: number): string[] =>
    [...lanes.values()].filter((lane) => lane.lostUpTo > seq).map((lane) => lane.name);

  for (const update of options.initialHistory ?? []) {
    const seq = Math.max(next, Number(update.pos) || 0);
    next = seq + 1;
    const stored: Update = { ...update, pos: String(seq) };
    keep(laneNamed(laneOf(retention, stored.topics[0] ?? '')), {
      seq,
      update: stored,
      weight: weightOf(stored),
    });
  }

  return {
    get size() {
      return size;
    },
    get healthy() {
      return true;
    },
    async publish(input: UpdateInput): Promise<Update> {
      const seq = next;
      const update: Update = { ...input, id: input.id ?? generateId(), pos: String(seq) };
      const lane = laneOf(retention, update.topics[0] ?? '');
      options.onStore?.(update, lane);
      next++;
      keep(laneNamed(lane), { seq, update, weight: weightOf(update) });
      const batch = [update];
      for (const listener of listeners) listener(batch);
      return update;
    },
    subscribe(listener: UpdateListener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async history(cursor: string, limit = Number.POSITIVE_INFINITY): Promise<HistoryResult> {
      if (cursor === EARLIEST) return { found: true, ...after(-1, limit), lost: [] };
      const anchor = earliest.get(cursor);
      if (!anchor) return { found: false, ...after(-1, limit), lost: [] };
      return { found: true, anchor: anchor.update, ...after(anchor.seq, limit), lost: lostAfter(anchor.seq) };
    },
    async historyAfter(pos: string, limit = Number.POSITIVE_INFINITY): Promise<HistoryResult> {
      const seq = Number(pos);
      return { found: true, ...after(seq, limit), lost: lostAfter(seq) };
    },
    async lastEventId(): Promise<string> {
      let newest: Entry | undefined;
      for (const lane of lanes.values()) {
        const last = lane.entries.at(-1);
        if (lane.size > 0 && last && (!newest || last.seq > newest.seq)) newest = last;
      }
      return newest ? newest.update.id : EARLIEST;
    },
    async close() {
      listeners.clear();
    },
  };
}
