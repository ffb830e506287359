/**
 * The brokers a relay's hubs run on: the hub code (matching, authorization, replay then live with no
 * gap and no duplicate at the seam, presence) is the same as in a shard; only where updates come from
 * differs. Both read the relay's feeds (one per shard) and ask the shards for history.
 *
 * - {@link ShardMirror}: one shard as it is, for subscriptions that stay in that shard. Same ids, same
 *   positions, same cursors as the shard itself.
 * - {@link MergedBroker}: every shard, for subscriptions that span shards. An update published to
 *   topics of several shards is stored in each of them; a merged stream takes it from one only, its
 *   *owner*: the first shard among the objects of its topics (the canonical topic's, when that is a
 *   shard). Its event id is a composite cursor (`cursor.ts`): the relay's position in every shard
 *   after that update, then the update's id.
 *
 * A plain id as a cursor (a publisher's answer) resumes after where the relay had read every shard
 * when it sent that update, if it did lately; else it is located in the shards that store it.
 *
 * Positions of the merged broker are the relay's own arrival order; a replay is read from the shards,
 * after the cursor's position in each and up to where the relay had read them when the replay began
 * (everything after that arrives live), shard after shard. Its updates all carry one position, which
 * the hub's seam compares with live arrivals: `{arrival count at the start}-{replay handle}`.
 */
import {
  type HistoryPage as BackwardPage,
  type Broker,
  DEFAULT_LANE,
  EARLIEST,
  type HistoryResult,
  type Update,
  type UpdateInput,
  type UpdateListener,
} from '../../brokers/index.ts';
import { composeCursor, isComposite, parseCursor, type Vector } from './cursor.ts';
import type { ObjectLink, Upstream } from './upstream.ts';
import { asUpdate, type HistoryPage, INTERNAL, pageOf, type ShardUpdate } from './wire.ts';

/** What the relay's brokers need from the relay. */
export interface RelaySources {
  readonly shards: number;
  /** The feed of shard `k` (started by the relay before a subscriber is let in). */
  upstream(k: number): Upstream;
  /** Internal requests to shard `k`. */
  link(k: number): ObjectLink;
  /** Publishes (a subscription event) to the object its topics live in. */
  publish(input: UpdateInput): Promise<Update>;
  /** The shard a merged stream takes an update from (see the module comment). */
  owner(topics: readonly string[]): number | undefined;
}

/** Update ids this relay remembers where it sent them (see {@link MergedBroker.history}). */
const RECENT_IDS = 8192;
/** Updates a merged hub keeps for `rewind`, at most, and their bytes of data. */
const REWIND_UPDATES = 1024;
const REWIND_BYTES = 8 * 1024 * 1024;
/** How long a resumed subscription waits for the relay to read as far as its cursor says it had. */
const CATCH_UP_MS = 2000;
/** Updates asked of a shard per history request. */
const SHARD_PAGE = 256;
/** Replays in progress, and how long one may sit unread. */
const MAX_REPLAYS = 4096;
const REPLAY_IDLE_MS = 10 * 60_000;

/**
 * A page that tells the hub's seam how far the replay went: private and topic-less, so no subscriber
 * receives it, but the hub records its position as replayed (live arrivals at or before it are
 * dropped). Sent at the end of every replay.
 */
function seamMarker(pos: string): Update {
  return { id: '', topics: [], data: '', private: true, pos };
}

async function fetchPage(link: ObjectLink, query: string): Promise<HistoryPage> {
  const response = await link(`${INTERNAL}history?${query}`);
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`history answered ${response.status}`);
  }
  return pageOf(await response.json());
}

/** Shared by both brokers: listeners and the parts of the contract a relay does not serve. */
abstract class RelayBroker implements Broker {
  protected readonly listeners = new Set<UpdateListener>();
  protected readonly sources: RelaySources;

  constructor(sources: RelaySources) {
    this.sources = sources;
  }

  get healthy(): boolean {
    return true;
  }

