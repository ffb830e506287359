/**
 * WebRTC rooms on the hub: `POST /rooms/{room}/join` mints a peer token under the configured policy
 * and answers with everything a peer needs to start (who is there, the room state, the cursor to
 * subscribe from); `GET`/`POST /rooms/{room}/state` read and patch the shared state; a publish guard
 * keeps room topics private, their messages small and each peer's messages under its own id. Everything else — broadcasts, inboxes,
 * presence — is plain Mercure on the hub, so every runtime that runs the hub runs rooms.
 */
import { Hono } from 'hono';
import type { UpdateInput } from '../brokers/index.ts';
import { type Config, ConfigError } from '../config/index.ts';
import type { Hub, HubOptions, RateLimits, Subscription } from '../hub/index.ts';
import {
  badRequest,
  cors,
  HubError,
  type IssuerConfig,
  insufficientScope,
  type Principal,
  parseIssuers,
  parseOrigins,
  unauthorized,
} from '../hub/index.ts';
import {
  EVENT,
  inboxTopic,
  isJsonObject,
  isPeerId,
  isRoomName,
  type JoinResponse,
  type JsonObject,
  type PresentPeer,
  presencePattern,
  roomTopic,
  stateTopic,
} from '../room-protocol/index.ts';
import { RoomDocs } from './docs.ts';
import { mountDocs } from './docs-http.ts';
import { displayName, json, readJson } from './http.ts';
import { createIceServers } from './ice.ts';
import { POLICIES, type RoomsPolicy, type UpstreamIdentity, UpstreamVerifier } from './policy.ts';
import { Seats } from './seats.ts';
import { byteLength, RoomStates } from './state.ts';
import { mintPeerToken, newPeerId } from './tokens.ts';

/** The settings rooms read; a {@link Config} has them all. */
export type RoomsSettings = Pick<
  Config,
  | 'rooms'
  | 'roomsKey'
  | 'roomsIssuers'
  | 'roomsAudience'
  | 'roomsTokenTtl'
  | 'roomsMaxPeers'
  | 'roomsMaxMessageBytes'
  | 'roomsMaxStateBytes'
  | 'stunUrls'
  | 'turnUrls'
  | 'turnSecret'
  | 'turnTtl'
  | 'turnCloudflareKeyId'
  | 'turnCloudflareToken'
  | 'jwtKey'
  | 'issuer'
  | 'resource'
  | 'dev'
  | 'historySize'
  | 'corsOrigins'
> &
  Partial<Pick<Config, 'subscriptionEvents'>>;

/** Rooms, before they are attached to a hub. */
export interface Rooms {
  readonly policy: RoomsPolicy;
  /** Issuers the hub must also trust: the rooms key, when it is not the `--jwt-key`. */
  readonly issuers: IssuerConfig[];
  /** Checks publishes to room topics (private only, `state` reserved, size limit, a peer's own `from`). */
  readonly guard:
    | ((update: UpdateInput, hubUrl: URL, publisher: Principal) => Promise<void> | undefined)
    | undefined;
  /** Admits the stream of a peer to its inbox only while its room has a seat for it (see `seats.ts`). */
  readonly admit: HubOptions['admit'];
  /** Mounts the endpoints on a running hub; returns the routes and a `close` for shutdown. */
  attach(hub: Hub): { app: Hono; ready: Promise<void>; close(): void };
}

const ROOM_PREFIX = '/rooms/';

/**
 * A peer speaks only for itself: its broadcasts and direct messages (the events clients read as
 * messages and WebRTC signals) must name its own peer id, from its hub-signed token, as `from`.
 * Publishers that are not peers (the application's server) may write any `from`.
 * @throws {HubError} 403 when a peer token signs for another peer, 400 when the envelope is unreadable.
 */
