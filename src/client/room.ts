/**
 * Rooms: join one on the hub, see who is there, message peers, share a state — all over SSE and plain
 * HTTP publishes. The hub's join endpoint gives a short-lived peer token, renewed here before it
 * expires; the event stream resumes after drops with `Last-Event-ID`, and when the hub cannot replay
 * what was missed (it restarted) the room reloads peers and state and carries on.
 * Web APIs only: this file ships in the browser bundle.
 */

import {
  type Envelope,
  EVENT,
  fromBase64,
  inboxTopic,
  isJsonObject,
  isPeerId,
  isRoomName,
  type JoinResponse,
  type PeerInfo,
  parseDocEvent,
  parseStateEvent,
} from '../room-protocol/index.ts';
import { backoffDelay, reconnectDefaults, sleep } from './backoff.ts';
import { Emitter } from './emitter.ts';
import { bearer, ClientError, httpError } from './errors.ts';
import { type Subscription, subscribe } from './events.ts';
import { publish } from './publisher.ts';
import { Outbox } from './room-outbox.ts';
import { PresenceTracker } from './room-presence.ts';
import { RoomState } from './room-state.ts';
import type { JoinOptions, RoomEvents, RoomStatus } from './room-types.ts';

export type * from './room-types.ts';

type Fetch = NonNullable<JoinOptions['fetch']>;

/**
 * Joins room `room` on the hub at `base` (its origin, e.g. `https://hub.example.com`).
 *
 * @throws {ClientError} `http` when the hub refuses (400 bad name, 401/403 token, 404 rooms disabled,
 *   409 room full), `network` when it cannot be reached.
 * @example
 * const room = await joinRoom('https://hub.example.com', 'standup', { name: 'Ada' });
 * room.on('join', (peer) => console.log(`${peer.name} joined`));
 * room.on('message', ({ from, data }) => console.log(from, data));
 * await room.broadcast({ text: 'hello everyone' });
 */
export async function joinRoom(base: string | URL, room: string, options: JoinOptions = {}): Promise<Room> {
  if (!isRoomName(room))
    throw new TypeError('joinRoom: room names are 1 to 64 characters among A-Z a-z 0-9 _ -');
  const origin = (globalThis as { location?: { href: string } }).location?.href;
  const endpoint = new URL(`/rooms/${room}/join`, new URL(base, origin)).href;
  const answer = await requestJoin(endpoint, options);
  return new Room(endpoint, answer, options);
}

async function requestJoin(endpoint: string, options: JoinOptions, resume?: string): Promise<JoinResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const token = typeof options.token === 'function' ? await options.token() : options.token;
  if (token) headers.authorization = bearer(token);
  const request: Fetch = options.fetch ?? ((input, init) => fetch(input, init));
  let response: Response;
  try {
    response = await request(endpoint, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: options.name, resume }),
    });
  } catch (cause) {
    throw new ClientError('network', 'could not reach the hub', undefined, { cause });
  }
  if (!response.ok) throw await httpError(response, 'join');
  return (await response.json()) as JoinResponse;
}

/** A joined room; see {@link joinRoom}. */
export class Room {
  /** The room's name. */
  readonly name: string;
  /** The shared state: `value`, `patch()`, `change` events. */
  readonly state: RoomState;
  #answer: JoinResponse;
  #self: PeerInfo;
  #status: RoomStatus = 'connecting';
  #sub: Subscription | undefined;
  #renewTimer: ReturnType<typeof setTimeout> | undefined;
  /** After this time (ms since the epoch), the token is renewed before it is used. */
  #renewBy = 0;
  #renewing: Promise<void> | undefined;
  #resyncing: Promise<void> | undefined;
  #failures = 0;
  readonly #endpoint: string;
  readonly #options: JoinOptions;
  readonly #presence: PresenceTracker;
  readonly #outbox: Outbox;
  readonly #events = new Emitter<RoomEvents>();
  readonly #stop = new AbortController();

