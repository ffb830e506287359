/**
 * The Subscription API and `/metrics` of a sharded hub, added up by the Worker from every shard and
 * relay (rooms keep their own: their subscriptions and counters are the room object's).
 *
 * Subscription API: the events of one `{match_type}/{match}` all live in one object (see
 * `topology.ts`); a request for them goes to that object, which authorizes it, gives the cursor and
 * its own list, and the relays' lists are added. A request for every subscription reads every shard's
 * newest position first (the composite cursor of the answer), then the lists: as on one hub, every
 * change up to the cursor is in the list, since an object records a subscription before it publishes
 * its event.
 */
import type { ActiveSubscription } from '../../brokers/index.ts';
import type { Config } from '../../config/index.ts';
import { HUB_PATH, toHeaderValue } from '../../hub/index.ts';
import { composeCursor } from './cursor.ts';
import { type Namespace, stubOf } from './glue.ts';
import { METRICS_HEADERS, perObject, sampleOf, sumExpositions } from './metrics.ts';
import {
  eventsObject,
  type HubObjectName,
  relayName,
  shardIndex,
  shardName,
  type Topology,
} from './topology.ts';
import { INTERNAL, INTERNAL_ORIGIN } from './wire.ts';

interface Objects {
  readonly topology: Topology;
  readonly hubObject: (name: HubObjectName) => { fetch(request: Request): Promise<Response> };
  readonly relays: Namespace | undefined;
}

interface ApiContext extends Objects {
  readonly config: Config;
  readonly forward: (name: HubObjectName, request: Request) => Promise<Response>;
}

const internal = (path: string) => new Request(`${INTERNAL_ORIGIN}${path}`);

/** `GET {hub}/subscriptions[/{match_type}/{match}[/{subscriber}]]` across shards and relays. */
export async function aggregateSubscriptions(request: Request, ctx: ApiContext): Promise<Response> {
  const rest = new URL(request.url).pathname.slice(`${HUB_PATH}/subscriptions`.length);
  const segments = rest === '' ? [] : rest.slice(1).split('/');
  let decoded: string[];
  try {
    decoded = segments.map((s) => decodeURIComponent(s));
  } catch {
    decoded = [];
  }
  const [type, match, subscriber] = decoded;
  if (decoded.length !== segments.length || segments.length === 1 || segments.length > 3) {
    return ctx.forward(shardName(0), request); // Its 404.
  }
  const filter = new URLSearchParams();
  if (type !== undefined) filter.set('match_type', type);
  if (match !== undefined) filter.set('match', match);
  if (subscriber !== undefined) filter.set('subscriber', subscriber);

  if (type !== undefined && match !== undefined) {
    const home = eventsObject(ctx.topology, type, match);
    // A room's subscriptions are all in the room; a shard's are in the shard and the relays.
    if (shardIndex(home) === undefined) return ctx.forward(home, request);
    const answer = await ctx.forward(home, request);
    if (answer.status !== 200 && !(answer.status === 404 && subscriber !== undefined)) return answer;
    const own = answer.status === 200 ? ((await answer.json()) as ListBody | ActiveSubscription) : undefined;
    if (answer.status !== 200) await answer.body?.cancel();
    const relayed = await relayLists(ctx, filter);
    if (subscriber !== undefined) {
      const one = (own as ActiveSubscription | undefined) ?? relayed[0];
      if (!one) return answer.status === 404 ? notFound() : answer;
      return jsonAnswer(one, answer.headers);
    }
    const body = own as ListBody;
    return jsonAnswer(
      { ...body, subscriptions: unique([...body.subscriptions, ...relayed]) },
      answer.headers,
    );
  }

  // Every subscription: the cursor first, then the lists.
  const heads = await Promise.all(
    Array.from({ length: ctx.topology.shards }, async (_, k) => {
      const response = await ctx.hubObject(shardName(k)).fetch(internal(`${INTERNAL}head`));
      const head = (await response.json()) as { pos?: unknown };
      return typeof head.pos === 'number' ? head.pos : -1;
    }),
  );
  // Shard 0 authorizes (every object has the same keys) and gives its list.
  const answer = await ctx.forward(shardName(0), request);
  if (answer.status !== 200) return answer;
  const body = (await answer.json()) as ListBody;
  const others = await Promise.all([
    ...Array.from({ length: ctx.topology.shards - 1 }, (_, i) =>
      listOf(ctx.hubObject(shardName(i + 1)), filter),
    ),
    relayLists(ctx, filter),
  ]);
  const cursor = composeCursor(heads);
  const headers = new Headers(answer.headers);
  headers.set(
    'link',
    `<${linkTarget(answer.headers)}>; rel="mercure"; last-event-id="${toHeaderValue(cursor)}"`,
  );
  const subscriptions = unique([...body.subscriptions, ...others.flat()]);
  return jsonAnswer({ ...body, last_event_id: cursor, subscriptions }, headers);
}

