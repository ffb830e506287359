/**
 * The internal endpoints of a hub object (a topic shard, or a room), for relays and for the Worker:
 *
 * - `GET  /_ssehub/feed[?after=POS]`: every update of this object as JSON lines, one line per update,
 *   encoded once and written to every feed: first `{"head":POS}`, then (with `after`) the history after
 *   POS, then live updates, with no gap and no duplicate at the seam. `{"lost":[lanes]}` says history
 *   discarded updates after POS. `:` lines are heartbeats. A relay that falls 16 MiB behind is cut
 *   and reconnects from where it was.
 * - `GET  /_ssehub/history?after=POS[&upto=POS]&limit=N` or `?cursor=ID&limit=N`: one page, as JSON.
 * - `GET  /_ssehub/before[?pos=POS]&limit=N`: history read backwards (`rewind`), newest first, as JSON.
 * - `GET  /_ssehub/head`: `{pos, id}` of the newest update.
 * - `POST /_ssehub/publish`: a JSON update (from a relay: its subscription events), published as is.
 * - `GET  /_ssehub/subscriptions?match_type=…&match=…&subscriber=…`: the registry's list.
 *
 * Nothing here authorizes: only the Worker's own code reaches these paths (it answers 404 to a client
 * asking for one). Web APIs only.
 */
import {
  type Broker,
  EARLIEST,
  type HistoryResult,
  type SubscriptionFilter,
  type SubscriptionRegistry,
  type Update,
} from '../../brokers/index.ts';
import { EventStream, Heartbeat, utf8 } from '../../sse/index.ts';
import { INTERNAL, inputOf, toWire } from './wire.ts';

/** A feed's backlog bound: a relay this far behind is cut, and catches up from history. */
const FEED_QUEUE_BYTES = 16 * 1024 * 1024;
/** Most updates one history page holds. */
const MAX_PAGE = 512;

/** The parts of a hub the endpoints read. */
export interface HubParts {
  readonly broker: Broker;
  readonly registry: SubscriptionRegistry;
}

interface Feed {
  readonly stream: EventStream;
  /** Live updates that arrived while the history was written, or undefined once live. */
  pending: Update[] | undefined;
}

/**
 * Serves the internal endpoints over one hub's broker and registry.
 *
 * @example
 * const internal = new ShardFeed(hub, config.heartbeat * 1000);
 * const answer = internal.handle(request); // undefined: not an internal path
 */
export class ShardFeed {
  readonly #hub: HubParts;
  readonly #heartbeat: Heartbeat;
  readonly #feeds = new Set<Feed>();
  /** Position of the newest update seen live (-1 before any); see {@link ShardFeed.head}. */
  #live = -1;
  #lastId: string = EARLIEST;
  #stored: Promise<{ pos: number; id: string }> | undefined;

