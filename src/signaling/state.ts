/**
 * Room state on the hub: a log of JSON Merge Patch events on `/rooms/{room}/state`, written only by
 * the hub, and a compacted snapshot per room that this instance derives from the broker's update
 * stream, in broker order — so every instance, and every client, that reads the same log agrees.
 *
 * History is bounded and shared by every topic, so a late joiner never replays a room's log from its
 * start: the join answer carries the snapshot and the id of the last update it includes, and the
 * peer subscribes from there. The snapshot itself lives in memory; to survive a restart of the hub
 * over a durable broker (Redis, Durable Object storage), the hub also writes the whole state into the
 * log as a `compact` event once the patches since the last one outweigh the state, and a starting hub
 * rebuilds each room from the latest such anchor still in history. A room whose anchor has left
 * history (or every room, after a restart of the memory broker) is unknown: the next join starts a new
 * lineage (`create`), and a peer that still holds the old state gives it back (`restore`).
 */
import { type Broker, comparePos, EARLIEST, type Update } from '../brokers/index.ts';
import { HubError } from '../hub/index.ts';
import {
  applyStateEvent,
  EVENT,
  type JsonObject,
  parseStateEvent,
  type StateEvent,
  type StateSnapshot,
  stateTopic,
} from '../room-protocol/index.ts';
import { followBroker, LruMap, Serializer } from './log.ts';

/** Refs of the latest changes kept per room: a client that resends a change is not applied twice. */
const MAX_REFS = 64;
/** Patches smaller than this in total never trigger a compaction by themselves. */
const MIN_COMPACT_BYTES = 4096;
/** Longest wait for this instance to read back its own state event from the broker. */
const READ_BACK_TIMEOUT_MS = 10_000;
const STATE_TOPIC = /^\/rooms\/([A-Za-z0-9_-]{1,64})\/state$/;
const utf8 = new TextEncoder();

/** UTF-8 length of a string. */
export const byteLength = (text: string): number => utf8.encode(text).length;

interface RoomRecord {
  snapshot: StateSnapshot;
  refs: string[];
  /** UTF-8 bytes of the value as JSON. */
  bytes: number;
  /** Bytes of patches applied since the last anchor (create, restore, compact). */
  sinceAnchor: number;
}

export interface RoomStatesOptions {
  /** Largest state, in UTF-8 bytes of its JSON; a patch that would exceed it gets 413. */
  maxStateBytes: number;
  /** Rooms kept in memory; the least recently used one is forgotten beyond (default 10 000). */
  maxRooms?: number;
}

/** The outcome of a change: the version it produced, or that it had been applied already. */
export interface ChangeResult {
  version: number;
  epoch: string;
  duplicate: boolean;
}

/** The per-room snapshots of one hub instance; see the module comment. */
export class RoomStates {
  readonly #broker: Broker;
  readonly #options: Required<RoomStatesOptions>;
  readonly #rooms: LruMap<RoomRecord>;
  /** Id and position of the last update this instance has read from the broker. */
  #lastId = EARLIEST;
  #lastPos: string | undefined;
  readonly #waiters: Array<{ pos: string; resolve: () => void }> = [];
  readonly #serializer = new Serializer();
  readonly #unsubscribe: () => void;
  /** Resolves once the rooms still in history are rebuilt. */
  readonly ready: Promise<void>;

  constructor(broker: Broker, options: RoomStatesOptions) {
    this.#broker = broker;
    this.#options = { maxRooms: 10_000, ...options };
    // The least recently used room is forgotten beyond: its next join starts a lineage, which its
    // peers (if any are left) refill with `restore`.
    this.#rooms = new LruMap(this.#options.maxRooms);
    // A broker that cannot answer now: rooms start unknown, and peers restore what they hold.
    const followed = followBroker(broker, {
      history: (updates) => this.#rebuild(updates),
      live: (updates) => this.#read(updates),
      lastPos: () => this.#lastPos,
      what: 'state',
    });
    this.#unsubscribe = followed.unsubscribe;
    this.ready = followed.ready;
  }

