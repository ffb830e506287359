/**
 * A relay: the fan-out tier between the shards and the subscribers. It holds up to
 * `SSEHUB_RELAY_STREAMS` subscriber streams and at most one upstream feed per shard, so a shard writes
 * an update once per relay rather than once per subscriber. Its subscribers are served by the same hub
 * code as a shard's, over the brokers of `relay-brokers.ts`: one hub per shard for subscriptions that
 * stay in a shard (same ids and cursors as the shard itself), and one merged hub for subscriptions
 * that span shards (composite cursors). Their subscription events are published to the shards, where
 * the Subscription API and every relay's presence watchers find them.
 *
 * A relay keeps nothing that matters: when it is evicted or restarts, its subscribers reconnect
 * through the Worker and resume from their cursors, which every relay understands.
 * Web APIs only: the runtime hands in the links to the shards (`RelayObject` in `../cloudflare.ts`).
 */
import {
  createMemoryControl,
  createMemoryRegistry,
  type RevocationStore,
  type Update,
  type UpdateInput,
} from '../../brokers/index.ts';
import type { Config } from '../../config/index.ts';
import { ConnectionLimiter, createHub, HUB_PATH, type Hub, HubError, laneConcerns } from '../../hub/index.ts';
import { createRooms } from '../../signaling/index.ts';
import { ADMIN_LISTINGS, mergeListings } from './aggregate.ts';
import { MAX_VECTOR_CHARS } from './cursor.ts';
import { METRICS_HEADERS, perObject, sumExpositions } from './metrics.ts';
import { MergedBroker, type RelaySources, ShardMirror } from './relay-brokers.ts';
import { type HubObjectName, objectOf, shardIndex, shardName, type Topology } from './topology.ts';
import { type ObjectLink, Upstream } from './upstream.ts';
import { INTERNAL } from './wire.ts';

/** The request header by which the Worker tells a relay which hub serves a subscription. */
export const VIEW_HEADER = 'x-ssehub-view';
/** The view of subscriptions that span shards. */
export const MERGED_VIEW = 'merged';
/** The response header of a relay that holds as many streams as it may. */
export const FULL_HEADER = 'x-ssehub-relay-full';

/** How long a subscriber waits for the relay's feeds to open before it is answered 503. */
const OPEN_MS = 5000;
/** A relay with no subscriber for this long closes its feeds. */
const IDLE_MS = 30_000;

export interface RelayOptions {
  readonly config: Config;
  readonly topology: Topology;
  /** Internal requests to any hub object (a shard, or the room a subscription event belongs to). */
  readonly link: (name: HubObjectName) => ObjectLink;
  /** This relay's name, for `/metrics`. */
  readonly name: string;
  /** Where the denylist of the admin API is kept (the relay object's storage); default in memory. */
  readonly revocations?: RevocationStore;
}

interface Served {
  readonly hub: Hub;
  readonly ready: Promise<void>;
}

/**
 * One relay's state: feeds, brokers and hubs, created as subscribers need them.
 *
 * @example
 * const relay = new Relay({ config, topology, name: 'relay:0', link: (name) => linkTo(stub, name) });
 * return relay.fetch(request);
 */
export class Relay {
  readonly #options: RelayOptions;
  readonly #sources: RelaySources;
  readonly #upstreams: Upstream[];
  readonly #mirrors = new Map<number, { broker: ShardMirror; served: Served }>();
  #merged: { broker: MergedBroker; served: Served } | undefined;
  #idle: ReturnType<typeof setInterval> | undefined;
  /**
   * One count for every hub of this relay: a client's streams through several of them count against
   * one per-client limit, and `SSEHUB_MAX_CONNECTIONS` bounds the relay object as it bounds a process.
   */
  readonly #limiter: ConnectionLimiter;

