/**
 * Where things live on Workers past one object: topic shards, one object per room, relay objects.
 * Pure functions of the settings, shared by the Worker (which routes) and the relays (which must
 * agree with it on where an update was published), so both compute the same answer for the same
 * topic, whatever origin a request came through.
 *
 * - A topic's shard comes from its *route key*: the path and query it resolves to against a fixed base
 *   (no origin: `/a` and `https://any.example/a` are one key; dot segments removed as URL parsing
 *   does), then the first `SSEHUB_SHARD_RULES` rule that takes it, else a jump consistent hash of the
 *   key (growing from N to N+1 shards moves about 1/(N+1) of the topics).
 * - With rooms in objects of their own, `/rooms/{room}` and everything under it is the room's.
 * - A subscription event's topic (`{hub}/subscriptions/{type}/{match}/{subscriber}`) lives where the
 *   subscription's own topics do: with an exact match, the object of that topic; otherwise the object
 *   the pattern is pinned to, else the hash of the pattern. The object that holds a subscription then
 *   publishes its events where subscribers look for them.
 */
import type { Config } from '../../config/index.ts';

/** The Durable Object name of shard 0: today's single hub object, so that its history carries over. */
export const HUB_OBJECT = 'hub';
/** Most shards: a composite cursor carries one position per shard, and a stranger sends it back. */
export const MAX_SHARDS = 64;