  publish(input: UpdateInput): Promise<Update> {
    return this.sources.publish(input);
  }

  subscribe(listener: UpdateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  protected emit(update: Update): void {
    const batch = [update];
    for (const listener of this.listeners) listener(batch);
  }

  abstract history(cursor: string, limit?: number): Promise<HistoryResult>;
  abstract historyAfter(pos: string, limit?: number): Promise<HistoryResult>;
  abstract historyBefore(pos: string | undefined, limit: number): Promise<BackwardPage>;
  abstract lastEventId(): Promise<string>;

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

/** One shard, mirrored: see the module comment. */
export class ShardMirror extends RelayBroker {
  readonly shard: number;

  constructor(sources: RelaySources, shard: number) {
    super(sources);
    this.shard = shard;
  }

  /** A feed update of this shard. */
  update(update: ShardUpdate): void {
    this.emit(asUpdate(update, update.id, String(update.pos)));
  }

  async history(cursor: string, limit = SHARD_PAGE): Promise<HistoryResult> {
    const size = Math.min(SHARD_PAGE, Math.max(1, limit));
    const vector = isComposite(cursor) ? parseCursor(cursor, this.sources.shards) : undefined;
    // A composite cursor (from a merged stream) resumes from its position in this shard.
    const query = vector
      ? `after=${vector[this.shard]}&limit=${size}`
      : `cursor=${encodeURIComponent(cursor)}&limit=${size}`;
    const page = await fetchPage(this.sources.link(this.shard), query);
    const found = vector ? true : page.found;
    const anchor = vector ? vector[this.shard]! : page.anchor;
    return this.#result(page, found, anchor);
  }

  async historyAfter(pos: string, limit = SHARD_PAGE): Promise<HistoryResult> {
    const size = Math.min(SHARD_PAGE, Math.max(1, limit));
    const page = await fetchPage(this.sources.link(this.shard), `after=${Number(pos)}&limit=${size}`);
    return this.#result(page, true, undefined);
  }

  #result(page: HistoryPage, found: boolean, anchor: number | undefined): HistoryResult {
    const updates = page.updates.map((u) => asUpdate(u, u.id, String(u.pos)));
    // The feed may still be delivering what this page holds, or what came before the cursor: the marker
    // tells the seam to drop those when they arrive.
    const last = page.updates.at(-1)?.pos ?? anchor;
    if (!page.more && last !== undefined) updates.push(seamMarker(String(last)));
    return { found, updates, more: page.more, lost: page.lost };
  }

  /** Read backwards from the shard itself (`rewind`): same positions, so the seam holds as there. */
  async historyBefore(pos: string | undefined, limit: number): Promise<BackwardPage> {
    const size = Math.min(SHARD_PAGE, Math.max(1, limit));
    const query = `${pos === undefined ? '' : `pos=${Number(pos)}&`}limit=${size}`;
    const response = await this.sources.link(this.shard)(`${INTERNAL}before?${query}`);
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`history before answered ${response.status}`);
    }
    const body = (await response.json()) as { updates?: unknown; more?: unknown };
    const page = pageOf({ updates: body.updates, lost: [], more: body.more });
    return { updates: page.updates.map((u) => asUpdate(u, u.id, String(u.pos))), more: page.more };
  }

  async lastEventId(): Promise<string> {
    const response = await this.sources.link(this.shard)(`${INTERNAL}head`);
    const head = (await response.json()) as { id?: unknown };
    return typeof head.id === 'string' ? head.id : EARLIEST;
  }
}

/** A replay in progress (see {@link MergedBroker.history}). */
interface Replay {
  /** How far the subscriber has read each shard, advanced as the replay goes. */
  readonly progress: Vector;
  /** Where the relay had read each shard when the replay began: the replay stops there. */
  readonly bound: Vector;
  /** The position every update of this replay carries. */
  readonly pos: string;
  /** Updates fetched and not yet handed out, per shard. */
  readonly buffered: ShardUpdate[][];
  /** Per shard: whether the shard has more between what was fetched and the bound. */
  readonly more: boolean[];
  /** The shard being replayed. */
  shard: number;
  used: number;
}

