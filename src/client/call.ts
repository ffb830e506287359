/**
 * A WebRTC call over a room: one `RTCPeerConnection` per other peer (a full mesh), negotiated with
 * {@link PerfectNegotiation} through the peers' inboxes, so either side may start and offers may cross.
 * Each connection carries the local media and a data channel; ICE restarts when a connection fails or
 * stays disconnected. Connections follow presence: made when a peer joins, closed when it leaves.
 *
 * Signals carry the id of the connection ("session") they belong to on both ends: when a peer starts
 * a connection over (its page reloaded with the same peer id, or it dropped ours), the other side
 * sees a new session and starts over too, and messages meant for a connection that is gone are dropped.
 * Browser APIs only.
 */

import { isJsonObject, type PeerInfo } from '../room-protocol/index.ts';
import { Emitter } from './emitter.ts';
import type { Room } from './room.ts';
import { PerfectNegotiation } from './webrtc.ts';

export interface CallOptions {
  /** Local media sent to every peer (more can be added later with {@link Call.addStream}). */
  stream?: MediaStream;
  /**
   * `RTCPeerConnection` configuration, e.g. `{ iceTransportPolicy: 'relay' }`. Its `iceServers`
   * default to the ones the hub hands out ({@link Room.iceServers}), renewed with the peer token.
   */
  rtc?: RTCConfiguration;
  /** Label of the data channel opened with each peer (negotiated, id 0), or false for none. Default `data`. */
  channel?: string | false;
  /**
   * Restart ICE when a connection stays `disconnected` this long, in ms (at once when it `failed`),
   * then again with backoff (up to 15 s apart) until it is back. Default 5000.
   */
  disconnectedTimeout?: number;
  /** How long a connection started by a signal waits for its peer to show up in presence, in ms. Default 10 000. */
  presenceTimeout?: number;
}

/** Longest wait between two ICE restarts while a connection stays down. */
const MAX_RESTART_INTERVAL_MS = 15_000;

/** The connection to one peer. */
export interface CallPeer {
  readonly id: string;
  readonly pc: RTCPeerConnection;
  readonly negotiation: PerfectNegotiation;
  /** The data channel (once created; check `readyState`). */
  readonly channel: RTCDataChannel | undefined;
  /** The peer's media, as tracks arrive. */
  readonly stream: MediaStream;
}

/** Events of a {@link Call}. */
export interface CallEvents {
  /** A connection to a peer was created (its media and channel follow). */
  peer: CallPeer;
  /** A remote track arrived; `peer.stream` holds all of the peer's tracks. */
  track: { readonly peer: CallPeer; readonly track: MediaStreamTrack };
  /** `RTCPeerConnection.connectionState` changed. */
  state: { readonly peer: CallPeer; readonly state: RTCPeerConnectionState };
  /** The data channel with a peer opened. */
  open: CallPeer;
  /** A data channel message. */
  data: { readonly peer: CallPeer; readonly data: unknown };
  /** The connection to a peer was closed (it left, or started over). */
  closed: CallPeer;
  /** A negotiation fault (reported, the call goes on). */
  error: { readonly peer: string; readonly error: unknown };
}

interface Entry extends CallPeer {
  negotiation: PerfectNegotiation;
  session: string;
  remoteSession: string | undefined;
  channel: RTCDataChannel | undefined;
  timers: Set<ReturnType<typeof setTimeout>>;
}

/**
 * Starts a mesh call in `room`.
 *
 * @example
 * const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
 * const call = startCall(room, { stream });
 * call.on('track', ({ peer }) => (videoOf(peer.id).srcObject = peer.stream));
 * call.on('data', ({ peer, data }) => console.log(peer.id, data));
 * call.broadcast('hello over the data channels');
 */
export function startCall(room: Room, options: CallOptions = {}): Call {
  return new Call(room, options);
}

/** A mesh call; see {@link startCall}. */
export class Call {
  readonly room: Room;
  readonly #options: CallOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #events = new Emitter<CallEvents>();
  readonly #streams: MediaStream[] = [];
  readonly #unlisten: Array<() => void>;
  #closed = false;

