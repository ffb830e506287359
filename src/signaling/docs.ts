/**
 * Yjs documents of rooms on the hub. A peer sends each change of a document as a Yjs update
 * (`POST /rooms/{room}/docs/{doc}`); the hub checks it, appends it to the room's log (SSE type `doc`
 * on the state topic, written by the hub only), and every peer applies what the others sent. Each
 * instance keeps a snapshot per document — the merge of every update it read — so that a late joiner
 * or a reloaded page starts from the whole document (`GET /rooms/{room}/docs/{doc}`).
 *
 * Like the room state (`state.ts`), the snapshot is derived from the broker's update stream and is
 * as durable as history: the hub writes the whole document into the log as a `compact` event once
 * the updates since the last one outweigh half of it, and a starting hub merges the latest compact with every
 * update still in history. Yjs updates commute and applying one twice changes nothing, so the order
 * and any overlap do not matter; what the hub lost (a restart over the memory broker), the peers
 * still holding the document send back when they sync (the difference to the hub's state vector).
 *
 * Bounded costs: an update is at most `SSEHUB_ROOMS_MAX_MESSAGE_BYTES`, a document at most
 * `SSEHUB_ROOMS_MAX_STATE_BYTES` of encoded state (413 beyond, after a garbage-collecting
 * compaction), at most {@link MAX_DOCS_PER_ROOM} documents per room; merging is linear in those bytes.
 * Whatever a client sends is decoded by Yjs inside a try (400 when it is not an update).
 */
import * as Y from 'yjs';
import type { Broker, Update } from '../brokers/index.ts';
import { badRequest, HubError } from '../hub/index.ts';
import {
  type DocEvent,
  EVENT,
  fromBase64,
  parseDocEvent,
  stateTopic,
  toBase64,
} from '../room-protocol/index.ts';
import { followBroker, LruMap, Serializer } from './log.ts';

/** Documents one room may hold. */
export const MAX_DOCS_PER_ROOM = 16;
/** Updates smaller than this in total never trigger a compaction by themselves. */
const MIN_COMPACT_BYTES = 4096;
const STATE_TOPIC = /^\/rooms\/([A-Za-z0-9_-]{1,64})\/state$/;
/** A Yjs v1 update that changes nothing: no structs, no deletions. */
const EMPTY = Uint8Array.of(0, 0);

interface DocRecord {
  /** The merge of every update read: a Yjs v1 update of the whole document. */
  state: Uint8Array;
  /** Bytes of updates read since the last compact. */
  sinceCompact: number;
}

export interface RoomDocsOptions {
  /** Largest document, in bytes of its encoded state. */
  maxDocBytes: number;
  /** Documents kept in memory; the least recently used one is forgotten beyond (default 10 000). */
  maxDocs?: number;
}

/** The Yjs documents of every room, as one hub instance follows them; see the module comment. */
export class RoomDocs {
  readonly #broker: Broker;
  readonly #options: Required<RoomDocsOptions>;
  /** By `room/doc`; the least recently used is forgotten until its peers sync again (they send what the hub lacks). */
  readonly #docs: LruMap<DocRecord>;
  readonly #serializer = new Serializer();
  #lastPos: string | undefined;
  readonly #unsubscribe: () => void;
  /** Resolves once the documents still in history are rebuilt. */
  readonly ready: Promise<void>;

  constructor(broker: Broker, options: RoomDocsOptions) {
    this.#broker = broker;
    this.#options = { maxDocs: 10_000, ...options };
    this.#docs = new LruMap(this.#options.maxDocs);
    const followed = followBroker(broker, {
      history: (updates) => this.#read(updates),
      live: (updates) => this.#read(updates),
      lastPos: () => this.#lastPos,
      what: 'documents',
    });
    this.#unsubscribe = followed.unsubscribe;
    this.ready = followed.ready;
  }

  /** Stops following the broker. */
  close(): void {
    this.#unsubscribe();
  }

  /** The whole document as this instance knows it: a Yjs v1 update (empty when unknown). */
  async snapshot(room: string, doc: string): Promise<Uint8Array> {
    await this.ready;
    return this.#docs.get(`${room}/${doc}`)?.state ?? EMPTY;
  }

