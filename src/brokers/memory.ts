import {
  type Broker,
  countRetention,
  DEFAULT_LANE,
  EARLIEST,
  generateId,
  type HistoryPage,
  type HistoryResult,
  isHubEvent,
  laneOf,
  limitsOf,
  maxAgeOf,
  type Retention,
  ruleOfTopicLane,
  stamp,
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
  /** The clock age bounds are measured with, in ms. Default `Date.now`. */
  now?: () => number;
}

/** One retained update, with its position as a number and what it weighs. */
interface Entry {
  readonly seq: number;
  readonly update: Update;
  readonly weight: number;
  /** When its lane's age bound discards it (ms), or infinity. */
  readonly expires: number;
}

/**
 * The updates of one lane, oldest first: a queue that drops from its head. Beside it, the same less
 * hub events (subscription events), for readers that skip them (a resuming subscriber need not walk
 * past everyone else's subscription events).
 */
class LaneQueue {
  entries: Entry[] = [];
  head = 0;
  others: Entry[] = [];
  othersHead = 0;
  bytes = 0;
  /** Position of the newest update this lane discarded, -1 before any. */
  lostUpTo = -1;

  readonly name: string;
  readonly maxCount: number;
  readonly maxBytes: number;
  /** Age bound in ms, 0 for none. */
  readonly maxAge: number;
  /** True while the lane is in the expiry heap. */
  scheduled = false;

  constructor(name: string, maxCount: number, maxBytes: number, maxAge: number) {
    this.name = name;
    this.maxCount = maxCount;
    this.maxBytes = maxBytes;
    this.maxAge = maxAge;
  }

  get size(): number {
    return this.entries.length - this.head;
  }

  oldest(): Entry | undefined {
    return this.entries[this.head];
  }

  push(entry: Entry): void {
    this.entries.push(entry);
    if (!isHubEvent(entry.update)) this.others.push(entry);
  }

  shift(): Entry {
    const entry = this.entries[this.head]!;
    this.entries[this.head++] = undefined as unknown as Entry;
    // Compact once the dropped head is both large and most of the array.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    // The oldest entry of the lane is the oldest of the others too, when it is one of them.
    if (this.others[this.othersHead] === entry) {
      this.others[this.othersHead++] = undefined as unknown as Entry;
      if (this.othersHead > 1024 && this.othersHead * 2 > this.others.length) {
        this.others = this.others.slice(this.othersHead);
        this.othersHead = 0;
      }
    }
    this.bytes -= entry.weight;
    this.lostUpTo = entry.seq;
    return entry;
  }

  /** The entries (or only the others), and the index of the first one positioned after `seq`. */
  after(seq: number, skipHubEvents = false): { list: Entry[]; at: number } {
    const list = skipHubEvents ? this.others : this.entries;
    let lo = skipHubEvents ? this.othersHead : this.head;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return { list, at: lo };
  }
}

/**
 * The in-process broker: bounded history in retention lanes and synchronous fan-out. Nothing survives
 * the process: `createSqliteBroker` is the durable one.
 *
 * @example
 * const broker = createMemoryBroker({ historySize: 10_000 });
 */
