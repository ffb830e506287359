/**
 * Yjs over a room (`ssehub/client/yjs`; the hub serves it as `/yjs.js`, with Yjs inside): a provider
 * that keeps a `Y.Doc` in sync with everyone in the room over nothing but SSE and `POST`, and over
 * the call's WebRTC data channels when they are open.
 *
 * - Every local change goes to the hub (`POST /rooms/{room}/docs/{doc}`, one request at a time, what
 *   piled up meanwhile merged into it, retried while the hub is unreachable), which orders it in the
 *   room's log and keeps the whole document for whoever comes later. With a call, the change also
 *   goes straight to the connected peers over the data channels: they see it without the hub's round
 *   trip. Applying a Yjs update twice changes nothing, so the copy that arrives second is a no-op.
 * - On start, and after the room resynchronized (the hub restarted), the provider reads the hub's
 *   document, applies it, and sends back what the hub lacks: the state the peers hold survives a hub
 *   that lost it.
 * - Leaving the room sends what the hub has not answered yet once more, as keepalive requests (a page
 *   reloaded right after an edit keeps it). When a peer that showed us changes over a data channel
 *   leaves, we send the hub those of its changes that its log never had (a page that crashed).
 * - Awareness (y-protocols: cursors, names, who is typing) is not stored: it goes over the data
 *   channels when every peer has one open, else as room messages through the hub; a peer that
 *   leaves the room takes its awareness states along.
 *
 * A single change larger than the room's message limit, or a document past the room's state limit,
 * is refused by the hub (an `error` event; the change stays local).
 *
 * This module bundles or imports Yjs; the base client (`/client.js`) does not. Web APIs only.
 */
import {
  Awareness,
  applyAwarenessUpdate,
  encodeAwarenessUpdate,
  removeAwarenessStates,
} from 'y-protocols/awareness';
import * as Y from 'yjs';
import { fromBase64, isDocName, toBase64 } from '../../room-protocol/index.ts';
import type { Call, Room } from '../index.ts';

export { Awareness } from 'y-protocols/awareness';
/** The Yjs this provider uses: take `Y` from here, so that one copy of Yjs is loaded (Yjs requires it). */
export * as Y from 'yjs';

export interface SyncDocOptions {
  /** A call in the same room: its data channels carry changes and awareness between connected peers. */
  call?: Call;
  /** The document's awareness, or false for none. Default: a new `Awareness` of the document. */
  awareness?: Awareness | false;
}

/** Events of a {@link DocSync}. */
export interface DocSyncEvents {
  /** The hub's document was applied (again after a resynchronization). */
  synced: undefined;
  /** The hub refused a change (e.g. 413) or could not be read; the provider goes on. */
  error: { readonly error: unknown };
}

/** What travels on data channels and as room messages (JSON). */
interface Wire {
  ssehub: 'yjs' | 'awareness';
  doc: string;
  update: string;
}

/** A Yjs v1 update that changes nothing. */
const isEmptyUpdate = (update: Uint8Array) => update.length <= 2;
/** Room for the JSON around an update sent as a room message, and the envelope around that. */
const WIRE_BYTES = 512;
/** A peer that left: how long (1 to 2 times this) to wait before sending what the hub lacks of it. */
const REPAIR_MS = 1000;
/** The changes in an update, without the gaps of a merged one; none for bytes Yjs cannot read. */
function structsOf(update: Uint8Array): Array<{ id: { client: number; clock: number }; length: number }> {
  try {
    return Y.decodeUpdate(update).structs.filter((struct) => !(struct instanceof Y.Skip));
  } catch {
    return [];
  }
}
/** What browsers let a page have in flight as keepalive requests (bodies), with room for the rest. */
const KEEPALIVE_BYTES = 60 * 1024;

const retryable = (error: unknown) => {
  const { code, status } = (error ?? {}) as { code?: string; status?: number };
  return (
    code === 'network' ||
    code === 'timeout' ||
    (status !== undefined && (status >= 500 || status === 408 || status === 429))
  );
};

/**
 * Keeps `doc` in sync as document `name` of `room`; see the module comment.
 *
 * @example
 * import { Y, syncDoc } from 'https://hub.example.com/yjs.js';
 * const doc = new Y.Doc();
 * const sync = syncDoc(room, 'notes', doc, { call });
 * await sync.whenSynced;                       // the whole document, from the hub
 * doc.getText('body').insert(0, 'Agenda: ');   // everyone in the room sees it
 * sync.awareness?.setLocalStateField('user', { name: 'Ada' });
 */