function checkSender(update: UpdateInput, publisher: Principal): void {
  if (update.type !== EVENT.broadcast && update.type !== EVENT.direct) return;
  const payload = publisher.payload;
  if (!isJsonObject(payload) || !isPeerId(payload.peer)) return;
  let from: unknown;
  try {
    const envelope: unknown = JSON.parse(update.data);
    from = isJsonObject(envelope) ? envelope.from : undefined;
  } catch {
    throw badRequest(`"${update.type}" messages are JSON envelopes: {"from": …, "items": […]}`);
  }
  if (from !== payload.peer) {
    throw new HubError(
      'forbidden',
      `a peer sends under its own id: "from" must be ${JSON.stringify(payload.peer)}`,
    );
  }
}
/** Longest client reference of a change (a UUID is 36). */
const MAX_REF = 64;
/** Most patches one request may carry (what a peer had not seen confirmed as it leaves). */
const MAX_BATCH = 32;

/** A change's client reference, checked. */
function refOf(ref: unknown): string {
  if (typeof ref !== 'string' || ref === '' || ref.length > MAX_REF) {
    throw badRequest(`ref must be a string of 1 to ${MAX_REF} characters`);
  }
  return ref;
}

/** The patches of a batch, all checked before any is applied. */
function batchOf(patches: unknown): { ref: string; patch: JsonObject }[] {
  if (!Array.isArray(patches) || patches.length === 0 || patches.length > MAX_BATCH) {
    throw badRequest(`patches must be an array of 1 to ${MAX_BATCH} {ref, patch} objects`);
  }
  return patches.map((entry) => {
    if (!isJsonObject(entry)) throw badRequest('each of patches must be a {ref, patch} object');
    const ref = refOf(entry.ref);
    if (!isJsonObject(entry.patch)) throw badRequest('patch must be a JSON object (RFC 7386 merge patch)');
    return { ref, patch: entry.patch };
  });
}

/**
 * Reads and checks the rooms settings.
 * @throws {ConfigError} for an unknown policy, a missing signing key or upstream issuers.
 */