export function createMemoryBroker(options: MemoryBrokerOptions = {}): Broker & { readonly size: number } {
  const retention = options.retention ?? countRetention(Math.max(0, Math.floor(options.historySize ?? 1000)));
  const now = options.now ?? Date.now;
  const lanes = new Map<string, LaneQueue>();
  const laneNamed = (name: string): LaneQueue => {
    let lane = lanes.get(name);
    if (!lane) {
      const limits = limitsOf(retention, name);
      lane = new LaneQueue(name, Math.max(0, Math.floor(limits.maxCount)), limits.maxBytes, maxAgeOf(limits));
      lanes.set(name, lane);
    }
    return lane;
  };
  laneNamed(DEFAULT_LANE);
  for (const lane of retention.lanes ?? []) if (!lane.perTopic) laneNamed(lane.name);
  /** The next position to assign. */
  let next = 0;
  let size = 0;
  /** When updates were stored: never goes back, so that each lane's expiry times grow with positions. */
  let clock = Number.NEGATIVE_INFINITY;
  /** Every retained update by id: ids are unique in retained history (a repeated id is not stored again). */
  const byId = new Map<string, Entry>();
  const listeners = new Set<UpdateListener>();
  /** Per rule of per-topic lanes, the newest update with alternate topics its lanes discarded. */
  const rulesLost = new Map<string, number>();
  /** Lanes with an age bound and updates, by when their oldest update expires (a min-heap). */
  const expiring = new ExpiryHeap();

  function keep(lane: LaneQueue, entry: Entry): void {
    lane.push(entry);
    lane.bytes += entry.weight;
    size++;
    byId.set(entry.update.id, entry);
    while (lane.size > lane.maxCount || lane.bytes > lane.maxBytes) evict(lane);
    if (lane.maxAge > 0 && lane.size > 0 && !lane.scheduled) {
      lane.scheduled = true;
      expiring.push(lane.oldest()!.expires, lane);
    }
  }

  function evict(lane: LaneQueue): void {
    const old = lane.shift();
    size--;
    if (old.update.topics.length > 1) {
      const rule = ruleOfTopicLane(retention, lane.name);
      if (rule !== undefined) rulesLost.set(rule, old.seq);
    }
    if (byId.get(old.update.id) === old) byId.delete(old.update.id);
    options.onEvict?.(old.update);
  }

  /** Discards every update older than its lane's age bound. */
  function expire(): void {
    const time = now();
    for (let top = expiring.peek(); top && top.at <= time; top = expiring.peek()) {
      expiring.pop();
      const lane = top.lane;
      while (lane.size > 0 && lane.oldest()!.expires <= time) evict(lane);
      if (lane.size > 0) expiring.push(lane.oldest()!.expires, lane);
      else lane.scheduled = false;
    }
  }

  /**
   * Retained updates positioned after `seq`, across lanes in position order, at most `limit`; hub
   * events left out with `skipHubEvents`.
   */
  function after(seq: number, limit: number, skipHubEvents = false): { updates: Update[]; more: boolean } {
    const reads = [...lanes.values()]
      .filter((lane) => lane.size > 0)
      .map((lane) => lane.after(seq, skipHubEvents));
    const updates: Update[] = [];
    for (;;) {
      let pick: { list: Entry[]; at: number } | undefined;
      for (const read of reads) {
        const entry = read.list[read.at];
        if (entry && (!pick || entry.seq < pick.list[pick.at]!.seq)) pick = read;
      }
      if (!pick) return { updates, more: false };
      if (updates.length === limit) return { updates, more: true };
      updates.push(pick.list[pick.at++]!.update);
    }
  }

  /** Retained updates positioned before `seq`, across lanes in position order, newest first, at most `limit`. */
  function before(seq: number, limit: number): HistoryPage {
    const queues = [...lanes.values()].filter((lane) => lane.size > 0);
    // Per lane, the index of its newest entry before `seq` (below its head: none left).
    const at = queues.map((lane) => lane.after(seq - 1).at - 1);
    const updates: Update[] = [];
    for (;;) {
      let pick = -1;
      for (let q = 0; q < queues.length; q++) {
        if (at[q]! < queues[q]!.head) continue;
        const entry = queues[q]!.entries[at[q]!]!;
        if (pick === -1 || entry.seq > queues[pick]!.entries[at[pick]!]!.seq) pick = q;
      }
      if (pick === -1) return { updates, more: false };
      if (updates.length === limit) return { updates, more: true };
      updates.push(queues[pick]!.entries[at[pick]!--]!.update);
    }
  }

  /** Lanes that discarded something positioned after `seq`. */
  const lostAfter = (seq: number): string[] => [
    ...[...lanes.values()].filter((lane) => lane.lostUpTo > seq).map((lane) => lane.name),
    ...[...rulesLost].filter(([, lost]) => lost > seq).map(([rule]) => rule),
  ];

  function store(update: Update, seq: number): void {
    const lane = laneNamed(laneOf(retention, update.topics[0] ?? ''));
    clock = Math.max(clock, now());
    const expires = lane.maxAge > 0 ? clock + lane.maxAge : Number.POSITIVE_INFINITY;
    keep(lane, { seq, update, weight: weightOf(update), expires });
  }

  for (const update of options.initialHistory ?? []) {
    if (byId.has(update.id)) continue;
    const seq = Math.max(next, Number(update.pos) || 0);
    next = seq + 1;
    store({ ...update, pos: String(seq) }, seq);
  }

  return {
    get size() {
      return size;
    },
    get healthy() {
      return true;
    },
    async publish(input: UpdateInput): Promise<Update> {
      expire();
      if (input.id !== undefined) {
        const retained = byId.get(input.id);
        if (retained) return retained.update;
      }
      const seq = next;
      const update = stamp(input, input.id ?? generateId(), String(seq));
      options.onStore?.(update, laneOf(retention, update.topics[0] ?? ''));
      next++;
      store(update, seq);
      const batch = [update];
      for (const listener of listeners) listener(batch);
      return update;
    },
    subscribe(listener: UpdateListener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async history(
      cursor: string,
      limit = Number.POSITIVE_INFINITY,
      skipHubEvents = false,
    ): Promise<HistoryResult> {
      expire();
      if (cursor === EARLIEST) return { found: true, ...after(-1, limit, skipHubEvents), lost: [] };
      const anchor = byId.get(cursor);
      if (!anchor) return { found: false, ...after(-1, limit, skipHubEvents), lost: [] };
      return {
        found: true,
        anchor: anchor.update,
        ...after(anchor.seq, limit, skipHubEvents),
        lost: lostAfter(anchor.seq),
      };
    },
    async historyAfter(
      pos: string,
      limit = Number.POSITIVE_INFINITY,
      skipHubEvents = false,
    ): Promise<HistoryResult> {
      expire();
      const seq = Number(pos);
      return { found: true, ...after(seq, limit, skipHubEvents), lost: lostAfter(seq) };
    },
    async historyBefore(pos: string | undefined, limit: number): Promise<HistoryPage> {
      expire();
      return before(pos === undefined ? Number.POSITIVE_INFINITY : Number(pos), limit);
    },
    async lastEventId(): Promise<string> {
      expire();
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

/** A binary min-heap of lanes by the time their oldest update expires. */
class ExpiryHeap {
  readonly #items: { at: number; lane: LaneQueue }[] = [];

  peek(): { at: number; lane: LaneQueue } | undefined {
    return this.#items[0];
  }

  push(at: number, lane: LaneQueue): void {
    const items = this.#items;
    items.push({ at, lane });
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.at <= items[i]!.at) break;
      [items[parent], items[i]] = [items[i]!, items[parent]!];
      i = parent;
    }
  }

  pop(): void {
    const items = this.#items;
    const last = items.pop()!;
    if (items.length === 0) return;
    items[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < items.length && items[l]!.at < items[min]!.at) min = l;
      if (r < items.length && items[r]!.at < items[min]!.at) min = r;
      if (min === i) break;
      [items[min], items[i]] = [items[i]!, items[min]!];
      i = min;
    }
  }
}