export function syncDoc(room: Room, name: string, doc: Y.Doc, options: SyncDocOptions = {}): DocSync {
  return new DocSync(room, name, doc, options);
}

/** A document kept in sync over a room; see {@link syncDoc}. */
export class DocSync {
  readonly room: Room;
  readonly name: string;
  readonly doc: Y.Doc;
  /** Who else is here and where their cursor is; undefined with `awareness: false`. */
  readonly awareness: Awareness | undefined;
  /** Resolves the first time the hub's document has been applied. */
  readonly whenSynced: Promise<void>;
  #synced = false;
  #markSynced!: () => void;
  #closed = false;
  #loading = false;
  readonly #ownsAwareness: boolean;
  readonly #call: Call | undefined;
  readonly #queue: Uint8Array[] = [];
  #sending = false;
  /** Awareness client ids by peer, to drop them when the peer leaves. */
  readonly #clients = new Map<string, Set<number>>();
  readonly #listeners = new Map<keyof DocSyncEvents, Set<(value: never) => void>>();
  readonly #unlisten: Array<() => void> = [];
  readonly #stop = new AbortController();
  /** Yjs client ids whose changes each peer sent us over the data channels. */
  readonly #sentBy = new Map<string, Set<number>>();
  /** How far the hub's log has each Yjs client's changes, as far as we have seen (end clocks). */
  readonly #atHub = new Map<number, number>();
  /** Pending checks after peers left; see #repair. */
  readonly #repairs = new Set<ReturnType<typeof setTimeout>>();

