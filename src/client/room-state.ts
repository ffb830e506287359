/**
 * The shared state of a room on the client: the hub's log of JSON Merge Patch events applied in log
 * order (so every peer converges on the same value), with this peer's own patches shown at once on
 * top until the log confirms them. Web APIs only: this file ships in the browser bundle.
 */

import {
  applyStateEvent,
  type JsonObject,
  mergePatch,
  type StateEvent,
  type StateSnapshot,
} from '../room-protocol/index.ts';
import { Emitter } from './emitter.ts';
import { ClientError } from './errors.ts';

/** A change of {@link RoomState.value}. */
export interface StateChange {
  /** The new value (do not modify it: patch instead). */
  readonly value: JsonObject;
  /** `local`: our own patch, shown before the hub confirmed it; `remote`: the log; `reset`: a resynchronization. */
  readonly source: 'local' | 'remote' | 'reset';
  /** Who wrote the change, for `remote` ones (`null`: the application's server). */
  readonly from?: string | null;
}

/** Events of {@link RoomState}. */
export interface RoomStateEvents {
  change: StateChange;
}

/** What the state needs from its room: sending to the hub, and waiting between retries. */
export interface StateLink {
  /** POSTs JSON to the room's state endpoint (`suffix` '' or '/restore') with the peer token. */
  post(suffix: '' | '/restore', body: unknown): Promise<unknown>;
  /** Waits before retry number `attempt`; resolves false when the room has closed meanwhile. */
  wait(attempt: number): Promise<boolean>;
  /**
   * POSTs JSON to the state endpoint as the room closes, as a request that outlives the page (`fetch`
   * keepalive): no answer, no retry.
   */
  leaving(body: unknown): void;
  /** Largest patch the hub takes, in bytes. */
  readonly maxBytes: number;
}

interface Pending {
  ref: string;
  patch: JsonObject;
  sent: boolean;
  acked: boolean;
  resolve(): void;
  reject(error: unknown): void;
}

const isEmpty = (value: JsonObject) => Object.keys(value).length === 0;
/** Most patches sent as the room closes (what the hub takes in one request). */
const MAX_LEAVING = 32;
const retryable = (error: unknown) =>
  !(error instanceof ClientError) ||
  error.code === 'network' ||
  error.code === 'timeout' ||
  (error.status !== undefined && (error.status >= 500 || error.status === 408 || error.status === 429));

/**
 * The room's shared state. Read {@link value}, listen to `change`, write with {@link patch}.
 *
 * @example
 * room.state.on('change', ({ value }) => render(value.todos));
 * await room.state.patch({ todos: { [id]: { text: 'Buy milk', done: false } } });
 * await room.state.patch({ todos: { [id]: null } }); // null removes (RFC 7386)
 */
export class RoomState {
  #confirmed: StateSnapshot;
  /** A value we are giving back to a hub that lost it; shown instead of the empty new lineage meanwhile. */
  #restoring: JsonObject | undefined;
  #restoreJob: { ref: string; epoch: string; state: JsonObject } | undefined;
  #pending: Pending[] = [];
  #value: JsonObject;
  #sending = false;
  /** Set while the room resynchronizes: nothing is sent until {@link reset} brings the new snapshot. */
  #held = false;
  #closed = false;
  readonly #link: StateLink;
  readonly #events = new Emitter<RoomStateEvents>();

  /** @internal Built by the room. */
  constructor(link: StateLink, snapshot: StateSnapshot) {
    this.#link = link;
    this.#confirmed = snapshot;
    this.#value = snapshot.value;
  }

  /** The current value: the hub's, with our unconfirmed patches on top. */
  get value(): JsonObject {
    return this.#value;
  }

  /** Changes the hub has applied in this lineage. */
  get version(): number {
    return this.#confirmed.version;
  }

  /** The lineage: changes when the hub had to start the state over (and peers restored it). */
  get epoch(): string {
    return this.#confirmed.epoch;
  }

  /** Listens to `change`; returns a function that removes the listener. */
  on<K extends keyof RoomStateEvents>(type: K, listener: (value: RoomStateEvents[K]) => void): () => void {
    return this.#events.on(type, listener);
  }