  /** Stops following the broker. */
  close(): void {
    this.#unsubscribe();
    for (const waiter of this.#waiters.splice(0)) waiter.resolve();
  }

  /**
   * The room's state and the id of the last update it includes (read together, so subscribing from
   * that id yields exactly the changes after it). Undefined state: the room is unknown.
   */
  snapshot(room: string): { state: (StateSnapshot & { refs: string[] }) | undefined; cursor: string } {
    const record = this.#touch(room);
    const state = record && { ...record.snapshot, refs: [...record.refs] };
    return { state, cursor: this.#lastId };
  }

  /** Makes sure the room has a lineage: starts one (`create`) when the room is unknown. */
  ensure(room: string): Promise<void> {
    return this.#serialized(room, async () => {
      if (!this.#rooms.has(room)) await this.#write(room, { kind: 'create', epoch: crypto.randomUUID() });
    });
  }

  /**
   * Appends a patch (already validated) and resolves once it is applied here, with the version it
   * produced. A ref seen among the latest changes is not applied again.
   * @throws {HubError} 413 when the resulting state would exceed the limit.
   */
  patch(room: string, patch: JsonObject, from: string | null, ref: string): Promise<ChangeResult> {
    return this.#serialized(room, async () => {
      if (!this.#rooms.has(room)) await this.#write(room, { kind: 'create', epoch: crypto.randomUUID() });
      let record = this.#rooms.peek(room)!;
      if (record.refs.includes(ref)) return { ...this.#result(record), duplicate: true };
      const next = applyStateEvent(record.snapshot, { kind: 'patch', ref, from, patch })!;
      const bytes = byteLength(JSON.stringify(next.value));
      if (bytes > this.#options.maxStateBytes) {
        throw new HubError(
          'payload_too_large',
          `the room state would be ${bytes} bytes, more than the ${this.#options.maxStateBytes} allowed`,
        );
      }
      const update = await this.#write(room, { kind: 'patch', ref, from, patch });
      record = this.#rooms.peek(room) ?? record;
      const result = { ...this.#result(record), duplicate: false };
      if (record.sinceAnchor > Math.max(MIN_COMPACT_BYTES, record.bytes)) {
        const { epoch, version, value } = record.snapshot;
        await this.#write(room, { kind: 'compact', epoch, version, state: value, through: update.id });
      }
      return result;
    });
  }

  /**
   * Gives a lost state back: applies only to a lineage `epoch` that nothing changed yet (version 0).
   * @throws {HubError} 409 when the lineage is another one or already changed.
   */
  restore(
    room: string,
    epoch: string,
    state: JsonObject,
    from: string | null,
    ref: string,
  ): Promise<ChangeResult> {
    return this.#serialized(room, async () => {
      const record = this.#rooms.peek(room);
      if (record?.refs.includes(ref)) return { ...this.#result(record), duplicate: true };
      if (!record || record.snapshot.epoch !== epoch || record.snapshot.version !== 0) {
        throw new HubError('conflict', 'the room state has changed since: restore refused');
      }
      const bytes = byteLength(JSON.stringify(state));
      if (bytes > this.#options.maxStateBytes) {
        throw new HubError(
          'payload_too_large',
          `the state is larger than ${this.#options.maxStateBytes} bytes`,
        );
      }
      await this.#write(room, { kind: 'restore', ref, from, epoch, state });
      const after = this.#rooms.peek(room);
      if (!after?.refs.includes(ref))
        throw new HubError('conflict', 'the room state has changed since: restore refused');
      return { ...this.#result(after), duplicate: false };
    });
  }

  #result(record: RoomRecord) {
    return { version: record.snapshot.version, epoch: record.snapshot.epoch };
  }

  /** Runs `step` after the room's previous changes from this instance: one change at a time per room. */
  #serialized<T>(room: string, step: () => Promise<T>): Promise<T> {
    return this.#serializer.run(room, step);
  }