export function createRooms(settings: RoomsSettings, hubPath: string): Rooms {
  const policy = (settings.rooms ?? (settings.dev ? 'open' : 'off')) as RoomsPolicy;
  if (!POLICIES.includes(policy)) {
    throw new ConfigError(`SSEHUB_ROOMS must be one of ${POLICIES.join(', ')}, got "${settings.rooms}"`);
  }
  const disabled: Rooms = {
    policy,
    issuers: [],
    guard: undefined,
    admit: undefined,
    attach: () => ({ app: new Hono(), ready: Promise.resolve(), close() {} }),
  };
  if (policy === 'off') return disabled;
  const key = settings.roomsKey ?? settings.jwtKey;
  if (!key) {
    throw new ConfigError('rooms need a key to sign peer tokens: set SSEHUB_ROOMS_KEY (or SSEHUB_JWT_KEY)');
  }
  if (settings.subscriptionEvents === false) {
    throw new ConfigError('rooms need subscription events (presence): leave SSEHUB_SUBSCRIPTION_EVENTS on');
  }
  if (settings.historySize === 0) {
    throw new ConfigError('rooms need history to resume peers: SSEHUB_HISTORY_SIZE must be above 0');
  }
  let upstream: UpstreamVerifier | undefined;
  if (policy === 'token') {
    if (!settings.roomsIssuers) {
      throw new ConfigError(
        'SSEHUB_ROOMS=token needs the issuers of the application tokens: SSEHUB_ROOMS_ISSUERS',
      );
    }
    upstream = new UpstreamVerifier(parseIssuers(settings.roomsIssuers, 'SSEHUB_ROOMS_ISSUERS'));
  }
  const maxMessage = settings.roomsMaxMessageBytes;
  const issuers: IssuerConfig[] =
    key === settings.jwtKey ? [] : [{ keys: [{ secret: key, alg: 'HS256' }], algorithms: ['HS256'] }];
  // Rate limits exist once the rooms are attached to a hub (its operator controls).
  let limits: RateLimits | undefined;
  const guard = (update: UpdateInput, hubUrl: URL, publisher: Principal) => {
    let inRoom: string | undefined;
    for (const topic of update.topics) {
      let url: URL;
      try {
        url = new URL(topic, hubUrl);
      } catch {
        continue;
      }
      if (url.origin !== hubUrl.origin || !url.pathname.startsWith(ROOM_PREFIX)) continue;
      if (!update.private) throw badRequest('updates to room topics must be private');
      if (update.type === EVENT.state || update.type === EVENT.doc)
        throw badRequest(`the "${update.type}" event type is reserved to the hub in rooms`);
      const size = byteLength(update.data);
      if (size > maxMessage) {
        throw new HubError(
          'payload_too_large',
          `room messages are limited to ${maxMessage} bytes (got ${size})`,
        );
      }
      checkSender(update, publisher);
      inRoom ??= url.pathname.slice(ROOM_PREFIX.length).split('/')[0];
    }
    // A peer's messages count against its own bucket (SSEHUB_RATE_LIMIT_ROOM_MESSAGES).
    const payload = publisher.payload;
    if (!limits || inRoom === undefined || !isJsonObject(payload) || payload.room !== inRoom)
      return undefined;
    if (!isRoomName(payload.room) || !isPeerId(payload.peer)) return undefined;
    return limits.take('room', inboxTopic(payload.room, payload.peer));
  };
  // Seats exist once the rooms are attached to a hub: they follow its broker and read its registry.
  let seats: Seats | undefined;
  const admit = (subscriber: Principal | null, subscriptions: readonly Subscription[]) => {
    const payload = subscriber?.payload;
    if (!seats || !isJsonObject(payload) || !isRoomName(payload.room) || !isPeerId(payload.peer)) {
      return undefined;
    }
    // Only a stream on the peer's own inbox makes it present (see `present`): that one needs a seat.
    const inbox = inboxTopic(payload.room, payload.peer);
    if (!subscriptions.some((s) => s.type === 'exact' && s.match === inbox)) return undefined;
    return seats.claim(payload.room, payload.peer).then(() => {});
  };
  return {
    policy,
    issuers,
    guard,
    admit,
    attach: (hub) => {
      const attached = attach(hub, { settings, hubPath, key, upstream, policy });
      seats = attached.seats;
      limits = hub.operations.rateLimits;
      return attached;
    },
  };
}

interface AttachOptions {
  settings: RoomsSettings;
  hubPath: string;
  key: string;
  upstream: UpstreamVerifier | undefined;
  policy: RoomsPolicy;
}

