/**
 * The SQLite broker: the embedded durable default. History lives in one SQLite database (a file on
 * Node, Bun and Deno, the object's storage in a Durable Object), so a restart, a crash or `kill -9`
 * loses nothing that was answered: a publish resolves only once the transaction holding it has
 * committed. The publishes of one event-loop turn share one transaction (the `defer` scheduler decides
 * what a turn is; Node passes `setImmediate`), and are then announced to listeners in order, in one
 * batch. Web APIs only: the runtime hands in a {@link SqlDriver}. Schema and queries: `sqlite-schema.ts`.
 */
import { RecentPositions } from './recent-positions.ts';
import type { SqlDriver, SqlRow, SqlStatement } from './sql.ts';
import {
  bodyOf,
  LEGACY_TABLE,
  legacyUpdate,
  QUERIES,
  SCHEMA,
  SCHEMA_VERSION,
  updateOf,
} from './sqlite-schema.ts';
import {
  type Broker,
  countRetention,
  EARLIEST,
  generateId,
  type HistoryPage,
  type HistoryResult,
  isHubEvent,
  laneFor,
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

export interface SqliteBrokerOptions {
  /** The database: an adapter from `src/runtimes/` (or `durableObjectSql`). The broker closes it. */
  driver: SqlDriver;
  /** Updates kept for replay, with no byte bound: shorthand for `retention`. Default 1000. */
  historySize?: number;
  /** How long updates are kept, per lane (see {@link Retention}); wins over `historySize`. */
  retention?: Retention;
  /**
   * Schedules the commit of the publishes received so far, so that those of one turn share one
   * transaction. Default `queueMicrotask`; Node, Bun and Deno pass `setImmediate`.
   */
  defer?: (flush: () => void) => void;
  /** The clock of age bounds, in ms. Default `Date.now`. */
  now?: () => number;
  /** Reports stored rows that cannot be read back (they are dropped). Default: `console.error`. */
  onError?: (message: string, error: unknown) => void;
  /**
   * Newest stored positions kept in memory, so that replays near the head run no query (see
   * `RecentPositions`). Default 4,096.
   */
  recentPositions?: number;
}

/** What a lane holds now, and the newest position it discarded (-1: none). */
interface LaneState {
  count: number;
  bytes: number;
  lost: number;
}

/** An update of a volatile lane, held in memory. */
interface Held {
  readonly update: Update;
  readonly pos: number;
  readonly time: number;
  readonly weight: number;
}

/** A volatile lane: its updates in position order from `head` on (the array is compacted as it goes). */
interface VolatileLane extends LaneState {
  held: Held[];
  head: number;
  /** The same, less hub events (`isHubEvent`): what a reader that skips them reads, from `othersHead` on. */
  others: Held[];
  othersHead: number;
  /** The lane's bounds, looked up once (retention does not change while the broker runs). */
  readonly limits: { maxCount: number; maxBytes: number; maxAge: number };
}

/** Drops the first `head` entries of `list` once they are most of it. */
const compacted = (list: Held[], head: number): boolean => head > 1024 && head * 2 > list.length;

interface Pending {
  input: UpdateInput;
  resolve(update: Update): void;
  reject(error: unknown): void;
}

/**
 * Opens the broker on `driver`: creates the schema when missing, moves the Durable Object's former
 * history table into it, applies today's retention to what was kept, and goes on numbering after the
 * last position ever given out.
 *
 * @example
 * // On Node (`openBetterSqlite` is in `ssehub/node`; Bun and Deno have their own):
 * const broker = createSqliteBroker({ driver: await openBetterSqlite('ssehub.db'), retention, defer: setImmediate });
 */
export function createSqliteBroker(options: SqliteBrokerOptions): Broker & { readonly size: number } {
  const { driver } = options;
  const retention = options.retention ?? countRetention(Math.max(0, Math.floor(options.historySize ?? 1000)));
  const now = options.now ?? Date.now;
  const defer = options.defer ?? ((flush: () => void) => queueMicrotask(flush));
  const onError = options.onError ?? ((message, error) => console.error(`ssehub: ${message}`, error));

  driver.exec(SCHEMA);
  const q = Object.fromEntries(
    Object.entries(QUERIES)
      .filter(([name]) => name !== 'legacyRows')
      .map(([name, sql]) => [name, driver.prepare(sql)]),
  ) as Record<Exclude<keyof typeof QUERIES, 'legacyRows'>, SqlStatement>;

  const lanes = new Map<string, LaneState>();
  /** Lanes kept in memory only (`Lane.volatile`), and their updates by id. */
  const volatile = new Map<string, VolatileLane>();
  const heldById = new Map<string, Held>();
  let last = -1;
  let clock = Number.NEGATIVE_INFINITY;
  let size = 0;
  let nextExpiry = Number.POSITIVE_INFINITY;
  const recent = new RecentPositions(options.recentPositions ?? 4096);
  const limits = (name: string) => {
    const lane = limitsOf(retention, name);
    return {
      maxCount: Math.max(0, Math.floor(lane.maxCount)),
      maxBytes: lane.maxBytes,
      maxAge: maxAgeOf(lane),
    };
  };
  const stateOf = (name: string): LaneState => {
    let state = lanes.get(name);
    if (!state) {
      state = { count: 0, bytes: 0, lost: -1 };
      lanes.set(name, state);
    }
    return state;
  };
  const num = (value: unknown): number => Number(value ?? 0);

  /** Reads the lanes' state and the last position from the database (at start, and after a failed commit). */
  function load(): void {
    lanes.clear();
    size = 0;
    for (const row of q.losses.all()) stateOf(String(row.name)).lost = num(row.lost);
    for (const row of q.lanes.all()) {
      const state = stateOf(String(row.lane));
      state.count = num(row.n);
      state.bytes = num(row.w);
      size += state.count;
      clock = Math.max(clock, num(row.t));
    }
    // Never backwards: volatile lanes may hold positions past the last one committed.
    last = Math.max(num(q.meta.get('last')?.value ?? -1), num(q.maxPos.get()?.p ?? -1), heldLast());
    for (const lane of volatile.values()) size += lane.count;
    nextExpiry = Number(q.nextExpiry.get()?.expires ?? Number.POSITIVE_INFINITY);
    recent.reset(q.before.all(Number.MAX_SAFE_INTEGER, recent.wanted).map((row) => num(row.pos)));
  }

  /** Drops the oldest update of `lane` (inside a transaction). */
  function evictOldest(name: string, state: LaneState): void {
    const oldest = q.oldestOfLane.get(name);
    if (!oldest) {
      state.count = 0;
      state.bytes = 0;
      return;
    }
    q.deleteAt.run(oldest.pos!);
    recent.remove(num(oldest.pos));
    state.count--;
    state.bytes -= num(oldest.weight);
    state.lost = Math.max(state.lost, num(oldest.pos));
    size--;
    q.setLost.run(name, state.lost);
    if (num(oldest.alternates) > 0) ruleLost(name, num(oldest.pos));
  }

  /** A per-topic lane discarded an update with alternate topics: its rule reports the loss (see `ruleOfTopicLane`). */
  function ruleLost(name: string, pos: number): void {
    const rule = ruleOfTopicLane(retention, name);
    if (rule === undefined) return;
    const state = stateOf(rule);
    state.lost = Math.max(state.lost, pos);
    q.setLost.run(rule, state.lost);
  }

  function bound(name: string, state: LaneState): void {
    const { maxCount, maxBytes } = limits(name);
    while (state.count > 0 && (state.count > maxCount || state.bytes > maxBytes)) evictOldest(name, state);
  }

  /** Drops every update past its lane's age bound (inside a transaction). */
  function expire(time: number): void {
    if (nextExpiry > time) return;
    for (const row of q.expiredPerLane.all(time)) {
      const name = String(row.lane);
      const state = stateOf(name);
      state.count -= num(row.n);
      state.bytes -= num(row.w);
      state.lost = Math.max(state.lost, num(row.p));
      size -= num(row.n);
      q.setLost.run(name, state.lost);
    }
    for (const row of q.expiredWithAlternates.all(time)) ruleLost(String(row.lane), num(row.p));
    for (const row of q.expiredPositions.all(time)) recent.remove(num(row.pos));
    q.deleteExpired.run(time);
    nextExpiry = Number(q.nextExpiry.get()?.expires ?? Number.POSITIVE_INFINITY);
  }

  const isVolatile = (topic: string) => laneFor(retention, topic)?.volatile === true;

  /** The newest position volatile lanes hold (-1: none). */
  function heldLast(): number {
    let pos = -1;
    for (const lane of volatile.values()) {
      if (lane.count > 0) pos = Math.max(pos, lane.held[lane.held.length - 1]!.pos);
    }
    return pos;
  }

  /** Forgets what volatile lanes took after `pos` (their batch was rolled back). */
  function unholdAfter(pos: number): void {
    for (const lane of volatile.values()) {
      while (lane.count > 0 && lane.held[lane.held.length - 1]!.pos > pos) {
        const held = lane.held.pop()!;
        if (lane.others.length > lane.othersHead && lane.others[lane.others.length - 1] === held)
          lane.others.pop();
        lane.count--;
        lane.bytes -= held.weight;
        size--;
        heldById.delete(held.update.id);
      }
    }
  }

  function volatileLane(name: string): VolatileLane {
    let lane = volatile.get(name);
    if (!lane) {
      // Created at start-up for the lanes the retention names, so that a restart is reported there.
      lane = {
        count: 0,
        bytes: 0,
        lost: -1,
        held: [],
        head: 0,
        others: [],
        othersHead: 0,
        limits: limits(name),
      };
      volatile.set(name, lane);
    }
    return lane;
  }

  /** Drops the oldest update of a volatile lane. */
  function dropHeld(lane: VolatileLane): void {
    const oldest = lane.held[lane.head]!;
    lane.head++;
    lane.count--;
    lane.bytes -= oldest.weight;
    lane.lost = Math.max(lane.lost, oldest.pos);
    size--;
    heldById.delete(oldest.update.id);
    if (lane.others[lane.othersHead] === oldest) {
      lane.othersHead++;
      if (compacted(lane.others, lane.othersHead)) {
        lane.others = lane.others.slice(lane.othersHead);
        lane.othersHead = 0;
      }
    }
    if (compacted(lane.held, lane.head)) {
      lane.held = lane.held.slice(lane.head);
      lane.head = 0;
    }
  }

  /** Keeps an update of a volatile lane, within the lane's bounds. */
  function hold(name: string, held: Held): void {
    const lane = volatileLane(name);
    lane.held.push(held);
    if (!isHubEvent(held.update)) lane.others.push(held);
    lane.count++;
    lane.bytes += held.weight;
    size++;
    heldById.set(held.update.id, held);
    const { maxCount, maxBytes } = lane.limits;
    while (lane.count > 0 && (lane.count > maxCount || lane.bytes > maxBytes)) dropHeld(lane);
    // Age bounds: applied by the flush that stores it, before it (nothing it adds is due yet).
  }

  /** Drops what volatile lanes hold past their age bound. */
  function expireHeld(time: number): void {
    for (const lane of volatile.values()) {
      const maxAge = lane.limits.maxAge;
      if (maxAge === 0) continue;
      while (lane.count > 0 && lane.held[lane.head]!.time + maxAge <= time) dropHeld(lane);
    }
  }

  /** What volatile lanes hold after `pos` (hub events left out if asked), in position order, at most `limit + 1`. */
  function heldAfter(pos: number, limit: number, skipHubEvents: boolean): Held[] {
    const out: Held[] = [];
    for (const lane of volatile.values()) {
      const list = skipHubEvents ? lane.others : lane.held;
      // Binary search for the first position after `pos`.
      let lo = skipHubEvents ? lane.othersHead : lane.head;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (list[mid]!.pos > pos) hi = mid;
        else lo = mid + 1;
      }
      const end = Number.isFinite(limit) ? Math.min(list.length, lo + limit + 1) : list.length;
      for (let i = lo; i < end; i++) out.push(list[i]!);
    }
    if (volatile.size > 1) out.sort((a, b) => a.pos - b.pos);
    return out;
  }

  /** What volatile lanes hold before `pos`, newest first, at most `limit + 1`. */
  function heldBefore(pos: number, limit: number): Held[] {
    const out: Held[] = [];
    for (const lane of volatile.values()) {
      // Binary search for the first position at or after `pos`.
      let lo = lane.head;
      let hi = lane.held.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (lane.held[mid]!.pos >= pos) hi = mid;
        else lo = mid + 1;
      }
      const end = Number.isFinite(limit) ? Math.max(lane.head, lo - limit - 1) : lane.head;
      for (let i = lo - 1; i >= end; i--) out.push(lane.held[i]!);
    }
    if (volatile.size > 1) out.sort((a, b) => b.pos - a.pos);
    return out;
  }

  /** Stores one update (inside a transaction); returns the retained one for a repeated id. */
  function store(input: UpdateInput): { update: Update; fresh: boolean; held?: true } {
    if (input.id !== undefined) {
      const held = heldById.get(input.id);
      if (held) return { update: held.update, fresh: false };
      const retained = q.byId.get(input.id);
      if (retained) return { update: read(retained), fresh: false };
    }
    const pos = ++last;
    const update = stamp(input, input.id ?? generateId(), String(pos));
    const name = laneOf(retention, update.topics[0] ?? '');
    const weight = weightOf(update);
    if (isVolatile(update.topics[0] ?? '')) {
      hold(name, { update, pos, time: clock, weight });
      return { update, fresh: true, held: true };
    }
    const maxAge = limits(name).maxAge;
    const expires = maxAge > 0 ? clock + maxAge : null;
    if (expires !== null) nextExpiry = Math.min(nextExpiry, expires);
    q.insert.run(pos, update.id, name, weight, clock, expires, bodyOf(update));
    recent.add(pos);
    const state = stateOf(name);
    state.count++;
    state.bytes += weight;
    size++;
    bound(name, state);
    return { update, fresh: true };
  }

  /**
   * Updates read back, by position, for as long as something holds them: concurrent replays of the
   * same history share one object per update (and whatever the hub derives from it, such as its
   * encoded frame) instead of a copy each, as they would with the memory broker.
   */
  const shared = new Map<number, WeakRef<Update>>();
  // Every runtime here has both (workerd too); without them, each read is its own copy.
  const weak = typeof WeakRef === 'function' && typeof FinalizationRegistry === 'function';
  const forget = weak
    ? new FinalizationRegistry<number>((pos) => {
        if (shared.get(pos)?.deref() === undefined) shared.delete(pos);
      })
    : undefined;
  function share(update: Update): Update {
    if (!forget) return update;
    const pos = Number(update.pos);
    shared.set(pos, new WeakRef(update));
    forget.register(update, pos);
    return update;
  }
  const sharedAt = (pos: number): Update | undefined => shared.get(pos)?.deref();

  function read(row: SqlRow): Update {
    return sharedAt(num(row.pos)) ?? share(updateOf(row.pos, row.id, row.body));
  }

  // Start-up: the former Durable Object table, today's bounds over what was kept, the schema version.
  driver.transaction(() => {
    const legacyLast = migrateLegacy(driver, (update) => {
      clock = Math.max(clock, now());
      const name = laneOf(retention, update.topics[0] ?? '');
      q.insert.run(Number(update.pos), update.id, name, weightOf(update), clock, null, bodyOf(update));
    });
    // Volatile lanes keep nothing on disk (a file written before a lane became volatile may).
    const volatileLanes = (retention.lanes ?? []).filter((lane) => lane.volatile && !lane.perTopic);
    for (const lane of volatileLanes) q.deleteLane.run(lane.name);
    load();
    last = Math.max(last, legacyLast);
    if (last >= 0) {
      // What volatile lanes held before this start is gone: every cursor from before it (at or
      // before `last`) is told so, and positions go on after the one given to that loss.
      last++;
      for (const lane of volatileLanes) volatileLane(lane.name).lost = last;
    }
    for (const name of lanes.keys()) {
      const maxAge = limits(name).maxAge;
      q.restamp.run(maxAge, maxAge, name);
    }
    nextExpiry = Number(q.nextExpiry.get()?.expires ?? Number.POSITIVE_INFINITY);
    expire(now());
    for (const [name, state] of lanes) bound(name, state);
    q.setMeta.run('version', SCHEMA_VERSION);
    q.setMeta.run('last', last);
  });

  const listeners = new Set<UpdateListener>();
  let pending: Pending[] = [];
  let scheduled = false;
  let closed = false;

  /** Commits what was published since the last flush, then announces it and answers the publishers. */
  function flush(): void {
    scheduled = false;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    const results: { update: Update; fresh: boolean; held?: true }[] = [];
    const before = last;
    clock = Math.max(clock, now());
    expireHeld(clock);
    try {
      // A batch of volatile updates only writes nothing (unless age bounds are due on disk).
      if (nextExpiry > clock && batch.every((p) => isVolatile(p.input.topics[0] ?? ''))) {
        for (const { input } of batch) results.push(store(input));
      } else {
        driver.transaction(() => {
          clock = Math.max(clock, now());
          expire(clock);
          expireHeld(clock);
          for (const { input } of batch) results.push(store(input));
          q.setMeta.run('last', last);
        });
      }
    } catch (error) {
      // Rolled back: nothing of the batch is stored; the in-memory state follows the database again.
      unholdAfter(before);
      load();
      for (const p of batch) p.reject(error);
      return;
    }
    // A held update is read back as the object held (no row to share it for), so it needs no weak
    // reference: the subscription events of a reconnect storm would otherwise add one each.
    const fresh = results.filter((r) => r.fresh).map((r) => (r.held ? r.update : share(r.update)));
    if (fresh.length > 0) for (const listener of listeners) listener(fresh);
    batch.forEach((p, i) => {
      p.resolve(results[i]!.update);
    });
  }

  /** The updates at these positions (read only when no replay holds them), dropping unreadable ones. */
  function updatesOf(positions: readonly number[]): Update[] {
    const out: Update[] = [];
    for (const pos of positions) {
      const held = sharedAt(pos);
      if (held) {
        out.push(held);
        continue;
      }
      const stored = q.at.get(pos);
      if (!stored) continue;
      try {
        out.push(read(stored));
      } catch (error) {
        onError(`skipping an unreadable stored update at position ${pos}`, error);
      }
    }
    return out;
  }

  /** Age bounds hold at read time too. */
  function expireNow(): void {
    const time = now();
    expireHeld(time);
    if (nextExpiry <= time) driver.transaction(() => expire(time));
  }

  /**
   * One page of stored rows and volatile updates, both in the same order (`direction` 1: oldest
   * first, -1: newest first) and each at most `limit + 1` long: merged, then cut at `limit`.
   */
  function page(positions: number[], held: Held[], limit: number, direction: 1 | -1): HistoryPage {
    if (held.length === 0) {
      const more = positions.length > limit;
      return { updates: updatesOf(more ? positions.slice(0, limit) : positions), more };
    }
    const stored = updatesOf(positions);
    const merged: Update[] = [];
    let i = 0;
    let j = 0;
    while ((i < stored.length || j < held.length) && merged.length <= limit) {
      const storedFirst =
        j >= held.length || (i < stored.length && (Number(stored[i]!.pos) - held[j]!.pos) * direction < 0);
      merged.push(storedFirst ? stored[i++]! : held[j++]!.update);
    }
    const more = merged.length > limit;
    return { updates: more ? merged.slice(0, limit) : merged, more };
  }

  const rowLimit = (limit: number) => (Number.isFinite(limit) ? limit + 1 : -1);
  const positionsOf = (rows: SqlRow[]) => rows.map((row) => num(row.pos));

  function after(pos: number, limit: number, skipHubEvents = false): HistoryPage {
    // One more than the page, to tell whether there is more.
    const positions = recent.after(pos, limit + 1) ?? positionsOf(q.after.all(pos, rowLimit(limit)));
    return page(positions, heldAfter(pos, limit, skipHubEvents), limit, 1);
  }

  /** Newest first; `pos` undefined: from the newest. */
  function before(pos: number | undefined, limit: number): HistoryPage {
    // Positions are integers from 0: past the largest safe one is past every update.
    const at = pos ?? Number.MAX_SAFE_INTEGER;
    const positions = recent.before(at, limit + 1) ?? positionsOf(q.before.all(at, rowLimit(limit)));
    return page(positions, heldBefore(at, limit), limit, -1);
  }

  const lostAfter = (pos: number): string[] => [
    ...[...lanes].filter(([, state]) => state.lost > pos).map(([name]) => name),
    ...[...volatile].filter(([, lane]) => lane.lost > pos).map(([name]) => name),
  ];

  return {
    get size() {
      return size;
    },
    get healthy() {
      return !closed;
    },
    publish(input: UpdateInput): Promise<Update> {
      if (closed) return Promise.reject(new Error('the broker is closed'));
      return new Promise<Update>((resolve, reject) => {
        pending.push({ input, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          defer(flush);
        }
      });
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
      expireNow();
      if (cursor === EARLIEST) return { found: true, ...after(-1, limit, skipHubEvents), lost: [] };
      const held = heldById.get(cursor);
      if (held) {
        return {
          found: true,
          anchor: held.update,
          ...after(held.pos, limit, skipHubEvents),
          lost: lostAfter(held.pos),
        };
      }
      const row = q.byId.get(cursor);
      if (!row) return { found: false, ...after(-1, limit, skipHubEvents), lost: [] };
      const pos = num(row.pos);
      return { found: true, anchor: read(row), ...after(pos, limit, skipHubEvents), lost: lostAfter(pos) };
    },
    async historyAfter(
      pos: string,
      limit = Number.POSITIVE_INFINITY,
      skipHubEvents = false,
    ): Promise<HistoryResult> {
      expireNow();
      const at = Number(pos);
      return { found: true, ...after(at, limit, skipHubEvents), lost: lostAfter(at) };
    },
    async historyBefore(pos: string | undefined, limit: number): Promise<HistoryPage> {
      expireNow();
      return before(pos === undefined ? undefined : Number(pos), limit);
    },
    async lastEventId(): Promise<string> {
      expireNow();
      const row = q.newest.get();
      const heldPos = heldLast();
      if (heldPos > (row ? num(row.pos) : -1)) {
        for (const lane of volatile.values()) {
          const newest = lane.held[lane.held.length - 1];
          if (lane.count > 0 && newest!.pos === heldPos) return newest!.update.id;
        }
      }
      return row ? String(row.id) : EARLIEST;
    },
    async close() {
      if (closed) return;
      // What was published is committed (and answered) before the database closes.
      flush();
      closed = true;
      listeners.clear();
      driver.close();
    },
  };
}

/**
 * Moves the rows of the Durable Object's former history table into the new one, then drops it; returns
 * the last position it held (-1: none), which is never given out again.
 */
function migrateLegacy(driver: SqlDriver, insert: (update: Update) => void): number {
  // Created when missing so that reading it works the same everywhere (no catalog query needed).
  driver.exec(`CREATE TABLE IF NOT EXISTS ${LEGACY_TABLE} (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)`);
  const seen = new Set<string>();
  let last = -1;
  for (const row of driver.prepare(QUERIES.legacyRows).all()) {
    last = Math.max(last, Number(row.seq));
    const update = legacyUpdate(row.seq, row.body);
    // Unreadable rows are dropped; a repeated id keeps its earliest occurrence (ids are unique now).
    if (!update || seen.has(update.id)) continue;
    seen.add(update.id);
    insert(update);
  }
  driver.exec(`DROP TABLE ${LEGACY_TABLE}`);
  return last;
}