  /** Publishes a state event and resolves once this instance has read it back from the broker. */
  async #write(room: string, event: StateEvent): Promise<Update> {
    await this.ready;
    const update = await this.#broker.publish({
      topics: [stateTopic(room)],
      data: JSON.stringify(event),
      private: true,
      type: EVENT.state,
    });
    if (this.#lastPos === undefined || comparePos(this.#lastPos, update.pos) < 0) {
      // Bounded: a broker that stalls after accepting the update must not hold the room forever (the
      // update is in the log; this instance applies it when it reads it).
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push({ pos: update.pos, resolve });
        timer = setTimeout(resolve, READ_BACK_TIMEOUT_MS);
      });
      clearTimeout(timer);
    }
    return update;
  }

  /** Follows live updates. */
  #read(updates: readonly Update[]): void {
    for (const update of updates) {
      const event = this.#eventOf(update);
      if (event) this.#apply(event.room, event.event, update.data.length);
      this.#lastId = update.id;
      this.#lastPos = update.pos;
    }
    if (this.#waiters.length === 0 || this.#lastPos === undefined) return;
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i]!;
      if (comparePos(waiter.pos, this.#lastPos) <= 0) {
        this.#waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  #eventOf(update: Update): { room: string; event: StateEvent } | undefined {
    if (update.type !== EVENT.state || update.topics.length !== 1) return undefined;
    const room = STATE_TOPIC.exec(update.topics[0]!)?.[1];
    if (room === undefined) return undefined;
    const event = parseStateEvent(update.data);
    return event && { room, event };
  }

  #apply(room: string, event: StateEvent, size: number): void {
    const record = this.#rooms.peek(room);
    const next = applyStateEvent(record?.snapshot, event);
    if (next === undefined || next === record?.snapshot) {
      if (record && event.kind === 'compact') record.sinceAnchor = 0;
      return;
    }
    const changed = event.kind === 'patch' || event.kind === 'restore';
    const refs = event.kind === 'create' || !record ? [] : record.refs;
    if (changed) {
      refs.push(event.ref);
      if (refs.length > MAX_REFS) refs.shift();
    }
    this.#set(room, {
      snapshot: next,
      refs,
      bytes: byteLength(JSON.stringify(next.value)),
      sinceAnchor: event.kind === 'patch' ? (record?.sinceAnchor ?? 0) + size : 0,
    });
  }

  /**
   * Rebuilds every room still in history from its latest anchor: a `create` or `restore` (the state
   * there is known), or a `compact` (the state as of its `through` patch; the patches after that one
   * are applied again, including any that landed before the compaction itself).
   */
  #rebuild(history: readonly Update[]): void {
    const logs = new Map<string, Array<{ id: string; event: StateEvent; size: number }>>();
    for (const update of history) {
      const found = this.#eventOf(update);
      if (found) {
        const log = logs.get(found.room) ?? [];
        log.push({ id: update.id, event: found.event, size: update.data.length });
        logs.set(found.room, log);
      }
      this.#lastId = update.id;
      this.#lastPos = update.pos;
    }
    for (const [room, log] of logs) {
      let start = -1;
      for (let i = log.length - 1; i >= 0 && start === -1; i--) {
        const { event } = log[i]!;
        if (event.kind === 'create' || event.kind === 'restore') start = i;
        else if (event.kind === 'compact') {
          const through = log.findIndex((entry) => entry.id === event.through);
          const snapshot = { epoch: event.epoch, version: event.version, value: event.state };
          this.#set(room, {
            snapshot,
            refs: [],
            bytes: byteLength(JSON.stringify(event.state)),
            sinceAnchor: 0,
          });
          start = through !== -1 && through < i ? through + 1 : i + 1;
        }
      }
      if (start === -1) continue; // Only patches whose base has left history: unknown.
      for (const { event, size } of log.slice(start)) {
        if (event.kind === 'restore' && !this.#rooms.has(room)) {
          // An anchor: the hub writes a restore only into an untouched lineage.
          this.#apply(room, { kind: 'create', epoch: event.epoch }, 0);
        }
        this.#apply(room, event, size);
      }
    }
  }

  #touch(room: string): RoomRecord | undefined {
    return this.#rooms.get(room);
  }

  #set(room: string, record: RoomRecord): void {
    this.#rooms.set(room, record);
  }
}
