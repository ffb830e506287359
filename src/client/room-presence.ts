/**
 * Who is in a room, from the hub's subscription events: a peer is present while at least one of its
 * connections subscribes to its inbox. A peer whose last connection ends is reported gone only after
 * a grace period, so that a reconnection (a token renewal, a network change, a hub restart) does not
 * read as leave-and-join. Web APIs only: this file ships in the browser bundle.
 */
import {
  inboxTopic,
  isJsonObject,
  isPeerId,
  type PeerInfo,
  type PresentPeer,
} from '../room-protocol/index.ts';

export interface PresenceOptions {
  /** Delay before a peer whose connections all ended is reported gone, in ms. */
  leaveGrace: number;
  /** The same delay right after our own connection came back (everyone reconnects then), in ms. */
  resyncGrace: number;
}

interface Entry {
  info: PeerInfo;
  subscribers: Set<string>;
  timer?: ReturnType<typeof setTimeout>;
}

/** Tracks the peers of one room; calls `onJoin` and `onLeave` as they come and go. */
export class PresenceTracker {
  readonly #room: string;
  readonly #options: PresenceOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #view = new Map<string, PeerInfo>();
  #self: string;
  #graceUntil = 0;
  readonly #onJoin: (peer: PeerInfo) => void;
  readonly #onLeave: (peer: PeerInfo) => void;

  constructor(
    room: string,
    self: string,
    options: PresenceOptions,
    onJoin: (peer: PeerInfo) => void,
    onLeave: (peer: PeerInfo) => void,
  ) {
    this.#room = room;
    this.#self = self;
    this.#options = options;
    this.#onJoin = onJoin;
    this.#onLeave = onLeave;
  }

  /** The peers present (this one excluded), by id. */
  get peers(): ReadonlyMap<string, PeerInfo> {
    return this.#view;
  }

  /** This peer's id changed (it had to join again as a new peer). */
  setSelf(id: string): void {
    this.#self = id;
    const entry = this.#entries.get(id);
    if (entry) this.#forget(id, entry, false);
  }

  /** Our connection came back after a drop: peers get the longer grace for a while. */
  reconnected(): void {
    this.#graceUntil = Date.now() + this.#options.resyncGrace;
  }

  /**
   * Takes the hub's list (join answer). `initial`: the first one, nobody is announced. Otherwise peers
   * we knew and the list lacks get the longer grace: they are probably reconnecting too.
   */
  reconcile(list: readonly PresentPeer[], initial: boolean): void {
    const listed = new Set<string>();
    for (const peer of list) {
      if (peer.id === this.#self || !isPeerId(peer.id)) continue;
      listed.add(peer.id);
      const { subscribers, ...info } = peer;
      this.#present(peer.id, info, subscribers, !initial);
    }
    if (initial) return;
    this.reconnected();
    for (const [id, entry] of this.#entries) {
      if (listed.has(id)) continue;
      entry.subscribers.clear();
      this.#schedule(id, entry);
    }
  }

  /** Processes one subscription event (`event: mercure`); anything that is not presence of this room is ignored. */
  handle(data: string): void {
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    if (!isJsonObject(event) || event.type !== 'subscription' || event.match_type !== 'exact') return;
    const { subscriber, active, payload, match } = event;
    if (typeof subscriber !== 'string' || typeof active !== 'boolean' || !isJsonObject(payload)) return;
    const peer = payload.peer;
    // The token's payload names the peer (the hub signed it); a subscription to an inbox that is not
    // the subscriber's own is someone listening where it cannot read, not presence.
    if (payload.room !== this.#room || !isPeerId(peer) || match !== inboxTopic(this.#room, peer)) return;
    if (peer === this.#self) return;
    if (active) {
      const info: PeerInfo = {
        id: peer,
        ...(typeof payload.name === 'string' ? { name: payload.name } : {}),
        ...(typeof payload.user === 'string' ? { user: payload.user } : {}),
      };
      this.#present(peer, info, [subscriber], true);
      return;
    }
    const entry = this.#entries.get(peer);
    if (!entry) return;
    entry.subscribers.delete(subscriber);
    if (entry.subscribers.size === 0) this.#schedule(peer, entry);
  }

  /** Stops every timer. */
  close(): void {
    for (const entry of this.#entries.values()) clearTimeout(entry.timer);
    this.#entries.clear();
    this.#view.clear();
  }

  #present(id: string, info: PeerInfo, subscribers: readonly string[], announce: boolean): void {
    let entry = this.#entries.get(id);
    if (!entry) {
      entry = { info, subscribers: new Set() };
      this.#entries.set(id, entry);
      this.#view.set(id, info);
      if (announce) this.#onJoin(info);
    }
    clearTimeout(entry.timer);
    entry.timer = undefined;
    for (const s of subscribers) entry.subscribers.add(s);
  }

  #schedule(id: string, entry: Entry): void {
    if (entry.timer !== undefined) return;
    const grace = Date.now() < this.#graceUntil ? this.#options.resyncGrace : this.#options.leaveGrace;
    entry.timer = setTimeout(() => {
      if (entry.subscribers.size === 0 && this.#entries.get(id) === entry) this.#forget(id, entry, true);
    }, grace);
  }

  #forget(id: string, entry: Entry, announce: boolean): void {
    clearTimeout(entry.timer);
    this.#entries.delete(id);
    this.#view.delete(id);
    if (announce) this.#onLeave(entry.info);
  }
}