const HUB_PATH = '/.well-known/mercure';
const SUBSCRIPTIONS = `${HUB_PATH}/subscriptions/`;
const EXACT_EVENTS = `${SUBSCRIPTIONS}exact/`;
/** Relative topics resolve against this: the hub's path, under an origin that never matters. */
const BASE = `https://route.invalid${HUB_PATH}`;
const ROOM = /^\/rooms\/([A-Za-z0-9_-]{1,64})(?:\/|$)/;
/** A URL pattern's literal part ends at the first character with a meaning in pattern syntax. */
const PATTERN_SYNTAX = /[:*(){}\\?#+]/;
/** The origin of an absolute pattern, when it has no pattern syntax of its own. */
const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[A-Za-z0-9.-]+(?::\d+)?(?=\/)/;

/** One `SSEHUB_SHARD_RULES` entry: topics whose route key starts with (or is) `prefix` go to `shard`. */
export interface ShardRule {
  readonly prefix: string;
  readonly exact: boolean;
  readonly shard: number;
}

/** The topology settings, parsed and checked once. */
export interface Topology {
  readonly shards: number;
  readonly rules: readonly ShardRule[];
  /** Relay objects of the fan-out tier; 0 when subscriptions go straight to their object. */
  readonly relays: number;
  /** Most subscriber streams one relay holds. */
  readonly relayStreams: number;
  /** Rooms live in objects of their own (whenever the hub is sharded or relayed). */
  readonly roomObjects: boolean;
}

/** The Durable Object (of the hub class) that holds a topic: a shard, or a room. */
export type HubObjectName = string;

/** True when the hub runs past one object: anything but one shard with no relays. */
export const isSharded = (t: Topology): boolean => t.shards > 1 || t.relays > 0;

/**
 * Reads the topology from the settings.
 * @throws {Error} with a message naming the setting, for a bad shard count or rule.
 */
export function topologyOf(
  config: Pick<Config, 'shards' | 'shardRules' | 'relays' | 'relayStreams' | 'rooms' | 'dev'>,
): Topology {
  if (config.shards > MAX_SHARDS) throw new Error(`SSEHUB_SHARDS must be at most ${MAX_SHARDS}`);
  const rules = config.shardRules.map((text) => parseRule(text, config.shards));
  const sharded = config.shards > 1 || config.relays > 0;
  const rooms = config.rooms ?? (config.dev ? 'open' : 'off');
  return {
    shards: config.shards,
    rules,
    relays: config.relays,
    relayStreams: config.relayStreams,
    roomObjects: sharded && rooms !== 'off',
  };
}

function parseRule(text: string, shards: number): ShardRule {
  const eq = text.lastIndexOf('=');
  const pattern = eq === -1 ? '' : text.slice(0, eq).trim();
  const shard = eq === -1 ? '' : text.slice(eq + 1).trim();
  const why = `SSEHUB_SHARD_RULES: "${text}" is not PATTERN=SHARD`;
  if (!pattern.startsWith('/') || !/^\d+$/.test(shard)) throw new Error(`${why} (e.g. /orders/*=0)`);
  if (Number(shard) >= shards) {
    throw new Error(
      `SSEHUB_SHARD_RULES: "${text}" names shard ${shard}, but there are ${shards} (0 to ${shards - 1})`,
    );
  }
  const star = pattern.indexOf('*');
  if (star !== -1 && star !== pattern.length - 1) {
    throw new Error(`SSEHUB_SHARD_RULES: "${text}": * may only end a pattern (a prefix), as in /orders/*`);
  }
  const prefix = star === -1 ? pattern : pattern.slice(0, -1);
  if (routeKey(prefix) !== prefix) {
    throw new Error(
      `SSEHUB_SHARD_RULES: "${text}": write the path as a URL parser would (percent-encoded, no dot segments)`,
    );
  }
  // The hub's own topics (subscription events) follow their subscriptions.
  if (prefix.startsWith(HUB_PATH) || (star !== -1 && HUB_PATH.startsWith(prefix))) {
    throw new Error(`SSEHUB_SHARD_RULES: "${text}" takes the hub's own topics (${HUB_PATH}/…)`);
  }
  return { prefix, exact: star === -1, shard: Number(shard) };
}

/** The Durable Object name of shard `index`. */
export const shardName = (index: number): HubObjectName => (index === 0 ? HUB_OBJECT : `shard:${index}`);
/** The Durable Object name of room `room`. */
export const roomName = (room: string): HubObjectName => `room:${room}`;
/** The Durable Object name of relay `index` (of the relay class). */
export const relayName = (index: number): string => `relay:${index}`;

/** The shard index of an object name, or undefined for a room. */
export function shardIndex(name: HubObjectName): number | undefined {
  if (name === HUB_OBJECT) return 0;
  if (!name.startsWith('shard:')) return undefined;
  return Number(name.slice(6));
}

/** What routing compares: the path and query `topic` resolves to, with no origin; the topic itself when it is no URL. */
export function routeKey(topic: string): string {
  try {
    const url = new URL(topic, BASE);
    return url.pathname + url.search;
  } catch {
    return topic;
  }
}

/** The object a topic lives in. */
export function objectOf(t: Topology, topic: string): HubObjectName {
  const key = routeKey(topic);
  if (key.startsWith(SUBSCRIPTIONS)) {
    const event = subscriptionObject(t, key);
    if (event !== undefined) return event;
  }
  if (t.roomObjects) {
    const room = ROOM.exec(key);
    if (room) return roomName(room[1]!);
  }
  for (const rule of t.rules) {
    if (rule.exact ? key === rule.prefix : key.startsWith(rule.prefix)) return shardName(rule.shard);
  }
  return shardName(jumpHash(hashString(key), t.shards));
}

/** Where the event of a subscription lives: where its match does (see the module comment). */
function subscriptionObject(t: Topology, key: string): HubObjectName | undefined {
  const [type, match, subscriber] = key.slice(SUBSCRIPTIONS.length).split('/');
  if (type === undefined || match === undefined || subscriber === undefined) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(match);
  } catch {
    return undefined;
  }
  return eventsObject(t, type, decoded);
}

/** The object that holds the subscription events (and the Subscription API list) of `type` and `match`. */
export function eventsObject(t: Topology, type: string, match: string): HubObjectName {
  if (type === 'exact') return objectOf(t, match);
  const pinned = pinOf(t, { type: type === 'uritemplate' ? 'uritemplate' : 'urlpattern', match });
  return pinned ?? shardName(jumpHash(hashString(match), t.shards));
}

/** A subscription's matcher as the Worker reads it from the query. */
export interface Matcher {
  readonly type: 'exact' | 'urlpattern' | 'uritemplate';
  readonly match: string;
}