  /**
   * Checks a peer's update and appends it to the log. Resolves once the broker has it.
   * @throws {HubError} 400 for bytes that are not a Yjs update, 413 for a document that would grow
   *   past the limit, 409 for a new document in a room that has {@link MAX_DOCS_PER_ROOM}.
   */
  update(room: string, doc: string, update: Uint8Array, from: string | null): Promise<void> {
    const key = `${room}/${doc}`;
    return this.#serializer.run(key, async () => {
      await this.ready;
      const record = this.#docs.peek(key);
      if (!record && this.#countIn(room) >= MAX_DOCS_PER_ROOM) {
        throw new HubError('conflict', `a room holds at most ${MAX_DOCS_PER_ROOM} documents`);
      }
      let merged: Uint8Array;
      let size: number;
      try {
        Y.decodeUpdate(update);
        merged = Y.mergeUpdates([record?.state ?? EMPTY, update]);
        size = merged.length > this.#options.maxDocBytes ? compacted(merged).length : merged.length;
      } catch {
        throw badRequest('the body is not a Yjs update (v1 encoding)');
      }
      if (size > this.#options.maxDocBytes) {
        throw new HubError(
          'payload_too_large',
          `the document would be larger than the ${this.#options.maxDocBytes} bytes allowed`,
        );
      }
      await this.#publish(room, { kind: 'update', doc, update: toBase64(update), from });
      // This instance compacts what it wrote, as the room state does: one writer per change.
      const since = (this.#docs.peek(key)?.sinceCompact ?? 0) + update.length;
      // Half the document, not all of it: a document that only grows would otherwise never compact
      // again, and its last compact would leave history before the next.
      if (since > Math.max(MIN_COMPACT_BYTES, merged.length / 2)) {
        const state = compacted(Y.mergeUpdates([this.#docs.peek(key)?.state ?? EMPTY, merged]));
        await this.#publish(room, { kind: 'compact', doc, state: toBase64(state) });
      }
    });
  }

  #countIn(room: string): number {
    let count = 0;
    for (const key of this.#docs.keys()) if (key.startsWith(`${room}/`)) count++;
    return count;
  }

  #publish(room: string, event: DocEvent): Promise<Update> {
    return this.#broker.publish({
      topics: [stateTopic(room)],
      data: JSON.stringify(event),
      private: true,
      type: EVENT.doc,
    });
  }

  #read(updates: readonly Update[]): void {
    for (const update of updates) {
      this.#lastPos = update.pos;
      if (update.type !== EVENT.doc || update.topics.length !== 1) continue;
      const room = STATE_TOPIC.exec(update.topics[0]!)?.[1];
      const event = room === undefined ? undefined : parseDocEvent(update.data);
      if (!event) continue;
      const bytes = fromBase64(event.kind === 'update' ? event.update : event.state);
      if (!bytes) continue;
      const key = `${room}/${event.doc}`;
      const record = this.#docs.peek(key);
      let state: Uint8Array;
      try {
        state = record ? Y.mergeUpdates([record.state, bytes]) : Y.mergeUpdates([bytes]);
        // Deleted content is dropped before the snapshot outgrows the limit (memory stays bounded).
        if (state.length > this.#options.maxDocBytes) state = compacted(state);
      } catch {
        continue; // Only the hub writes here, after checking: not reached unless the log was tampered with.
      }
      this.#docs.set(key, {
        state,
        sinceCompact: event.kind === 'compact' ? 0 : (record?.sinceCompact ?? 0) + bytes.length,
      });
    }
  }
}

/**
 * The document's state with deleted content garbage-collected: applied to a fresh `Y.Doc` (whose
 * `gc` is on) and encoded again. Linear in the bytes.
 */
export function compacted(state: Uint8Array): Uint8Array {
  const doc = new Y.Doc();
  try {
    Y.applyUpdate(doc, state);
    return Y.encodeStateAsUpdate(doc);
  } finally {
    doc.destroy();
  }
}
