/**
 * Room capacity (`SSEHUB_ROOMS_MAX_PEERS`) that holds whatever the order of joins and connections.
 *
 * Presence alone (the subscription registry) only knows peers whose stream is live, so twelve joins
 * made before anyone connects would all see an empty room. A peer therefore takes a *seat* when it
 * is admitted — when it joins, and again when its stream opens — and holds it until its presence is
 * recorded (its `active: true` subscription event, which the hub publishes once the registry has it),
 * or for {@link SEAT_HOLD_MS} if it never connects. A room's occupancy is its present peers plus its
 * held seats, counted once per peer. The hub checks it at join (409) and again when a peer's stream
 * opens (409), so a peer token minted elsewhere (another instance, an earlier seat that lapsed) cannot
 * fill the room past the limit either.
 *
 * Seats are held in memory, per instance; presence is shared (Redis registry). On one instance the
 * limit is exact: admissions to a room run one at a time. Across instances, two peers admitted on
 * different instances in the moment before either's presence is recorded can both take the last seat
 * (see docs/rooms.md).
 */
import type { Broker, Update } from '../brokers/index.ts';
import { HubError } from '../hub/index.ts';
import { inboxTopic, isJsonObject, isPeerId, isRoomName, type PresentPeer } from '../room-protocol/index.ts';

/** How long a seat taken at join or connect waits for the peer's presence to be recorded. */
export const SEAT_HOLD_MS = 30_000;

export interface SeatsOptions {
  /** Most peers in a room. */
  maxPeers: number;
  /** The hub's path: subscription events are under `{hubPath}/subscriptions/`. */
  hubPath: string;
  /** Who is in a room now, by peer id, as the (possibly shared) registry says. */
  present(room: string): Promise<Map<string, PresentPeer>>;
  /** Default {@link SEAT_HOLD_MS}. */
  holdMs?: number;
  /** Default `Date.now`. */
  now?: () => number;
}

/** The seats of every room on this instance; see the module comment. */
export class Seats {
  readonly #options: Required<SeatsOptions>;
  /** Room → peer → when its seat lapses (ms since the epoch). */
  readonly #held = new Map<string, Map<string, number>>();
  /** Room → the tail of its admissions, which run one at a time. */
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #eventPrefix: string;
  readonly #unsubscribe: () => void;
  #nextSweep = 0;

  constructor(broker: Broker, options: SeatsOptions) {
    this.#options = { holdMs: SEAT_HOLD_MS, now: Date.now, ...options };
    // Only exact subscriptions to an inbox are presence (see `present` in rooms.ts).
    this.#eventPrefix = `${options.hubPath}/subscriptions/exact/${encodeURIComponent('/rooms/')}`;
    this.#unsubscribe = broker.subscribe((updates) => {
      for (const update of updates) if (update.type === 'mercure') this.#presenceEvent(update);
    });
  }

  /**
   * Admits `peer` into `room`: a peer already present is in (a renewal, a second connection); any
   * other takes a seat, unless present peers and held seats of others already fill the room.
   * Resolves with who is present (the peer itself included, when it is).
   * @throws {HubError} 409 when the room is full, 503 when the registry cannot be read.
   */
  claim(room: string, peer: string): Promise<Map<string, PresentPeer>> {
    const previous = this.#queues.get(room) ?? Promise.resolve();
    const next = previous.then(() => this.#claim(room, peer));
    const tail = next.catch(() => {});
    this.#queues.set(room, tail);
    void tail.then(() => {
      if (this.#queues.get(room) === tail) this.#queues.delete(room);
    });
    return next;
  }

  /** Stops following the broker. */
  close(): void {
    this.#unsubscribe();
    this.#held.clear();
  }

  async #claim(room: string, peer: string): Promise<Map<string, PresentPeer>> {
    // Seats before presence: a seat given up while the registry is read is one whose presence the
    // registry had by then, so each peer is seen in one or the other.
    const seated = this.#seated(room);
    const ownSeat = this.#held.get(room)?.get(peer);
    let present: Map<string, PresentPeer>;
    try {
      present = await this.#options.present(room);
    } catch (error) {
      // A shared registry (Redis) that is away: a retryable 503, like the Subscription API's.
      console.error('ssehub: room presence lookup failed', error);
      throw new HubError('unavailable', 'the subscription registry is unavailable; retry later');
    }
    if (present.has(peer)) return present;
    const now = this.#options.now();
    // Its seat went while the registry was read, before it lapsed: its presence was recorded meanwhile
    // (a list read a moment earlier missed it). Taking a new seat would hold one for a present peer.
    if (ownSeat !== undefined && ownSeat > now && !this.#held.get(room)?.has(peer)) return present;
    const taken = new Set([...present.keys(), ...seated]);
    taken.delete(peer);
    const { maxPeers } = this.#options;
    if (taken.size >= maxPeers) throw new HubError('conflict', `the room is full (${maxPeers} peers)`);
    let seats = this.#held.get(room);
    if (!seats) {
      seats = new Map();
      this.#held.set(room, seats);
    }
    seats.set(peer, now + this.#options.holdMs);
    this.#sweep(now);
    return present;
  }

  /** The peers holding a seat in `room` now. */
  #seated(room: string): string[] {
    const seats = this.#held.get(room);
    if (!seats) return [];
    const now = this.#options.now();
    for (const [peer, until] of seats) if (until <= now) seats.delete(peer);
    if (seats.size === 0) this.#held.delete(room);
    return [...seats.keys()];
  }

  /** Forgets lapsed seats of rooms nobody asks about any more: at most once per hold period. */
  #sweep(now: number): void {
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + this.#options.holdMs;
    for (const room of [...this.#held.keys()]) this.#seated(room);
  }

  /** A peer's presence is recorded: the registry counts it from now on, its seat is no longer needed. */
  #presenceEvent(update: Update): void {
    if (!update.topics[0]?.startsWith(this.#eventPrefix)) return;
    let event: unknown;
    try {
      event = JSON.parse(update.data);
    } catch {
      return;
    }
    if (!isJsonObject(event) || event.active !== true || !isJsonObject(event.payload)) return;
    const { room, peer } = event.payload;
    if (!isRoomName(room) || !isPeerId(peer) || event.match !== inboxTopic(room, peer)) return;
    const seats = this.#held.get(room);
    if (!seats?.delete(peer)) return;
    if (seats.size === 0) this.#held.delete(room);
  }
}