interface ListBody {
  readonly last_event_id: string;
  readonly subscriptions: ActiveSubscription[];
}

async function listOf(
  object: { fetch(request: Request): Promise<Response> },
  filter: URLSearchParams,
): Promise<ActiveSubscription[]> {
  const response = await object.fetch(internal(`${INTERNAL}subscriptions?${filter}`));
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`subscription list answered ${response.status}`);
  }
  return (await response.json()) as ActiveSubscription[];
}

/** Every relay's subscriptions under `filter`. */
async function relayLists(ctx: Objects, filter: URLSearchParams): Promise<ActiveSubscription[]> {
  const { relays } = ctx;
  if (!relays) return [];
  const count = relayCount(ctx.topology);
  const lists = await Promise.all(
    Array.from({ length: count }, (_, i) => listOf(stubOf(relays, relayName(i)), filter)),
  );
  return lists.flat();
}

/** Relays that may hold subscribers: the fan-out tier, or the one that merges when there is none. */
export const relayCount = (t: Topology): number => (t.relays > 0 ? t.relays : t.shards > 1 ? 1 : 0);

/** The hub URL of the shard's own `Link` header. */
function linkTarget(headers: Headers): string {
  return /^<([^>]*)>/.exec(headers.get('link') ?? '')?.[1] ?? HUB_PATH;
}

function unique(list: ActiveSubscription[]): ActiveSubscription[] {
  const seen = new Set<string>();
  return list.filter((s) => !seen.has(s.id) && seen.add(s.id));
}

const utf8 = new TextEncoder();

function jsonAnswer(body: unknown, headers: Headers): Response {
  // Bytes, not a string: the cursor's bytes in the Link header must not be encoded a second time.
  return new Response(utf8.encode(JSON.stringify(body)), { headers });
}

function notFound(): Response {
  return new Response('no such subscription\n', {
    status: 404,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
  });
}

/**
 * `/metrics` of every shard and relay: each family added up, and the streams of each object. The
 * caller's credential goes along: each object checks the metrics key too.
 */
export async function aggregateMetrics(request: Request, ctx: Objects): Promise<Response> {
  const authorization = request.headers.get('authorization');
  const ask = () =>
    new Request(`${INTERNAL_ORIGIN}/metrics`, authorization === null ? {} : { headers: { authorization } });
  const objects: Array<[string, { fetch(request: Request): Promise<Response> }]> = [];
  for (let k = 0; k < ctx.topology.shards; k++) objects.push([shardName(k), ctx.hubObject(shardName(k))]);
  const { relays } = ctx;
  if (relays) {
    for (let i = 0; i < relayCount(ctx.topology); i++)
      objects.push([relayName(i), stubOf(relays, relayName(i))]);
  }
  const texts = await Promise.all(objects.map(async ([, object]) => (await object.fetch(ask())).text()));
  const body =
    sumExpositions(texts) +
    perObject(
      'ssehub_object_connections',
      'Open subscriber streams per object (shards, and relays).',
      objects.map(([name], i) => [name, sampleOf(texts[i]!, 'ssehub_connections')]),
    );
  return new Response(body, { headers: METRICS_HEADERS });
}

/**
 * An admin action (`POST /admin/disconnect`, `POST /admin/revoke`, `DELETE /admin/revocations`) on
 * every shard and relay: shard 0 authorizes and answers first, then the others act too (each keeps
 * the denylist in its own storage), and the streams each closed are added up. Rooms are not reached:
 * the Worker does not know which exist (docs/workers-scaling.md).
 */