  /**
   * Applies a JSON Merge Patch (RFC 7386) at once locally and sends it to the hub, which orders it
   * among everyone's patches. Resolves once the hub has applied it; retries by itself while the hub is
   * unreachable. Rejects (and the patch is undone) when the hub refuses it, e.g. 413 for a state that
   * would grow past the room's limit.
   * @throws {RangeError} at once for a patch larger than the room allows.
   */
  patch(patch: JsonObject): Promise<void> {
    if (this.#closed) return Promise.reject(new ClientError('aborted', 'the room is closed'));
    const bytes = new TextEncoder().encode(JSON.stringify(patch)).length;
    if (bytes > this.#link.maxBytes - 128) {
      return Promise.reject(
        new RangeError(`patch of ${bytes} bytes: the room takes at most ${this.#link.maxBytes}`),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ ref: crypto.randomUUID(), patch, sent: false, acked: false, resolve, reject });
      this.#refresh('local');
      void this.#pump();
    });
  }

  /**
   * @internal The room is resynchronizing (the hub lost history, or our token): patches wait for
   * {@link reset}. Sent now, one could land first on a state the hub lost, and the restore of what
   * the peers hold would then be refused (it only applies to an empty lineage).
   */
  hold(): void {
    this.#held = true;
  }

  /** @internal Starts over from a snapshot of the hub (join, or resynchronization after a gap). */
  reset(snapshot: StateSnapshot & { refs?: readonly string[] }): void {
    this.#held = false;
    const previous = this.#confirmed;
    const sameLineage = snapshot.epoch === previous.epoch;
    const applied = new Set(snapshot.refs ?? []);
    this.#pending = this.#pending.filter((p) => {
      const done = applied.has(p.ref) || (sameLineage && p.acked);
      if (done) p.resolve();
      else p.sent = false; // Resent: the hub skips a ref it already applied.
      return !done;
    });
    this.#confirmed = { epoch: snapshot.epoch, version: snapshot.version, value: snapshot.value };
    if (!sameLineage) this.#offerRestore(this.#restoring ?? previous.value);
    this.#refresh('reset');
    void this.#pump();
  }

  /** @internal Applies the next event of the log. */
  apply(event: StateEvent): void {
    if (event.kind === 'create' && event.epoch !== this.#confirmed.epoch) {
      // The hub lost the state (a restart, or it forgot an idle room): give back what we hold.
      const held = this.#restoring ?? this.#confirmed.value;
      this.#confirmed = applyStateEvent(this.#confirmed, event)!;
      for (const p of this.#pending) p.sent = false;
      this.#offerRestore(held);
    } else {
      this.#confirmed = applyStateEvent(this.#confirmed, event) ?? this.#confirmed;
    }
    if (event.kind === 'restore' && this.#confirmed.version === 1) this.#restoring = undefined;
    if (event.kind === 'patch' || event.kind === 'restore') {
      const index = this.#pending.findIndex((p) => p.ref === event.ref);
      if (index !== -1) this.#pending.splice(index, 1)[0]!.resolve();
    }
    const from = event.kind === 'patch' || event.kind === 'restore' ? event.from : undefined;
    this.#refresh('remote', from);
    void this.#pump();
  }

  /**
   * @internal The room closed: the patches the hub has not confirmed go once more, in order, in one
   * request that outlives the page (the hub skips those it applied already), and their promises fail.
   * Not while resynchronizing: they could land on a state the hub lost before the peers give it back.
   */
  close(): void {
    this.#closed = true;
    const unconfirmed = this.#pending.filter((p) => !p.acked);
    if (unconfirmed.length > 0 && !this.#held && !this.#restoreJob) {
      const patches: { ref: string; patch: JsonObject }[] = [];
      let bytes = 16;
      for (const { ref, patch } of unconfirmed.slice(0, MAX_LEAVING)) {
        bytes += new TextEncoder().encode(JSON.stringify({ ref, patch })).length + 1;
        if (bytes > this.#link.maxBytes) break;
        patches.push({ ref, patch });
      }
      if (patches.length > 0) this.#link.leaving({ patches });
    }
    for (const p of this.#pending.splice(0)) p.reject(new ClientError('aborted', 'the room is closed'));
    this.#events.clear();
  }

  #offerRestore(held: JsonObject): void {
    if (isEmpty(held) || this.#confirmed.version !== 0) return;
    this.#restoring = held;
    this.#restoreJob = { ref: crypto.randomUUID(), epoch: this.#confirmed.epoch, state: held };
  }

  #refresh(source: StateChange['source'], from?: string | null): void {
    let value = this.#restoring ?? this.#confirmed.value;
    for (const p of this.#pending) value = mergePatch(value, p.patch) as JsonObject;
    this.#value = value;
    this.#events.emit('change', { value, source, ...(from !== undefined ? { from } : {}) });
  }

  /** Sends the restore (first) and unsent patches, in order, one at a time; retries what may succeed later. */
  async #pump(): Promise<void> {
    if (this.#sending || this.#held) return;
    this.#sending = true;
    let attempt = 0;
    try {
      while (!this.#closed && !this.#held) {
        const restore = this.#restoreJob;
        const next = restore ? undefined : this.#pending.find((p) => !p.sent);
        if (!restore && !next) return;
        try {
          if (restore) {
            await this.#link.post('/restore', restore);
            if (this.#restoreJob === restore) this.#restoreJob = undefined;
          } else {
            next!.sent = true;
            const answer = (await this.#link.post('', { ref: next!.ref, patch: next!.patch })) as {
              duplicate?: boolean;
            };
            next!.acked = true;
            next!.resolve();
            if (answer?.duplicate) this.#drop(next!);
          }
          attempt = 0;
        } catch (error) {
          if (retryable(error)) {
            if (next) next.sent = false;
            if (!(await this.#link.wait(++attempt))) return;
            continue;
          }
          if (restore) {
            // 409: someone restored or changed the state first; the log brings us in line.
            if (this.#restoreJob === restore) this.#restoreJob = undefined;
            this.#restoring = undefined;
          } else {
            this.#drop(next!);
            next!.reject(error);
          }
          this.#refresh('remote');
        }
      }
    } finally {
      this.#sending = false;
    }
  }

  #drop(pending: Pending): void {
    const index = this.#pending.indexOf(pending);
    if (index !== -1) this.#pending.splice(index, 1);
  }
}