  constructor(room: Room, options: CallOptions = {}) {
    this.room = room;
    this.#options = options;
    if (options.stream) this.#streams.push(options.stream);
    this.#unlisten = [
      room.on('join', (peer) => this.#ensure(peer)),
      room.on('leave', (peer) => this.#drop(peer.id)),
      room.on('signal', ({ from, data }) => this.#signal(from, data)),
      room.on('self', () => {
        // A new id of ours: every connection starts over, with politeness recomputed.
        for (const id of [...this.#entries.keys()]) this.#drop(id);
        for (const peer of room.peers.values()) this.#ensure(peer);
      }),
      room.on('close', () => this.close()),
      room.on('ice', (iceServers) => {
        // Fresh TURN credentials: used by the next ICE restart (running allocations keep theirs).
        if (this.#options.rtc?.iceServers) return;
        for (const entry of this.#entries.values()) {
          try {
            entry.pc.setConfiguration({ ...entry.pc.getConfiguration(), iceServers: [...iceServers] });
          } catch (error) {
            this.#events.emit('error', { peer: entry.id, error });
          }
        }
      }),
    ];
    // After the caller attached its listeners: the peers already there get their connection.
    queueMicrotask(() => {
      for (const peer of room.peers.values()) this.#ensure(peer);
    });
  }

  /** The connections, by peer id. */
  get peers(): ReadonlyMap<string, CallPeer> {
    return this.#entries;
  }

  /** Listens to a call event; returns a function that removes the listener. */
  on<K extends keyof CallEvents>(type: K, listener: (value: CallEvents[K]) => void): () => void {
    return this.#events.on(type, listener);
  }

  /** Sends on the data channel of one peer; false when it is not open. */
  send(peerId: string, data: string): boolean {
    const channel = this.#entries.get(peerId)?.channel;
    if (channel?.readyState !== 'open') return false;
    channel.send(data);
    return true;
  }

  /** Sends on every open data channel; returns how many peers it went to. */
  broadcast(data: string): number {
    let sent = 0;
    for (const id of this.#entries.keys()) if (this.send(id, data)) sent++;
    return sent;
  }

  /** Sends the tracks of `stream` to every peer too (each connection renegotiates by itself). */
  addStream(stream: MediaStream): void {
    this.#streams.push(stream);
    for (const entry of this.#entries.values()) {
      for (const track of stream.getTracks()) entry.pc.addTrack(track, stream);
    }
  }

  /** Hangs up: closes every connection and stops following the room (the room stays joined). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const off of this.#unlisten) off();
    for (const id of [...this.#entries.keys()]) this.#drop(id);
    this.#events.clear();
  }

  #ensure(peer: PeerInfo): Entry | undefined {
    if (this.#closed) return undefined;
    return this.#entries.get(peer.id) ?? this.#create(peer.id);
  }

  /** The configuration of new connections: the hub's ICE servers unless the options name others. */
  #configuration(): RTCConfiguration {
    const rtc = this.#options.rtc;
    return { ...rtc, iceServers: rtc?.iceServers ?? this.room.iceServers };
  }

  #create(id: string): Entry {
    const pc = new RTCPeerConnection(this.#configuration());
    const entry: Entry = {
      id,
      pc,
      negotiation: undefined as unknown as PerfectNegotiation,
      channel: undefined,
      stream: new MediaStream(),
      session: crypto.randomUUID(),
      remoteSession: undefined,
      timers: new Set(),
    };
    entry.negotiation = new PerfectNegotiation(pc, {
      selfId: this.room.self.id,
      peerId: id,
      send: (signal) => this.room.signal(id, { session: entry.session, to: entry.remoteSession, signal }),
      onError: (error) => this.#events.emit('error', { peer: id, error }),
    });
    const label = this.#options.channel ?? 'data';
    if (label !== false) {
      const channel = pc.createDataChannel(label, { negotiated: true, id: 0 });
      channel.addEventListener('open', () => this.#events.emit('open', entry));
      channel.addEventListener('message', (e) => this.#events.emit('data', { peer: entry, data: e.data }));
      entry.channel = channel;
    }
    pc.addEventListener('track', (event) => {
      entry.stream.addTrack(event.track);
      event.track.addEventListener('ended', () => entry.stream.removeTrack(event.track), { once: true });
      this.#events.emit('track', { peer: entry, track: event.track });
    });
    let recovering = false;
    /**
     * While the connection is down, restart ICE with backoff until it is back: one restart may find
     * the network still cut (a relay that is gone, a switched Wi-Fi), and Chromium would not retry.
     */
    const recover = (delay: number) => {
      this.#timer(entry, delay, () => {
        const state = pc.connectionState;
        if (state === 'connected' || state === 'closed' || !this.#entries.has(id)) {
          recovering = false;
          return;
        }
        entry.negotiation.restartIce();
        recover(Math.min(Math.max(2000, delay * 2), MAX_RESTART_INTERVAL_MS));
      });
    };
    pc.addEventListener('connectionstatechange', () => {
      const state = pc.connectionState;
      if ((state === 'disconnected' || state === 'failed') && !recovering) {
        recovering = true;
        // Chromium waits about 30 s before `failed`; a restart within seconds brings media back sooner.
        recover(state === 'failed' ? 0 : (this.#options.disconnectedTimeout ?? 5000));
      }
      this.#events.emit('state', { peer: entry, state });
    });
    for (const stream of this.#streams) for (const track of stream.getTracks()) pc.addTrack(track, stream);
    this.#entries.set(id, entry);
    this.#events.emit('peer', entry);
    return entry;
  }

  #signal(from: string, data: unknown): void {
    if (this.#closed || !isJsonObject(data) || typeof data.session !== 'string') return;
    const to = typeof data.to === 'string' ? data.to : undefined;
    let entry = this.#entries.get(from);
    // Meant for a connection of ours that no longer exists: stale.
    if (to !== undefined && entry?.session !== to) return;
    if (entry?.remoteSession !== undefined && entry.remoteSession !== data.session) {
      this.#drop(from); // The other side started over.
      entry = undefined;
    }
    if (!entry) {
      entry = this.#create(from);
      if (!this.room.peers.has(from)) {
        // Signals can overtake the peer's presence; one that never shows up was a leftover.
        const created = entry;
        this.#timer(entry, this.#options.presenceTimeout ?? 10_000, () => {
          if (!this.room.peers.has(from) && this.#entries.get(from) === created) this.#drop(from);
        });
      }
    }
    entry.remoteSession = data.session;
    void entry.negotiation.handle(data.signal);
  }

  #timer(entry: Entry, ms: number, run: () => void): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      entry.timers.delete(timer);
      run();
    }, ms);
    entry.timers.add(timer);
    return timer;
  }

  #drop(id: string): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    this.#entries.delete(id);
    for (const timer of entry.timers) clearTimeout(timer);
    entry.negotiation.close();
    entry.pc.close();
    for (const track of entry.stream.getTracks()) entry.stream.removeTrack(track);
    this.#events.emit('closed', entry);
  }
}