  /** @internal Use {@link joinRoom}. */
  constructor(endpoint: string, answer: JoinResponse, options: JoinOptions) {
    this.#endpoint = endpoint;
    this.#options = options;
    this.#answer = answer;
    this.name = answer.room;
    this.#self = { id: answer.peer, ...(options.name ? { name: options.name.trim() } : {}) };
    this.#presence = new PresenceTracker(
      this.name,
      answer.peer,
      { leaveGrace: options.leaveGrace ?? 3000, resyncGrace: options.resyncGrace ?? 15_000 },
      (peer) => this.#events.emit('join', peer),
      (peer) => this.#events.emit('leave', peer),
    );
    this.#presence.reconcile(answer.peers, true);
    const limits = () => this.#answer.limits;
    const wait = (attempt: number) =>
      sleep(backoffDelay(500, attempt - 1, { ...reconnectDefaults, maxDelay: 10_000 }), this.#stop.signal);
    this.state = new RoomState(
      {
        post: (suffix, body) => this.#authorized((token) => this.#post(`/state${suffix}`, body, token)),
        wait,
        leaving: (body) => {
          const bytes = new TextEncoder().encode(JSON.stringify(body));
          this.request('/state', {
            method: 'POST',
            body: bytes,
            type: 'application/json',
            keepalive: true,
          }).catch(() => {});
        },
        get maxBytes() {
          return limits().messageBytes;
        },
      },
      answer.state,
    );
    this.#outbox = new Outbox({
      publish: (to, envelope, id) => this.#authorized((token) => this.#publish(to, envelope, id, token)),
      wait,
      self: () => this.#self.id,
      get maxBytes() {
        return limits().messageBytes;
      },
    });
    this.#connect(answer.cursor);
    this.#scheduleRenewal();
    const signal = options.signal;
    if (signal?.aborted) queueMicrotask(() => this.#close({ reason: 'aborted' }));
    signal?.addEventListener('abort', () => this.#close({ reason: 'aborted' }), { once: true });
  }

  /** This peer: its id (what the others see as `from`) and name. */
  get self(): PeerInfo {
    return this.#self;
  }

  /** The other peers present, by id. */
  get peers(): ReadonlyMap<string, PeerInfo> {
    return this.#presence.peers;
  }

  /** The connection to the hub. */
  get status(): RoomStatus {
    return this.#status;
  }

  /** Largest message, in bytes, and most peers of this room. */
  get limits(): Readonly<JoinResponse['limits']> {
    return this.#answer.limits;
  }

  /**
   * The ICE servers the hub hands this peer (STUN, and TURN with credentials minted for it), in
   * `RTCConfiguration.iceServers` shape; renewed with the peer token (an `ice` event says when).
   */
  get iceServers(): RTCIceServer[] {
    return this.#answer.iceServers ?? [];
  }

  /** Listens to a room event; returns a function that removes the listener. */
  on<K extends keyof RoomEvents>(type: K, listener: (value: RoomEvents[K]) => void): () => void {
    return this.#events.on(type, listener);
  }

  /** Sends `data` (anything JSON can carry) to one peer; resolves once the hub has it. Messages to a peer keep their order. */
  send(peerId: string, data: unknown): Promise<void> {
    if (!isPeerId(peerId)) return Promise.reject(new TypeError('send: not a peer id'));
    return this.#outbox.enqueue(peerId, { type: 'message', data });
  }

  /** Sends `data` to every peer of the room (not back to this one). */
  broadcast(data: unknown): Promise<void> {
    return this.#outbox.enqueue(null, { type: 'message', data });
  }

  /** Sends a WebRTC signaling message to a peer (used by the call helper; arrives as a `signal` event). */
  signal(peerId: string, data: unknown): Promise<void> {
    if (!isPeerId(peerId)) return Promise.reject(new TypeError('signal: not a peer id'));
    return this.#outbox.enqueue(peerId, { type: 'signal', data });
  }

  /**
   * Leaves the room: closes the event stream (the others see this peer go) and drops the messages still
   * queued; state patches the hub has not confirmed are sent once more, in a request that outlives the
   * page (their promises still reject with `aborted`).
   */
  leave(): void {
    this.#close({ reason: 'left' });
  }

  #setStatus(status: RoomStatus): void {
    if (this.#status === status || this.#status === 'closed') return;
    this.#status = status;
    this.#events.emit('status', status);
  }

  #close(info: RoomEvents['close']): void {
    if (this.#status === 'closed') return;
    this.#setStatus('closed');
    this.#stop.abort();
    clearTimeout(this.#renewTimer);
    this.#sub?.close();
    this.#presence.close();
    this.#outbox.close();
    this.state.close();
    this.#events.emit('close', info);
    this.#events.clear();
  }

  /** Opens the event stream from `cursor` (closing the previous one first: no event is read twice). */
  #connect(cursor: string): void {
    this.#sub?.close();
    const { topics, hub } = this.#answer;
    const sub = subscribe(hub, {
      match: [topics.room, topics.state, topics.inbox],
      matchUrlPattern: topics.presence,
      lastEventId: cursor,
      token: () => this.#freshToken(),
      reconnect: this.#options.reconnect,
      fetch: this.#options.fetch,
      signal: this.#stop.signal,
    });
    this.#sub = sub;
    const current = () => this.#sub === sub && this.#status !== 'closed';
    sub.on('open', (info) => {
      if (!current()) return;
      this.#failures = 0;
      if (info.reconnected) this.#presence.reconnected();
      this.#setStatus('open');
    });
    sub.on('reconnecting', () => current() && this.#setStatus('reconnecting'));
    sub.on('gap', () => current() && void this.#resync('gap'));
    sub.on('close', ({ reason, error }) => {
      if (!current() || reason !== 'error') return;
      // 401/403: the token is no longer valid (e.g. the hub restarted with another key): join again.
      const status = error?.status;
      if (status === 401 || status === 403) void this.#resync('token');
      else this.#close({ reason: 'error', error });
    });
    sub.on(EVENT.state, (m) => {
      const event = current() ? parseStateEvent(m.data) : undefined;
      if (event) this.state.apply(event);
    });
    sub.on(EVENT.doc, (m) => {
      const event = current() ? parseDocEvent(m.data) : undefined;
      const update = event?.kind === 'update' ? fromBase64(event.update) : undefined;
      if (event?.kind === 'update' && update)
        this.#events.emit('doc', { doc: event.doc, update, from: event.from });
    });
    sub.on(EVENT.presence, (m) => current() && this.#presence.handle(m.data));
    sub.on(EVENT.broadcast, (m) => current() && this.#deliver(m.data, true));
    sub.on(EVENT.direct, (m) => current() && this.#deliver(m.data, false));
  }

  #deliver(data: string, broadcast: boolean): void {
    let envelope: unknown;
    try {
      envelope = JSON.parse(data);
    } catch {
      return;
    }
    if (!isJsonObject(envelope) || !isPeerId(envelope.from) || !Array.isArray(envelope.items)) return;
    const from = envelope.from;
    if (from === this.#self.id) return; // Our own broadcast, back from the hub.
    for (const item of envelope.items) {
      if (!isJsonObject(item)) continue;
      if (item.type === 'message') this.#events.emit('message', { from, data: item.data, broadcast });
      else if (item.type === 'signal' && !broadcast) this.#events.emit('signal', { from, data: item.data });
    }
  }

  /** The token for the next request: renewed first when it is about to expire. */
  async #freshToken(): Promise<string> {
    // Normally the timer renews first; this catches a timer that could not run (a sleeping laptop).
    if (Date.now() > this.#renewBy) await this.#renew();
    return this.#answer.token;
  }

  /** Runs a request with the token, renewing it once if the hub says it is no longer valid. */
  async #authorized<T>(run: (token: string) => Promise<T>): Promise<T> {
    try {
      return await run(await this.#freshToken());
    } catch (error) {
      if (!(error instanceof ClientError && error.status === 401)) throw error;
      await this.#renew();
      return run(this.#answer.token);
    }
  }

  async #publish(to: string | null, envelope: Envelope, id: string, token: string): Promise<void> {
    const topic = to === null ? this.#answer.topics.room : inboxTopic(this.name, to);
    const type = to === null ? EVENT.broadcast : EVENT.direct;
    const update = { topics: topic, data: JSON.stringify(envelope), private: true, type, id };
    await publish(this.#answer.hub, update, { token, fetch: this.#options.fetch, signal: this.#stop.signal });
  }

  /**
   * @internal A request to this room's endpoints on the hub (`path` after `/rooms/{room}`) with the
   * peer token, renewed first if needed (the Yjs provider reads and writes documents with it).
   * With `keepalive`, the request outlives the room and the page (a `fetch` keepalive request, not
   * cancelled by leaving): it carries the current token as it is, even after the room closed.
   * @throws {ClientError} `http` for an error status, `network` when the hub cannot be reached.
   */
  request(
    path: string,
    init: { method: 'GET' | 'POST'; body?: Uint8Array; type?: string; keepalive?: boolean },
  ): Promise<Response> {
    const run = async (token: string) => {
      const url = this.#endpoint.replace(/\/join$/, path);
      const request: Fetch = this.#options.fetch ?? ((input, options) => fetch(input, options));
      const headers: Record<string, string> = { authorization: bearer(token) };
      if (init.type) headers['content-type'] = init.type;
      let response: Response;
      try {
        response = await request(url, {
          method: init.method,
          headers,
          ...(init.body ? { body: init.body as Uint8Array<ArrayBuffer> } : {}),
          ...(init.keepalive ? { keepalive: true } : { signal: this.#stop.signal }),
        });
      } catch (cause) {
        throw new ClientError('network', 'could not reach the hub', undefined, { cause });
      }
      if (!response.ok) throw await httpError(response, `${init.method} ${path}`);
      return response;
    };
    return init.keepalive ? run(this.#answer.token) : this.#authorized(run);
  }

  async #post(path: string, body: unknown, token: string): Promise<unknown> {
    const url = this.#endpoint.replace(/\/join$/, path);
    const request: Fetch = this.#options.fetch ?? ((input, init) => fetch(input, init));
    let response: Response;
    try {
      response = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: bearer(token) },
        body: JSON.stringify(body),
        signal: this.#stop.signal,
      });
    } catch (cause) {
      throw new ClientError('network', 'could not reach the hub', undefined, { cause });
    }
    if (!response.ok) throw await httpError(response, 'state change');
    return response.json();
  }

  /** Renews the peer token (joining again with `resume`, which keeps the peer id). One at a time. */
  #renew(): Promise<void> {
    this.#renewing ??= (async () => {
      try {
        const answer = await requestJoin(this.#endpoint, this.#options, this.#answer.token);
        if (answer.peer !== this.#self.id) this.#adopt(answer);
        else {
          const { iceServersExpireAt: _, ...kept } = this.#answer;
          this.#answer = {
            ...kept,
            token: answer.token,
            expiresAt: answer.expiresAt,
            limits: answer.limits,
            iceServers: answer.iceServers ?? [],
            ...(answer.iceServersExpireAt !== undefined
              ? { iceServersExpireAt: answer.iceServersExpireAt }
              : {}),
          };
          this.#events.emit('ice', this.iceServers);
        }
        this.#scheduleRenewal();
      } finally {
        this.#renewing = undefined;
      }
    })();
    return this.#renewing;
  }

  #scheduleRenewal(): void {
    clearTimeout(this.#renewTimer);
    // TURN credentials may run out before the token: renew for whichever ends first.
    const expiresAt = Math.min(
      this.#answer.expiresAt,
      this.#answer.iceServersExpireAt ?? Number.POSITIVE_INFINITY,
    );
    const left = expiresAt - Date.now();
    // Renew a quarter of the lifetime ahead (at most a minute); never use a token in its last fifth.
    const lead = Math.min(60_000, left / 4);
    this.#renewBy = expiresAt - Math.min(15_000, left / 5);
    this.#renewTimer = setTimeout(
      async () => {
        try {
          await this.#renew();
          // Move the stream to the new token now, rather than when the hub closes it at expiry.
          if (this.#sub?.state === 'open') this.#connect(this.#sub.lastEventId);
        } catch (error) {
          this.#events.emit('error', { error });
          this.#renewTimer = setTimeout(() => this.#scheduleRenewal(), 5000);
        }
      },
      Math.max(1000, left - lead),
    );
  }

  /**
   * Reloads peers and state from a fresh join answer and resumes from its cursor: after a gap (the hub
   * lost history), or when the token stopped working. Joining again fails for good on 4xx (other than
   * 401/408/429): the room closes with that error.
   */
  #resync(reason: 'gap' | 'token'): Promise<void> {
    this.#resyncing ??= (async () => {
      this.state.hold();
      try {
        for (;;) {
          if (this.#failures > 0) {
            const delay = backoffDelay(1000, this.#failures - 1, { ...reconnectDefaults, maxDelay: 30_000 });
            if (!(await sleep(delay, this.#stop.signal))) return;
          }
          this.#failures++;
          try {
            // A token the hub refused cannot vouch for the peer id: join as a new peer.
            const resume = reason === 'token' ? undefined : this.#answer.token;
            this.#adopt(await requestJoin(this.#endpoint, this.#options, resume));
            this.#events.emit('resync', { reason });
            return;
          } catch (error) {
            const status = error instanceof ClientError ? error.status : undefined;
            if (status !== undefined && status < 500 && status !== 408 && status !== 429) {
              return this.#close({ reason: 'error', error });
            }
            this.#events.emit('error', { error });
          }
        }
      } finally {
        this.#resyncing = undefined;
      }
    })();
    return this.#resyncing;
  }

  /** Takes a join answer as the new truth: token, identity, peers, state, and the stream's cursor. */
  #adopt(answer: JoinResponse): void {
    const previous = this.#self.id;
    this.#answer = answer;
    if (answer.peer !== previous) {
      this.#self = { ...this.#self, id: answer.peer };
      this.#presence.setSelf(answer.peer);
      this.#events.emit('self', { previous, id: answer.peer });
    }
    this.#presence.reconcile(answer.peers, false);
    this.#events.emit('ice', this.iceServers);
    this.state.reset(answer.state);
    this.#connect(answer.cursor);
    this.#scheduleRenewal();
  }
}