  constructor(options: RelayOptions) {
    this.#options = options;
    const { topology, link, config } = options;
    this.#limiter = new ConnectionLimiter({
      maxConnections: config.maxConnections,
      maxConnectionsPerClient: config.maxConnectionsPerClient,
    });
    const consumer = {
      update: (shard: number, update: Parameters<ShardMirror['update']>[0]) => {
        this.#merged?.broker.update(shard, update);
        this.#mirrors.get(shard)?.broker.update(update);
      },
      lost: (shard: number, lanes: readonly string[]) => this.#lost(shard, lanes),
    };
    // Three heartbeats of silence: the feed is gone without a word.
    const silence = Math.max(3 * config.heartbeat * 1000, 3000);
    this.#upstreams = Array.from(
      { length: topology.shards },
      (_, k) => new Upstream(k, link(shardName(k)), consumer, silence),
    );
    this.#sources = {
      shards: topology.shards,
      upstream: (k) => this.#upstreams[k]!,
      link: (k) => link(shardName(k)),
      publish: (input) => this.#publish(input),
      owner: (topics) => {
        for (const topic of topics) {
          const shard = shardIndex(objectOf(topology, topic));
          if (shard !== undefined) return shard;
        }
        return undefined;
      },
    };
  }

  /** Subscriber streams open on this relay. */
  get streams(): number {
    let open = this.#merged?.served.hub.dispatcher.subscribers.size ?? 0;
    for (const { served } of this.#mirrors.values()) open += served.hub.dispatcher.subscribers.size;
    return open;
  }

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === `${INTERNAL}subscriptions`) return this.#subscriptions(url.searchParams);
    if (url.pathname === '/metrics') return this.#metrics();
    if (url.pathname.startsWith('/admin/') && request.method !== 'GET') return this.#admin(request);
    const listing = request.method === 'GET' ? ADMIN_LISTINGS[url.pathname] : undefined;
    if (listing) return this.#listing(request, listing);
    if (url.pathname !== HUB_PATH || request.method !== 'GET') {
      return new Response('not found\n', { status: 404 });
    }
    const view = request.headers.get(VIEW_HEADER) ?? '';
    const shard = view === MERGED_VIEW ? undefined : shardIndex(view);
    if (view !== MERGED_VIEW && (shard === undefined || shard >= this.#options.topology.shards)) {
      return new Response('unknown relay view\n', { status: 400 });
    }
    if (this.streams >= this.#options.topology.relayStreams) {
      return new Response('this relay is full\n', {
        status: 503,
        headers: { [FULL_HEADER]: '1', 'retry-after': '1' },
      });
    }
    const served = shard === undefined ? this.#mergedHub() : this.#mirrorHub(shard);
    const needed = shard === undefined ? this.#upstreams : [this.#upstreams[shard]!];
    for (const upstream of needed) upstream.start();
    this.#watchIdle();
    const open = await Promise.all(needed.map((u) => u.reached(-1, OPEN_MS)));
    if (!open.every(Boolean)) {
      return new HubError('unavailable', 'the shards are not reachable; retry later').toResponse();
    }
    await served.ready;
    return served.hub.app.fetch(request);
  }

  #mergedHub(): Served {
    if (!this.#merged) {
      const broker = new MergedBroker(this.#sources);
      this.#merged = { broker, served: this.#hubOver(broker) };
    }
    return this.#merged.served;
  }

  #mirrorHub(shard: number): Served {
    let mirror = this.#mirrors.get(shard);
    if (!mirror) {
      const broker = new ShardMirror(this.#sources, shard);
      mirror = { broker, served: this.#hubOver(broker) };
      this.#mirrors.set(shard, mirror);
    }
    return mirror.served;
  }

  #hubOver(broker: MergedBroker | ShardMirror): Served {
    const { config } = this.#options;
    const hub = createHub({
      broker,
      // Cursors here may be composite: a vector, then the update id.
      // Webhooks are the shards' to send: each subscription event is stored in one shard, and every
      // relay following it reads it too.
      settings: { ...config, maxIdBytes: config.maxIdBytes + MAX_VECTOR_CHARS + 1, webhookUrl: undefined },
      // Peer tokens (signed with the rooms key) are honoured wherever a peer subscribes.
      issuers: createRooms(config, HUB_PATH).issuers,
      registry: createMemoryRegistry(),
      limiter: this.#limiter,
      // Each hub has its denylist, all kept in one store: one made later starts with every entry.
      operations:
        config.adminKey || config.adminTokens
          ? { control: createMemoryControl(this.#options.revocations) }
          : undefined,
      // Cloudflare's edge sets CF-Connecting-IP on every request (a client cannot forge it there).
      clientAddress: (c) => c.req.header('cf-connecting-ip'),
    });
    return { hub, ready: hub.ready };
  }

  /**
   * An admin action (revoke, disconnect, lift) from the Worker: every hub of this relay acts on its own
   * streams and denylist, and the streams they closed are added up. With no hub yet, one is made, so
   * that the action is recorded for those to come.
   */
  async #admin(request: Request): Promise<Response> {
    const body = request.body === null ? undefined : new Uint8Array(await request.arrayBuffer());
    const hubs = this.#hubs();
    if (hubs.length === 0) hubs.push(this.#mergedHub().hub);
    let merged: Record<string, unknown> | undefined;
    for (const hub of hubs) {
      const response = await hub.app.fetch(new Request(request, body === undefined ? {} : { body }));
      if (response.status !== 200) return response;
      const answer = (await response.json()) as Record<string, unknown>;
      if (!merged) merged = answer;
      else {
        if (typeof merged.disconnected === 'number' && typeof answer.disconnected === 'number') {
          merged.disconnected += answer.disconnected;
        }
        if (answer.lifted === true) merged.lifted = true;
      }
    }
    return new Response(JSON.stringify(merged), { headers: { 'content-type': 'application/json' } });
  }

  /** An admin listing of every hub of this relay, merged (with no hub yet, one is made to answer). */
  async #listing(request: Request, kind: 'topics' | 'subscribers'): Promise<Response> {
    const hubs = this.#hubs();
    if (hubs.length === 0) hubs.push(this.#mergedHub().hub);
    const bodies: Array<Record<string, unknown>> = [];
    for (const hub of hubs) {
      const response = await hub.app.fetch(new Request(request));
      if (response.status !== 200) return response;
      bodies.push((await response.json()) as Record<string, unknown>);
    }
    const limit = Number(new URL(request.url).searchParams.get('limit') ?? 100) || 100;
    return new Response(JSON.stringify(mergeListings(kind, bodies, limit)), {
      headers: { 'content-type': 'application/json' },
    });
  }

  /** The hubs this relay runs so far. */
  #hubs(): Hub[] {
    const hubs = [...this.#mirrors.values()].map((m) => m.served.hub);
    if (this.#merged) hubs.unshift(this.#merged.served.hub);
    return hubs;
  }

  /** Subscription events go to the object where their subscription's topics live. */
  async #publish(input: UpdateInput): Promise<Update> {
    const name = objectOf(this.#options.topology, input.topics[0]!);
    const response = await this.#options.link(name)(`${INTERNAL}publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(input),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`publish to ${name} answered ${response.status}`);
    }
    const { id, pos } = (await response.json()) as { id: string; pos: number };
    return { ...input, id, pos: String(pos) };
  }

  /**
   * A shard discarded updates this relay had not read: the subscribers that could match them resume
   * (and are told so, `earliest`). After a shard restarts this is its in-memory subscription events,
   * which concern only the subscribers that watch presence.
   */
  #lost(shard: number, lanes: readonly string[]): void {
    const hubs = [this.#merged?.served.hub, this.#mirrors.get(shard)?.served.hub];
    for (const hub of hubs) {
      if (!hub) continue;
      for (const subscriber of [...hub.dispatcher.subscribers]) {
        if (lanes.some((lane) => laneConcerns(subscriber, lane, HUB_PATH))) subscriber.stream.close('server');
      }
    }
  }

  /** Closes the feeds once no subscriber has been here for {@link IDLE_MS}. */
  #watchIdle(): void {
    if (this.#idle !== undefined) return;
    let quiet = 0;
    // Checked twice per period: two quiet checks in a row are a period without subscribers.
    this.#idle = setInterval(() => {
      quiet = this.streams === 0 ? quiet + 1 : 0;
      if (quiet < 2) return;
      for (const upstream of this.#upstreams) upstream.stop();
      clearInterval(this.#idle);
      this.#idle = undefined;
    }, IDLE_MS / 2);
  }

  /** The subscriptions of every hub of this relay (the Worker adds up every relay's and shard's). */
  async #subscriptions(params: URLSearchParams): Promise<Response> {
    const filter = Object.fromEntries(
      ['match_type', 'match', 'subscriber'].flatMap((key) => {
        const value = params.get(key);
        return value === null ? [] : [[key, value]];
      }),
    );
    const hubs = [this.#merged?.served.hub, ...[...this.#mirrors.values()].map((m) => m.served.hub)];
    const lists = await Promise.all(hubs.map((hub) => hub?.registry.list(filter) ?? []));
    return new Response(JSON.stringify(lists.flat()), { headers: { 'content-type': 'application/json' } });
  }

  #metrics(): Response {
    const hubs = [this.#merged?.served.hub, ...[...this.#mirrors.values()].map((m) => m.served.hub)];
    const texts = hubs.flatMap((hub) => (hub ? [hub.metrics.render()] : []));
    const feeds = this.#upstreams.filter((u) => u.running).length;
    const body =
      sumExpositions(texts) +
      perObject('ssehub_relay_upstreams', 'Upstream feeds this relay holds open (at most one per shard).', [
        [this.#options.name, feeds],
      ]);
    return new Response(body, { headers: METRICS_HEADERS });
  }
}