  constructor(hub: HubParts, heartbeatMs: number) {
    this.#hub = hub;
    this.#heartbeat = new Heartbeat(heartbeatMs);
    hub.broker.subscribe((updates) => this.#publish(updates));
  }

  /** Open feeds (relays following this object). */
  get feeds(): number {
    return this.#feeds.size;
  }

  /** The answer to an internal request, or undefined when `request` is not one. */
  handle(request: Request): Promise<Response> | undefined {
    const url = new URL(request.url);
    if (!url.pathname.startsWith(INTERNAL)) return undefined;
    const what = url.pathname.slice(INTERNAL.length);
    const params = url.searchParams;
    const answer = async (): Promise<Response> => {
      switch (what) {
        case 'feed':
          return this.#feed(request, position(params.get('after')));
        case 'history':
          return json(await this.#history(params));
        case 'before':
          return json(await this.#before(params));
        case 'head':
          return json(await this.head());
        case 'publish':
          return this.#publishRequest(request);
        case 'subscriptions':
          return json(await this.#hub.registry.list(filterOf(params)));
        default:
          return new Response('not found\n', { status: 404 });
      }
    };
    return answer().catch((error: unknown) => {
      console.error(`ssehub: internal ${what} failed`, error);
      return new Response('unavailable\n', { status: 503 });
    });
  }

  /** Position and id of the newest update (-1 and `earliest` when there is none). */
  async head(): Promise<{ pos: number; id: string }> {
    this.#stored ??= newestStored(this.#hub.broker);
    const stored = await this.#stored;
    return this.#live > stored.pos ? { pos: this.#live, id: this.#lastId } : stored;
  }

  #publish(updates: readonly Update[]): void {
    for (const update of updates) {
      const pos = Number(update.pos);
      if (pos > this.#live) {
        this.#live = pos;
        this.#lastId = update.id;
      }
      if (this.#feeds.size === 0) continue;
      const line = utf8.encode(`${toWire(update)}\n`);
      for (const feed of this.#feeds) {
        if (feed.pending) feed.pending.push(update);
        else feed.stream.write(line);
      }
    }
  }

  async #feed(request: Request, after: number | undefined): Promise<Response> {
    const feed: Feed = {
      stream: new EventStream({
        heartbeat: this.#heartbeat,
        maxQueueBytes: FEED_QUEUE_BYTES,
        request,
        onClose: () => this.#feeds.delete(feed),
      }),
      pending: after === undefined ? undefined : [],
    };
    // Registered before anything is read: what is published meanwhile waits in `pending`.
    this.#feeds.add(feed);
    const response = feed.stream.response();
    if (after === undefined) {
      feed.stream.write(utf8.encode(`${JSON.stringify({ head: (await this.head()).pos })}\n`));
    } else {
      feed.stream.write(utf8.encode(`${JSON.stringify({ head: after })}\n`));
      void this.#catchUp(feed, after);
    }
    return response;
  }

  /** Writes the history after `after` to a feed, then what arrived meanwhile, and makes it live. */
  async #catchUp(feed: Feed, after: number): Promise<void> {
    const { stream } = feed;
    try {
      let last = after;
      let first = true;
      for (;;) {
        const page = await this.#hub.broker.historyAfter(String(last), MAX_PAGE);
        if (first && page.lost.length > 0)
          stream.write(utf8.encode(`${JSON.stringify({ lost: page.lost })}\n`));
        first = false;
        const lines = page.updates.map((u) => `${toWire(u)}\n`).join('');
        if (lines) stream.write(utf8.encode(lines));
        if (page.updates.length > 0) last = Number(page.updates.at(-1)!.pos);
        if (!page.more || stream.closed) break;
        await stream.drained(FEED_QUEUE_BYTES / 4);
      }
      const newer = (feed.pending ?? []).filter((u) => Number(u.pos) > last);
      feed.pending = undefined;
      if (newer.length > 0) stream.write(utf8.encode(newer.map((u) => `${toWire(u)}\n`).join('')));
    } catch (error) {
      console.error('ssehub: feed catch-up failed', error);
      stream.close('server');
    }
  }

  async #history(params: URLSearchParams) {
    const limit = Math.min(MAX_PAGE, Math.max(1, Number(params.get('limit')) || MAX_PAGE));
    const cursor = params.get('cursor');
    const upto = position(params.get('upto'));
    let result: HistoryResult;
    if (cursor !== null) result = await this.#hub.broker.history(cursor, limit);
    else result = await this.#hub.broker.historyAfter(String(position(params.get('after')) ?? -1), limit);
    let updates = result.updates;
    let more = result.more;
    if (upto !== undefined) {
      const cut = updates.findIndex((u) => Number(u.pos) > upto);
      if (cut !== -1) {
        updates = updates.slice(0, cut);
        more = false;
      }
    }
    return {
      found: result.found,
      updates: updates.map((u) => JSON.parse(toWire(u)) as unknown),
      more,
      lost: result.lost,
      ...(result.anchor ? { anchor: Number(result.anchor.pos) } : {}),
    };
  }

  async #before(params: URLSearchParams) {
    const limit = Math.min(MAX_PAGE, Math.max(1, Number(params.get('limit')) || MAX_PAGE));
    const pos = position(params.get('pos'));
    const page = await this.#hub.broker.historyBefore(pos === undefined ? undefined : String(pos), limit);
    return { updates: page.updates.map((u) => JSON.parse(toWire(u)) as unknown), more: page.more };
  }

  async #publishRequest(request: Request): Promise<Response> {
    if (request.method !== 'POST') return new Response('method not allowed\n', { status: 405 });
    const input = inputOf(await request.json().catch(() => undefined));
    if (!input) return new Response('not an update\n', { status: 400 });
    const update = await this.#hub.broker.publish(input);
    return json({ id: update.id, pos: Number(update.pos) });
  }
}

/**
 * The newest update's position and id, read once (later ones are seen live). With nothing retained,
 * the position is the newest one history discarded: positions go on from there, and a relay that
 * starts from it must not take older discards for updates it missed.
 */
async function newestStored(broker: Broker): Promise<{ pos: number; id: string }> {
  const id = await broker.lastEventId();
  if (id === EARLIEST) return { pos: await lastDiscarded(broker), id };
  let page = await broker.history(id, MAX_PAGE);
  let last = page.anchor ? { pos: Number(page.anchor.pos), id } : { pos: -1, id: EARLIEST };
  // A reused id names its earliest occurrence: read on to the newest.
  for (;;) {
    const newest = page.updates.at(-1);
    if (newest) last = { pos: Number(newest.pos), id: newest.id };
    if (!page.more || !newest) return last;
    page = await broker.historyAfter(newest.pos, MAX_PAGE);
  }
}

/**
 * The position of the newest discarded update (-1 if none), found through what the broker contract
 * tells: `historyAfter(p).lost` is not empty exactly while some lane discarded a position above p.
 * About 53 lookups on an empty history, once per object start.
 */
async function lastDiscarded(broker: Broker): Promise<number> {
  const lostAfter = async (pos: number) => (await broker.historyAfter(String(pos), 1)).lost.length > 0;
  if (!(await lostAfter(-1))) return -1;
  let lo = -1;
  let hi = Number.MAX_SAFE_INTEGER;
  while (hi - lo > 1) {
    const mid = Math.floor(lo / 2 + hi / 2);
    if (await lostAfter(mid)) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** A position parameter: an integer from -1 up, else undefined. */
function position(value: string | null): number | undefined {
  if (value === null || !/^-?\d{1,16}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= -1 ? n : undefined;
}

function filterOf(params: URLSearchParams): SubscriptionFilter {
  const filter: SubscriptionFilter = {};
  const type = params.get('match_type');
  const match = params.get('match');
  const subscriber = params.get('subscriber');
  if (type !== null) filter.match_type = type;
  if (match !== null) filter.match = match;
  if (subscriber !== null) filter.subscriber = subscriber;
  return filter;
}

function json(body: unknown): Response {
  return new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });
}
