/**
 * The Worker past one object: a stateless router in front of the topic shards, the room objects and
 * the relays (see docs/workers-scaling.md).
 *
 * - Publish: to the object of each of the update's topics, with one id. The canonical topic's object
 *   (its home) first: it authorizes and validates, and its answer is the publisher's; then the others.
 * - Subscribe: a subscription whose matchers all stay in one object goes to it (a room's always; a
 *   shard's through a relay when there are relays); one that spans shards goes to a relay's merged hub.
 * - The Subscription API and `/metrics` add up every shard and relay; rooms' endpoints go to the room.
 *
 * Every decision reads the request's own fields, within the bounds a hub enforces anyway: what a
 * stranger sends costs at most one request per shard (publish) or one relay probe per try (subscribe).
 */
import { generateId } from '../../brokers/index.ts';
import type { Config } from '../../config/index.ts';
import { HUB_PATH, HubError, metricsGuard, parseForm, parseQuery } from '../../hub/index.ts';
import {
  ADMIN_LISTINGS,
  aggregateListing,
  aggregateMetrics,
  aggregateSubscriptions,
  broadcastAdmin,
} from './aggregate.ts';
import { isComposite } from './cursor.ts';
import { type Env, readBodyAtEdge, stubOf } from './glue.ts';
import { FULL_HEADER, MERGED_VIEW, VIEW_HEADER } from './relay.ts';
import {
  type HubObjectName,
  hashString,
  type Matcher,
  objectOf,
  pinOf,
  relayName,
  roomName,
  shardIndex,
  shardName,
  type Topology,
} from './topology.ts';
import { INTERNAL } from './wire.ts';

/** Relays asked in turn before a subscriber is told they are all full. */
const RELAY_TRIES = 3;
/** Attempts at storing an update in one of its other objects. */
const COPY_TRIES = 2;

const ROOM_PATH = /^\/rooms\/([A-Za-z0-9_-]{1,64})(\/.*)?$/;

/** A router over `env`'s objects. */
export interface Router {
  fetch(request: Request): Promise<Response>;
}

/**
 * Routes requests between the objects of a sharded hub.
 *
 * @example
 * const router = createRouter(env, config, topology);
 * return router.fetch(request);
 */