/**
 * The one object that holds every topic `matcher` can select, or undefined when they may be in
 * several (`*`, a pattern that no rule or room confines).
 */
export function pinOf(t: Topology, matcher: Matcher): HubObjectName | undefined {
  const { type, match } = matcher;
  if (match === '*') return undefined;
  if (type === 'exact') return objectOf(t, match);
  // The origin does not route (see routeKey): what counts is the path's literal beginning.
  const origin = ABSOLUTE.exec(match);
  const path = origin ? match.slice(origin[0].length) : match;
  if (!path.startsWith('/') || path.startsWith('//')) return undefined;
  let literal: string;
  if (type === 'uritemplate') {
    const brace = path.indexOf('{');
    if (brace === -1) return objectOf(t, match);
    literal = path.slice(0, brace);
  } else {
    const at = path.search(PATTERN_SYNTAX);
    literal = at === -1 ? path : path.slice(0, at);
  }
  // Only a literal that parsing leaves unchanged is a prefix of every route key the matcher selects.
  if (routeKey(literal) !== literal) return undefined;
  return pinPrefix(t, literal);
}

/** The object of every route key that starts with `prefix`, if there is one. */
function pinPrefix(t: Topology, prefix: string): HubObjectName | undefined {
  if (prefix.startsWith(EXACT_EVENTS)) return pinEvents(t, prefix.slice(EXACT_EVENTS.length));
  // Subscription events follow their subscriptions, not rules: a prefix that covers them pins nothing.
  if (SUBSCRIPTIONS.startsWith(prefix) || prefix.startsWith(SUBSCRIPTIONS)) return undefined;
  if (t.roomObjects) {
    // `/rooms/a/` pins room a; `/rooms/a` may go on as `/rooms/ab`, another room.
    const room = ROOM.exec(prefix);
    if (room?.[0].endsWith('/')) return roomName(room[1]!);
    if ('/rooms/'.startsWith(prefix) || prefix.startsWith('/rooms/')) return undefined;
  }
  for (let i = 0; i < t.rules.length; i++) {
    const rule = t.rules[i]!;
    if (rule.exact || !prefix.startsWith(rule.prefix)) continue;
    // An earlier rule that takes some of these keys first would split them.
    for (const earlier of t.rules.slice(0, i)) if (earlier.prefix.startsWith(prefix)) return undefined;
    return shardName(rule.shard);
  }
  return undefined;
}

/**
 * The object of the subscription events of exact subscriptions whose encoded match starts with `rest`
 * (the part of a pattern after `{hub}/subscriptions/exact/`).
 */
function pinEvents(t: Topology, rest: string): HubObjectName | undefined {
  const slash = rest.indexOf('/');
  const encoded = slash === -1 ? rest : rest.slice(0, slash);
  // A complete match segment names one topic; a partial one, the topics that start with it.
  const whole = slash !== -1;
  let decoded: string;
  try {
    decoded = decodeURIComponent(whole ? encoded : encoded.replace(/%[0-9A-Fa-f]?$/, ''));
  } catch {
    return undefined;
  }
  if (whole) return objectOf(t, decoded);
  if (!decoded.startsWith('/') || routeKey(decoded) !== decoded) return undefined;
  return pinPrefix(t, decoded);
}

/** FNV-1a over the UTF-16 code units: fast, and the same in every isolate. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Jump consistent hash (Lamping and Veach, 2014) over a 32-bit key, its random steps drawn from a
 * small generator seeded with the key: bucket in [0, buckets), stable as buckets are added.
 */
export function jumpHash(key: number, buckets: number): number {
  let state = key | 0;
  let bucket = -1;
  let next = 0;
  while (next < buckets) {
    bucket = next;
    // mulberry32: a uniform draw in (0, 1].
    state = (state + 0x6d2b79f5) | 0;
    let r = Math.imul(state ^ (state >>> 15), 1 | state);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    const draw = (((r ^ (r >>> 14)) >>> 0) + 1) / 4294967296;
    next = Math.floor((bucket + 1) / draw);
  }
  return bucket;
}