function attach(hub: Hub, options: AttachOptions) {
  const { settings, hubPath, key, upstream } = options;
  const states = new RoomStates(hub.broker, { maxStateBytes: settings.roomsMaxStateBytes });
  const docs = new RoomDocs(hub.broker, { maxDocBytes: settings.roomsMaxStateBytes });
  const seats = new Seats(hub.broker, { maxPeers: settings.roomsMaxPeers, hubPath, present });
  const ice = createIceServers({
    stunUrls: settings.stunUrls,
    turnUrls: settings.turnUrls,
    turnSecret: settings.turnSecret,
    turnTtl: settings.turnTtl,
    cloudflareKeyId: settings.turnCloudflareKeyId,
    cloudflareToken: settings.turnCloudflareToken,
  });
  const hubUrlOf = hub.urls.of;
  const app = new Hono();
  app.use(`${ROOM_PREFIX}*`, cors(parseOrigins(settings.corsOrigins)));

  const roomOf = (name: string | undefined): string => {
    if (!isRoomName(name)) throw badRequest('room names are 1 to 64 characters among A-Z a-z 0-9 _ -');
    return name;
  };

  /** The peer a token speaks for in `room`, from its payload; null for other publishers (the application). */
  const peerOf = (payload: unknown, room: string): string | null => {
    if (!isJsonObject(payload) || payload.room !== room || !isPeerId(payload.peer)) return null;
    return payload.peer;
  };

  /** Who is in the room now, by peer (one peer may have a second connection for a moment). */
  async function present(room: string): Promise<Map<string, PresentPeer>> {
    const prefix = `${roomTopic(room)}/peers/`;
    const peers = new Map<string, PresentPeer>();
    for (const s of await hub.registry.list({ match_type: 'exact' })) {
      if (!s.match.startsWith(prefix)) continue;
      const payload = s.payload;
      const peer = peerOf(payload, room);
      if (peer === null || s.match !== inboxTopic(room, peer)) continue;
      const known = peers.get(peer);
      if (known) {
        known.subscribers.push(s.subscriber);
        continue;
      }
      const { name, user } = payload as { name?: unknown; user?: unknown };
      peers.set(peer, {
        id: peer,
        ...(typeof name === 'string' ? { name } : {}),
        ...(typeof user === 'string' ? { user } : {}),
        subscribers: [s.subscriber],
      });
    }
    return peers;
  }

  /** The peer id of a `resume` token: a valid token of this peer in this room (and of this user). */
  async function resumed(token: unknown, room: string, hubUrl: URL, user: string | undefined) {
    if (typeof token !== 'string' || token === '') return undefined;
    const request = new Request(hubUrl, { headers: { authorization: `Bearer ${token}` } });
    try {
      const principal = await hub.authorizer.subscriber(request, hubUrl);
      const peer = principal && peerOf(principal.payload, room);
      if (!peer || !principal.canSubscribe([inboxTopic(room, peer)])) return undefined;
      if ((principal.payload as { user?: unknown }).user !== user) return undefined;
      return peer;
    } catch {
      return undefined; // Expired, or signed with a key of a previous run: a new peer.
    }
  }

  app.post(`${ROOM_PREFIX}:room/join`, async (c) => {
    const request = c.req.raw;
    const room = roomOf(c.req.param('room'));
    // A join hands out a new peer (and its message bucket): it counts as a new subscription.
    const limited = hub.operations.rateLimits?.check('subscribe', null, hub.operations.clientAddress(c));
    if (limited) await limited;
    const hubUrl = hubUrlOf(request);
    const resource = settings.resource ?? hubUrl.href;
    let identity: UpstreamIdentity = {};
    if (upstream) identity = await upstream.verify(request, room, settings.roomsAudience ?? resource);
    const body = await readJson(request, settings.roomsMaxMessageBytes, {});
    if (!isJsonObject(body)) throw badRequest('the body must be a JSON object');
    // The application names its users, under the same rules: a name shows in every peer's list.
    const name = displayName(identity.name, `the token's "name" claim`) ?? displayName(body.name);
    const previous = await resumed(body.resume, room, hubUrl, identity.user);
    const peer = previous ?? newPeerId();

    await states.ensure(room);
    // Cursor (with the state) first, presence list second: every presence change up to the cursor is
    // in the list, and the ones after it come on the stream (applying one twice changes nothing).
    const { state, cursor } = states.snapshot(room);
    // A seat for the peer until it connects (409 when the room is full), and who is present.
    const others = new Map(await seats.claim(room, peer));
    others.delete(peer);
    const payload = {
      room,
      peer,
      ...(name !== undefined ? { name } : {}),
      ...(identity.user !== undefined ? { user: identity.user } : {}),
    };
    const [{ token, expiresAt }, servers] = await Promise.all([
      mintPeerToken({
        key,
        issuer: settings.issuer ?? hubUrl.origin,
        audience: resource,
        hubPath,
        ttl: settings.roomsTokenTtl,
        payload,
      }),
      ice.forPeer(peer),
    ]);
    const answer: JoinResponse = {
      room,
      peer,
      resumed: previous !== undefined,
      token,
      expiresAt,
      // Where this client reached the hub: it subscribes and publishes there next.
      hub: hub.urls.reachedBy(request).href,
      topics: {
        room: roomTopic(room),
        inbox: inboxTopic(room, peer),
        state: stateTopic(room),
        presence: presencePattern(hubPath, room),
      },
      peers: [...others.values()],
      state: state ?? { epoch: '', version: 0, value: {}, refs: [] },
      cursor,
      iceServers: servers.iceServers,
      ...(servers.expiresAt !== undefined ? { iceServersExpireAt: servers.expiresAt } : {}),
      limits: {
        messageBytes: settings.roomsMaxMessageBytes,
        stateBytes: settings.roomsMaxStateBytes,
        peers: settings.roomsMaxPeers,
      },
    };
    return json(answer);
  });

  app.get(`${ROOM_PREFIX}:room/state`, async (c) => {
    const room = roomOf(c.req.param('room'));
    const hubUrl = hubUrlOf(c.req.raw);
    const principal = await hub.authorizer.subscriber(c.req.raw, hubUrl);
    if (!principal) throw unauthorized(hubUrl);
    if (!principal.canSubscribe([stateTopic(room)]))
      throw insufficientScope(hubUrl, 'not a peer of this room');
    await states.ready;
    const { state, cursor } = states.snapshot(room);
    return json({ room, state: state ?? null, cursor });
  });

  /** Authorizes a change of the room state: the token must allow publishing in the room. */
  async function changer(request: Request, room: string) {
    const hubUrl = hubUrlOf(request);
    const principal = await hub.authorizer.publisher(request, hubUrl);
    if (!principal.canPublish(roomTopic(room))) throw insufficientScope(hubUrl, 'not a peer of this room');
    const body = await readJson(request, settings.roomsMaxMessageBytes);
    if (!isJsonObject(body)) throw badRequest('the body must be a JSON object');
    const peer = peerOf(principal.payload, room);
    /** Counts one change against the peer's rate limit (per room inbox). */
    const take = async () => {
      if (peer !== null) await hub.operations.rateLimits?.take('room', inboxTopic(room, peer));
    };
    await take();
    return { body, from: peer, take };
  }

  /**
   * One patch (`{ref, patch}`), or several in order (`{patches: [{ref, patch}, …]}`, what a leaving peer
   * had not seen confirmed): each applied as its own change, a ref already applied skipped; all checked
   * first, and the first refused (413, 429) stops the rest. Answers as the last patch applied.
   */
  app.post(`${ROOM_PREFIX}:room/state`, async (c) => {
    const room = roomOf(c.req.param('room'));
    const { body, from, take } = await changer(c.req.raw, room);
    if (body.patches === undefined) {
      const ref = refOf(body.ref);
      if (!isJsonObject(body.patch)) throw badRequest('patch must be a JSON object (RFC 7386 merge patch)');
      return json(await states.patch(room, body.patch, from, ref));
    }
    const batch = batchOf(body.patches);
    let result: Awaited<ReturnType<typeof states.patch>> | undefined;
    for (const [i, { ref, patch }] of batch.entries()) {
      if (i > 0) await take();
      result = await states.patch(room, patch, from, ref);
    }
    return json(result);
  });

  app.post(`${ROOM_PREFIX}:room/state/restore`, async (c) => {
    const room = roomOf(c.req.param('room'));
    const { body, from } = await changer(c.req.raw, room);
    const ref = refOf(body.ref);
    if (typeof body.epoch !== 'string' || !isJsonObject(body.state)) {
      throw badRequest('a restore needs the epoch it restores into and the state (a JSON object)');
    }
    return json(await states.restore(room, body.epoch, body.state, from, ref));
  });

  mountDocs(app, {
    hub,
    docs,
    roomOf,
    peerOf,
    maxUpdateBytes: settings.roomsMaxMessageBytes,
    charge: async (room, peer) => {
      if (peer !== null) await hub.operations.rateLimits?.take('room', inboxTopic(room, peer));
    },
    path: `${ROOM_PREFIX}:room/docs/:doc`,
  });

  const ready = Promise.all([states.ready, docs.ready, upstream?.ready]).then(() => {});
  return {
    app,
    ready,
    seats,
    close: () => {
      states.close();
      docs.close();
      seats.close();
    },
  };
}