export function createRouter(env: Env, config: Config, topology: Topology): Router {
  const hubObject = (name: HubObjectName) => stubOf(env.HUB, name);
  const relays = env.RELAY;
  const metricsRefusal = metricsGuard(config.metricsKey);

  /** Sends `request` to a hub object, with `body` (read by the Worker) when there is one. */
  const forward = (name: HubObjectName, request: Request, body?: Uint8Array) =>
    hubObject(name).fetch(
      body === undefined ? request : new Request(request, { body: body as Uint8Array<ArrayBuffer> }),
    );

  async function fetch(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path.startsWith(INTERNAL)) return new HubError('not_found', 'not found').toResponse();
    if (path === HUB_PATH && request.method === 'GET') return subscribe(request);
    if (path === HUB_PATH && request.method === 'POST') return publish(request);
    if (
      request.method === 'GET' &&
      (path === `${HUB_PATH}/subscriptions` || path.startsWith(`${HUB_PATH}/subscriptions/`))
    ) {
      return aggregateSubscriptions(request, { config, topology, hubObject, relays, forward });
    }
    if (path === '/metrics' && request.method === 'GET')
      return (await metricsRefusal(request)) ?? aggregateMetrics(request, { topology, hubObject, relays });
    // Admin actions reach every shard and relay, and so do the listings of topics and subscribers.
    if (path.startsWith('/admin/') && request.method !== 'GET') {
      return withBody(request, (body) => broadcastAdmin(request, body, { topology, hubObject, relays }));
    }
    const listing = request.method === 'GET' ? ADMIN_LISTINGS[path] : undefined;
    if (listing) return aggregateListing(request, listing, { topology, hubObject, relays });
    const room = topology.roomObjects ? ROOM_PATH.exec(path) : null;
    if (room) {
      const name = roomName(room[1]!);
      // A room's own counters: how a room is seen to run in an object of its own.
      if (room[2] === '/metrics' && request.method === 'GET') {
        return hubObject(name).fetch(new Request(new URL('/metrics', request.url), request));
      }
      return withBody(request, (body) => forward(name, request, body));
    }
    return withBody(request, (body) => forward(shardName(0), request, body));
  }

  /** Reads the body (bounded) before handing the request on; see `withBody`. */
  function withBody(request: Request, send: (body?: Uint8Array) => Promise<Response>): Promise<Response> {
    if (request.body === null) return send();
    return readBodyAtEdge(request, config.maxBodyBytes).then((body) =>
      body instanceof Response ? body : send(body),
    );
  }

  async function publish(request: Request): Promise<Response> {
    const body = await readBodyAtEdge(request, config.maxBodyBytes);
    if (body instanceof Response) return body;
    let fields: ReturnType<typeof parseForm>;
    try {
      fields = parseForm(body);
    } catch {
      return forward(shardName(0), request, body); // It answers the 400.
    }
    const topics = fields.filter(([name]) => name === 'topic').map(([, value]) => value);
    const names = [...new Set(topics.map((topic) => objectOf(topology, topic)))];
    const home = names[0] ?? shardName(0);
    if (names.length <= 1) return forward(home, request, body);
    // One update in several objects: one id everywhere. The publisher's, or one chosen here.
    const ids = fields.filter(([name]) => name === 'id');
    let sent = body;
    let id = ids[0]?.[1];
    if (ids.length === 0) {
      id = generateId();
      const extra = new TextEncoder().encode(`${body.length > 0 ? '&' : ''}id=${encodeURIComponent(id)}`);
      sent = new Uint8Array(body.length + extra.length);
      sent.set(body);
      sent.set(extra, body.length);
    }
    const answer = await forward(home, request, sent);
    if (answer.status !== 200) return answer;
    const text = await answer.text();
    const copies = await Promise.all(names.slice(1).map((name) => copy(name, request, sent)));
    if (copies.includes(false)) {
      return new HubError(
        'unavailable',
        `the update ${JSON.stringify(id)} is stored for its canonical topic but not for every alternate; publish it again with the same id`,
      ).toResponse();
    }
    return new Response(text, { status: answer.status, headers: answer.headers });
  }

  /** Stores a copy of an update in another object; true once it answered 200. */
  async function copy(name: HubObjectName, request: Request, body: Uint8Array): Promise<boolean> {
    for (let attempt = 1; attempt <= COPY_TRIES; attempt++) {
      try {
        const response = await forward(name, request, body);
        await response.body?.cancel();
        if (response.status === 200) return true;
        console.error(`ssehub: storing an alternate in ${name} answered ${response.status}`);
      } catch (error) {
        console.error(`ssehub: storing an alternate in ${name} failed`, error);
      }
    }
    return false;
  }

  async function subscribe(request: Request): Promise<Response> {
    const url = new URL(request.url);
    let query: ReturnType<typeof parseQuery>;
    try {
      query = parseQuery(url.search.slice(1));
    } catch {
      return forward(shardName(0), request); // Not UTF-8: its 400.
    }
    const matchers: Matcher[] = [];
    for (const [name, value] of query) {
      if (name === 'match' || name === 'match_exact') matchers.push({ type: 'exact', match: value });
      else if (name === 'match_urlpattern') matchers.push({ type: 'urlpattern', match: value });
      else if (name === 'topic' && config.legacy) matchers.push({ type: 'uritemplate', match: value });
    }
    // Too many or none: the hub's own 400, from any object.
    if (matchers.length === 0 || matchers.length > config.maxMatchers) return forward(shardName(0), request);
    const pins = matchers.map((m) => pinOf(topology, m));
    const first = pins[0];
    const single = first !== undefined && pins.every((pin) => pin === first) ? first : undefined;
    if (single !== undefined && shardIndex(single) === undefined) return forward(single, request);
    if (pins.some((pin) => pin !== undefined && shardIndex(pin) === undefined)) {
      return new HubError(
        'bad_request',
        "a room's topics are served by the room: subscribe to them apart from other topics",
      ).toResponse();
    }
    const cursor =
      request.headers.get('last-event-id') ?? query.find(([name]) => name === 'last_event_id')?.[1];
    if (single !== undefined && topology.relays === 0 && !(cursor !== undefined && isComposite(cursor))) {
      return forward(single, request);
    }
    // Through a relay: the shard's own view, or the merged one.
    return viaRelay(request, single === undefined ? MERGED_VIEW : single);
  }

  /** Hands a subscription to a relay chosen by the client's identity, the next ones when it is full. */
  async function viaRelay(request: Request, view: string): Promise<Response> {
    if (!relays) {
      return new HubError(
        'unavailable',
        'SSEHUB_SHARDS or SSEHUB_RELAYS needs a RELAY binding (RelayObject)',
      ).toResponse();
    }
    const count = Math.max(1, topology.relays);
    const start = relayOf(request, count);
    const headers = new Headers(request.headers);
    headers.set(VIEW_HEADER, view);
    const sent = new Request(request, { headers });
    for (let i = 0; i < Math.min(count, RELAY_TRIES); i++) {
      const response = await stubOf(relays, relayName((start + i) % count)).fetch(sent);
      if (response.status !== 503 || !response.headers.has(FULL_HEADER)) return response;
      await response.body?.cancel();
    }
    return new HubError('unavailable', 'every relay is full; retry later', {
      'retry-after': '5',
    }).toResponse();
  }

  return { fetch };
}

/**
 * The relay of a client: a hash of who it is (its token's subject, unverified, which only spreads the
 * load; else its address), so that one client's streams share a relay and its per-client connection
 * limit holds there.
 */
function relayOf(request: Request, count: number): number {
  const token = /^Bearer\s+(\S+)$/i.exec(request.headers.get('authorization') ?? '')?.[1];
  const key = (token && subjectOf(token)) ?? request.headers.get('cf-connecting-ip') ?? crypto.randomUUID();
  return hashString(key) % count;
}

/** The `sub` claim of a JWT, read without checking anything (the relay checks the token). */
function subjectOf(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (!payload || payload.length > 8192) return undefined;
  try {
    const json = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: unknown };
    return typeof json.sub === 'string' ? `sub:${json.sub}` : undefined;
  } catch {
    return undefined;
  }
}