  constructor(room: Room, name: string, doc: Y.Doc, options: SyncDocOptions) {
    if (!isDocName(name)) throw new TypeError('syncDoc: document names are 1 to 64 of A-Z a-z 0-9 _ . -');
    this.room = room;
    this.name = name;
    this.doc = doc;
    this.#call = options.call;
    this.#ownsAwareness = options.awareness === undefined;
    this.awareness = options.awareness === false ? undefined : (options.awareness ?? new Awareness(doc));
    this.whenSynced = new Promise((resolve) => {
      this.#markSynced = resolve;
    });
    doc.on('update', this.#onUpdate);
    this.#unlisten.push(() => doc.off('update', this.#onUpdate));
    this.#unlisten.push(
      room.on('doc', ({ doc: target, update, from }) => {
        if (target !== name) return;
        this.#seenAtHub(update);
        if (from !== room.self.id) this.#apply(update);
      }),
      room.on('message', ({ from, data }) => this.#receive(from, data)),
      room.on('resync', () => void this.#load()),
      room.on('join', (peer) => this.#sendAwareness(peer.id)),
      room.on('leave', (peer) => this.#forget(peer.id)),
      room.on('close', () => this.destroy()),
    );
    if (this.#call) {
      this.#unlisten.push(
        this.#call.on('data', ({ peer, data }) => {
          // Only our own messages: the application shares the channel.
          if (typeof data !== 'string' || !data.startsWith('{"ssehub":')) return;
          try {
            this.#receive(peer.id, JSON.parse(data));
          } catch {
            // Not JSON after all: not ours.
          }
        }),
      );
    }
    if (this.awareness) {
      const awareness = this.awareness;
      awareness.on('update', this.#onAwareness);
      this.#unlisten.push(() => awareness.off('update', this.#onAwareness));
    }
    void this.#load();
  }

  /** True once the hub's document has been applied. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Listens to an event; returns a function that removes the listener. */
  on<K extends keyof DocSyncEvents>(type: K, listener: (value: DocSyncEvents[K]) => void): () => void {
    const set = this.#listeners.get(type) ?? new Set();
    this.#listeners.set(type, set);
    set.add(listener as (value: never) => void);
    return () => set.delete(listener as (value: never) => void);
  }

  /**
   * Stops syncing; tells the others our awareness is gone. Changes the hub has not confirmed yet
   * (queued, or in a request that leaving the room cancels) go out one last time as `fetch` keepalive
   * requests, which outlive the page: a tab closed or reloaded right after an edit keeps the edit.
   * It also runs when the room closes.
   */
  destroy(): void {
    if (this.#closed) return;
    if (this.awareness && this.room.status !== 'closed') {
      removeAwarenessStates(this.awareness, [this.doc.clientID], 'local');
    }
    this.#closed = true;
    this.#flushOnExit();
    this.#stop.abort();
    for (const timer of this.#repairs) clearTimeout(timer);
    for (const off of this.#unlisten) off();
    if (this.awareness && this.#ownsAwareness) this.awareness.destroy();
    this.#listeners.clear();
  }

  #emit<K extends keyof DocSyncEvents>(type: K, value: DocSyncEvents[K]): void {
    for (const listener of this.#listeners.get(type) ?? []) {
      try {
        (listener as (v: DocSyncEvents[K]) => void)(value);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /** A change of ours (any origin but this provider): to the hub, and to the connected peers. */
  readonly #onUpdate = (update: Uint8Array, origin: unknown) => {
    if (origin === this || this.#closed) return;
    this.#enqueue(update);
    if (this.#call && update.length + WIRE_BYTES <= this.room.limits.messageBytes) {
      this.#call.broadcast(JSON.stringify({ ssehub: 'yjs', doc: this.name, update: toBase64(update) }));
    }
  };

  readonly #onAwareness = (
    changes: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ) => {
    if (typeof origin === 'object' && origin !== null && 'peer' in origin) {
      // Remote: remember whose client ids these are.
      const peer = (origin as { peer: string }).peer;
      const set = this.#clients.get(peer) ?? new Set();
      this.#clients.set(peer, set);
      for (const id of [...changes.added, ...changes.updated]) set.add(id);
      for (const id of changes.removed) set.delete(id);
      return;
    }
    if (origin !== 'local' || this.#closed || !this.awareness) return;
    const changed = [...changes.added, ...changes.updated, ...changes.removed];
    this.#sendAwareness(undefined, encodeAwarenessUpdate(this.awareness, changed));
  };

  #apply(update: Uint8Array): void {
    try {
      Y.applyUpdate(this.doc, update, this);
    } catch (error) {
      this.#emit('error', { error });
    }
  }

  #receive(from: string, data: unknown): void {
    if (this.#closed || typeof data !== 'object' || data === null) return;
    const wire = data as Partial<Wire>;
    if (wire.doc !== this.name || typeof wire.update !== 'string') return;
    const bytes = fromBase64(wire.update);
    if (!bytes) return;
    if (wire.ssehub === 'yjs') {
      this.#apply(bytes);
      this.#noteSender(from, bytes);
    } else if (wire.ssehub === 'awareness' && this.awareness) {
      try {
        applyAwarenessUpdate(this.awareness, bytes, { peer: from });
      } catch (error) {
        this.#emit('error', { error });
      }
    }
  }

  /** Sends our awareness (`update`, default: our whole state) to one peer, or to everyone. */
  #sendAwareness(to?: string, update?: Uint8Array): void {
    const awareness = this.awareness;
    if (!awareness || this.#closed) return;
    if (!update && awareness.getLocalState() === null) return;
    const bytes = update ?? encodeAwarenessUpdate(awareness, [this.doc.clientID]);
    const wire: Wire = { ssehub: 'awareness', doc: this.name, update: toBase64(bytes) };
    const call = this.#call;
    const open = (id: string) => call?.peers.get(id)?.channel?.readyState === 'open';
    const failed = (error: unknown) => this.#emit('error', { error });
    if (to !== undefined) {
      if (open(to)) call!.send(to, JSON.stringify(wire));
      else this.room.send(to, wire).catch(failed);
      return;
    }
    if (this.room.peers.size === 0) return;
    if ([...this.room.peers.keys()].every(open)) call!.broadcast(JSON.stringify(wire));
    else this.room.broadcast(wire).catch(failed);
  }

  #forget(peer: string): void {
    const ids = this.#clients.get(peer);
    this.#clients.delete(peer);
    if (ids && ids.size > 0 && this.awareness) removeAwarenessStates(this.awareness, [...ids], 'leave');
    const authors = this.#sentBy.get(peer);
    this.#sentBy.delete(peer);
    if (authors && !this.#closed) {
      // After the changes the peer sent as it left (keepalive) have had time to come back from the hub.
      const timer = setTimeout(
        () => {
          this.#repairs.delete(timer);
          this.#repair(authors);
        },
        REPAIR_MS * (1 + Math.random()),
      );
      this.#repairs.add(timer);
    }
  }

  /** Remembers which Yjs clients' changes `peer` sent us directly (not through the hub). */
  #noteSender(peer: string, update: Uint8Array): void {
    const authors = this.#sentBy.get(peer) ?? new Set<number>();
    this.#sentBy.set(peer, authors);
    for (const struct of structsOf(update)) authors.add(struct.id.client);
  }

  /** Notes how far the hub has each client's changes: `update` is in the room's log. */
  #seenAtHub(update: Uint8Array): void {
    for (const struct of structsOf(update)) {
      const end = struct.id.clock + struct.length;
      if (end > (this.#atHub.get(struct.id.client) ?? 0)) this.#atHub.set(struct.id.client, end);
    }
  }

  /**
   * Sends the hub the changes of `authors` (Yjs clients of a peer that left) that we hold and the hub
   * never logged: the peer showed them to us over a data channel, then went away before its own
   * request reached the hub, and nobody else will send them.
   */
  #repair(authors: ReadonlySet<number>): void {
    if (this.#closed) return;
    const have = Y.decodeStateVector(Y.encodeStateVector(this.doc));
    const known = new Map(have);
    let missing = false;
    for (const client of authors) {
      const atHub = this.#atHub.get(client) ?? 0;
      if ((have.get(client) ?? 0) > atHub) {
        known.set(client, atHub);
        missing = true;
      }
    }
    if (missing) this.#enqueue(Y.encodeStateAsUpdate(this.doc, Y.encodeStateVector(known)));
  }

  /** Reads the hub's document, applies it, and sends back what the hub lacks. Retries until it works. */
  async #load(): Promise<void> {
    if (this.#loading) return;
    this.#loading = true;
    try {
      for (let attempt = 0; !this.#closed; attempt++) {
        try {
          const response = await this.room.request(`/docs/${this.name}`, { method: 'GET' });
          const state = new Uint8Array(await response.arrayBuffer());
          this.#apply(state);
          this.#atHub.clear();
          this.#seenAtHub(state);
          const missing = Y.encodeStateAsUpdate(this.doc, Y.encodeStateVectorFromUpdate(state));
          if (!isEmptyUpdate(missing)) this.#enqueue(missing);
          this.#synced = true;
          this.#markSynced();
          this.#emit('synced', undefined);
          return;
        } catch (error) {
          if (this.#closed) return;
          this.#emit('error', { error });
          if (!(await this.#wait(attempt))) return;
        }
      }
    } finally {
      this.#loading = false;
    }
  }

  #enqueue(update: Uint8Array): void {
    this.#queue.push(update);
    void this.#pump();
  }

  /** The queued changes from `start` merged into one request body within the message limit, and how many. */
  #body(start: number): { body: Uint8Array; count: number } {
    const max = this.room.limits.messageBytes;
    let body = this.#queue[start]!;
    let count = 1;
    while (start + count < this.#queue.length) {
      const merged = Y.mergeUpdates([body, this.#queue[start + count]!]);
      if (merged.length > max) break;
      body = merged;
      count++;
    }
    return { body, count };
  }

  /**
   * The queue, sent without waiting for answers as keepalive requests (see {@link destroy}), as much
   * as the browser's keepalive budget (64 KiB in flight per page) takes. Sending what the hub already
   * has changes nothing there.
   */
  #flushOnExit(): void {
    let budget = KEEPALIVE_BYTES;
    for (let start = 0; start < this.#queue.length; ) {
      const { body, count } = this.#body(start);
      start += count;
      budget -= body.length;
      if (budget < 0) break;
      this.room
        .request(`/docs/${this.name}`, {
          method: 'POST',
          body,
          type: 'application/octet-stream',
          keepalive: true,
        })
        .catch(() => {
          // Nobody is left to tell: the page is going away, or the application stopped syncing.
        });
    }
    this.#queue.length = 0;
  }

  /** Sends queued changes to the hub, one request at a time, merging what fits in one message. */
  async #pump(): Promise<void> {
    if (this.#sending) return;
    this.#sending = true;
    let attempt = 0;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const { body, count } = this.#body(0);
        try {
          await this.room.request(`/docs/${this.name}`, {
            method: 'POST',
            body,
            type: 'application/octet-stream',
          });
          this.#queue.splice(0, count);
          attempt = 0;
        } catch (error) {
          if (this.#closed) return;
          if (retryable(error) && (await this.#wait(attempt++))) continue;
          this.#queue.splice(0, count);
          this.#emit('error', { error });
        }
      }
    } finally {
      this.#sending = false;
    }
  }

  /** Backoff between retries (0.5 s doubling to 10 s, with jitter); false once destroyed. */
  #wait(attempt: number): Promise<boolean> {
    const delay = Math.min(10_000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
    return new Promise((resolve) => {
      if (this.#stop.signal.aborted) return resolve(false);
      const timer = setTimeout(() => resolve(!this.#stop.signal.aborted), delay);
      this.#stop.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
  }
}