export async function broadcastAdmin(
  request: Request,
  body: Uint8Array | undefined,
  ctx: Objects,
): Promise<Response> {
  const copy = (): Request =>
    new Request(request, body === undefined ? {} : { body: body as Uint8Array<ArrayBuffer> });
  const first = await ctx.hubObject(shardName(0)).fetch(copy());
  if (first.status !== 200) return first;
  const answer = (await first.json()) as { disconnected?: unknown; lifted?: unknown };
  const others: Array<{ fetch(request: Request): Promise<Response> }> = [];
  for (let k = 1; k < ctx.topology.shards; k++) others.push(ctx.hubObject(shardName(k)));
  const { relays } = ctx;
  if (relays) for (let i = 0; i < relayCount(ctx.topology); i++) others.push(stubOf(relays, relayName(i)));
  const answers = await Promise.all(
    others.map(async (object) => {
      const response = await object.fetch(copy());
      if (response.status !== 200) {
        await response.body?.cancel();
        throw new Error(`an admin action answered ${response.status} in one of the objects`);
      }
      return (await response.json()) as { disconnected?: unknown; lifted?: unknown };
    }),
  );
  const merged: Record<string, unknown> = { ...answer };
  if (typeof answer.disconnected === 'number') {
    merged.disconnected = answers.reduce(
      (sum, a) => sum + (typeof a.disconnected === 'number' ? a.disconnected : 0),
      answer.disconnected,
    );
  }
  if (typeof answer.lifted === 'boolean')
    merged.lifted = answers.some((a) => a.lifted === true) || answer.lifted;
  return new Response(JSON.stringify(merged), { headers: first.headers });
}

/** The admin listings added up across objects: `GET /admin/topics` and `GET /admin/subscribers`. */
export const ADMIN_LISTINGS: Readonly<Record<string, 'topics' | 'subscribers'>> = {
  '/admin/topics': 'topics',
  '/admin/subscribers': 'subscribers',
};

type Row = Record<string, unknown>;

/**
 * Merges pages of one admin listing from several objects (or a relay's hubs), each sorted by its key
 * and cut after `limit`: the merged page holds only keys every object has listed up to (the smallest
 * `next` of those that have more), so that a topic's counts are whole; topics are added up by
 * matcher, subscribers (each in one object) listed once.
 */
export function mergeListings(kind: 'topics' | 'subscribers', bodies: readonly Row[], limit: number): Row {
  const keyOf = (row: Row) =>
    kind === 'topics' ? `${String(row.match_type)}:${String(row.match)}` : String(row.subscriber);
  let cutoff: string | undefined;
  for (const body of bodies) {
    if (typeof body.next !== 'string') continue;
    // A topics page names its last matcher by key (`type:match`), a subscribers page by subscriber.
    if (cutoff === undefined || body.next < cutoff) cutoff = body.next;
  }
  const rows = new Map<string, Row>();
  for (const body of bodies) {
    for (const row of (body[kind] as Row[] | undefined) ?? []) {
      const key = keyOf(row);
      if (cutoff !== undefined && key > cutoff) continue;
      const known = rows.get(key);
      if (!known) rows.set(key, { ...row });
      else if (kind === 'topics') known.subscribers = Number(known.subscribers) + Number(row.subscribers);
    }
  }
  const keys = [...rows.keys()].sort();
  const shown = keys.slice(0, limit);
  const more = keys.length > limit || cutoff !== undefined;
  return { ...bodies[0], [kind]: shown.map((k) => rows.get(k)!), next: more ? (shown.at(-1) ?? null) : null };
}

/** An admin listing across every shard and relay: shard 0 authorizes and answers first. */
export async function aggregateListing(
  request: Request,
  kind: 'topics' | 'subscribers',
  ctx: Objects,
): Promise<Response> {
  const first = await ctx.hubObject(shardName(0)).fetch(request);
  if (first.status !== 200) return first;
  const others: Array<{ fetch(request: Request): Promise<Response> }> = [];
  for (let k = 1; k < ctx.topology.shards; k++) others.push(ctx.hubObject(shardName(k)));
  const { relays } = ctx;
  if (relays) for (let i = 0; i < relayCount(ctx.topology); i++) others.push(stubOf(relays, relayName(i)));
  const bodies = [(await first.json()) as Row];
  for (const response of await Promise.all(others.map((o) => o.fetch(new Request(request))))) {
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`an admin listing answered ${response.status} in one of the objects`);
    }
    bodies.push((await response.json()) as Row);
  }
  const limit = Number(new URL(request.url).searchParams.get('limit') ?? 100) || 100;
  return new Response(JSON.stringify(mergeListings(kind, bodies, limit)), { headers: first.headers });
}