/** Every shard, merged: see the module comment. */
export class MergedBroker extends RelayBroker {
  /** Updates taken from the feeds so far: the relay's own order. */
  #arrivals = 0;
  #handles = 0;
  readonly #replays = new Map<number, Replay>();
  /** The vector at which recent updates were sent, by id: the oldest go first. */
  readonly #recent = new Map<string, Vector>();
  /** The updates sent lately, oldest first, as sent (merged positions, composite ids): for `rewind`. */
  readonly #sent: Update[] = [];
  #sentBytes = 0;

  /** The relay's position in every shard (-1 where it has read nothing). */
  vector(): Vector {
    const vector: Vector = [];
    for (let k = 0; k < this.sources.shards; k++) vector.push(this.sources.upstream(k).pos ?? -1);
    return vector;
  }

  /** A feed update of shard `shard` (already counted in that feed's position). */
  update(shard: number, update: ShardUpdate): void {
    if (this.sources.owner(update.topics) !== shard) return;
    this.#arrivals++;
    const vector = this.vector();
    if (!this.#recent.has(update.id)) {
      this.#recent.set(update.id, vector);
      if (this.#recent.size > RECENT_IDS) this.#recent.delete(this.#recent.keys().next().value!);
    }
    const sent = asUpdate(update, composeCursor(vector, update.id), String(this.#arrivals));
    this.#keep(sent);
    this.emit(sent);
  }

  async history(cursor: string, limit = SHARD_PAGE): Promise<HistoryResult> {
    const shards = this.sources.shards;
    const nothing = (): Vector => Array.from({ length: shards }, () => -1);
    let from: Vector;
    let found = true;
    if (cursor === EARLIEST) from = nothing();
    else if (isComposite(cursor)) {
      const parsed = parseCursor(cursor, shards);
      found = parsed !== undefined;
      from = parsed ?? nothing();
    } else if (this.#recent.has(cursor)) {
      // A plain id this relay sent lately (a publisher's answer, an id from a one-shard stream): after
      // it is after where this relay had read every shard when it sent it, as its merged streams saw.
      from = [...this.#recent.get(cursor)!];
    } else {
      // A plain id (a shard's own, or from before sharding): exact where it is stored, unknown elsewhere.
      from = await this.#locate(cursor);
      found = from.every((pos) => pos !== -1);
    }
    // The relay must have read every shard as far as the cursor (it may come from a relay ahead of
    // this one): live updates are then exactly those after the replay.
    await Promise.all(
      from.map(async (pos, k) => {
        if (pos >= 0 && !(await this.sources.upstream(k).reached(pos, CATCH_UP_MS))) {
          // Past what the shard ever gave out: not a cursor of ours.
          from[k] = -1;
          found = false;
        }
      }),
    );
    const bound = this.vector();
    for (let k = 0; k < shards; k++) if (from[k]! > bound[k]!) from[k] = bound[k]!;
    const handle = ++this.#handles;
    const replay: Replay = {
      progress: from,
      bound,
      pos: `${this.#arrivals}-${handle}`,
      buffered: from.map(() => []),
      more: from.map((pos, k) => pos < bound[k]!),
      shard: 0,
      used: Date.now(),
    };
    // The first page of every shard now: what each discarded must show in this response's header.
    const lost = new Set<string>();
    await Promise.all(
      from.map(async (_, k) => {
        if (!replay.more[k]) return;
        const page = await this.#fetch(replay, k, limit);
        if (found) for (const lane of page.lost) lost.add(lane);
      }),
    );
    this.#sweep();
    this.#replays.set(handle, replay);
    return { found, ...(await this.#page(handle, replay, limit)), lost: [...lost] };
  }

  async historyAfter(pos: string, limit = SHARD_PAGE): Promise<HistoryResult> {
    const handle = Number(pos.slice(pos.indexOf('-') + 1));
    const replay = this.#replays.get(handle);
    // Forgotten (idle too long): a resumed subscriber is closed and resumes from its last event.
    if (!replay || replay.pos !== pos) return { found: true, updates: [], more: false, lost: [DEFAULT_LANE] };
    return { found: true, ...(await this.#page(handle, replay, limit)), lost: [] };
  }

  async lastEventId(): Promise<string> {
    return composeCursor(this.vector());
  }

  /**
   * `rewind` on a merged stream: the updates this relay sent lately (its last 1,024, 8 MiB at most),
   * newest first. Shards have no order between them but the relay's: what it sent before it began
   * following them is not there, so a relay that just started rewinds less.
   */
  async historyBefore(pos: string | undefined, limit: number): Promise<BackwardPage> {
    let end = this.#sent.length;
    if (pos !== undefined) {
      while (end > 0 && Number(this.#sent[end - 1]!.pos) >= Number(pos)) end--;
    }
    const start = Math.max(0, end - Math.max(1, limit));
    return { updates: this.#sent.slice(start, end).reverse(), more: start > 0 };
  }

  #keep(update: Update): void {
    this.#sent.push(update);
    this.#sentBytes += update.data.length;
    while (this.#sent.length > REWIND_UPDATES || this.#sentBytes > REWIND_BYTES) {
      this.#sentBytes -= this.#sent.shift()!.data.length;
    }
  }

  /** Up to `limit` updates of a replay, shard after shard, copies skipped. */
  async #page(handle: number, replay: Replay, limit: number): Promise<{ updates: Update[]; more: boolean }> {
    replay.used = Date.now();
    const updates: Update[] = [];
    const shards = this.sources.shards;
    while (replay.shard < shards && updates.length < limit) {
      const k = replay.shard;
      const buffer = replay.buffered[k]!;
      if (buffer.length === 0) {
        if (!replay.more[k]) {
          replay.shard++;
          continue;
        }
        await this.#fetch(replay, k, limit);
        continue;
      }
      const update = buffer.shift()!;
      replay.progress[k] = update.pos;
      if (this.sources.owner(update.topics) !== k) continue;
      updates.push(asUpdate(update, composeCursor(replay.progress, update.id), replay.pos));
    }
    const more = replay.shard < shards;
    if (!more) {
      this.#replays.delete(handle);
      updates.push(seamMarker(replay.pos));
    }
    return { updates, more };
  }

  /** Fetches the next page of shard `k` into the replay's buffer; returns it. */
  async #fetch(replay: Replay, k: number, limit: number): Promise<HistoryPage> {
    const buffer = replay.buffered[k]!;
    const after = buffer.at(-1)?.pos ?? replay.progress[k]!;
    const size = Math.min(SHARD_PAGE, Math.max(16, limit));
    const page = await fetchPage(
      this.sources.link(k),
      `after=${after}&upto=${replay.bound[k]}&limit=${size}`,
    );
    buffer.push(...page.updates);
    replay.more[k] = page.more && page.updates.length > 0;
    return page;
  }

  /** Positions of a plain id in every shard that holds it (-1 elsewhere). */
  async #locate(id: string): Promise<Vector> {
    return Promise.all(
      Array.from({ length: this.sources.shards }, async (_, k) => {
        const page = await fetchPage(this.sources.link(k), `cursor=${encodeURIComponent(id)}&limit=1`);
        return page.found && page.anchor !== undefined ? page.anchor : -1;
      }),
    );
  }

  /** Forgets replays nobody read for a while, then the oldest past the bound. */
  #sweep(): void {
    const now = Date.now();
    for (const [handle, replay] of this.#replays) {
      if (now - replay.used > REPLAY_IDLE_MS) this.#replays.delete(handle);
    }
    for (const handle of this.#replays.keys()) {
      if (this.#replays.size < MAX_REPLAYS) break;
      this.#replays.delete(handle);
    }
  }
}
