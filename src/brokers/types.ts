/**
 * The broker contract: how updates get an id and an order, reach every hub instance, and are kept for
 * replay. Every broker passes the shared suite in `contract.ts`; none leaks its client library's types.
 */

/** What a publisher asks to send. */
export interface UpdateInput {
  /** One or more topics; the first is canonical, the rest are alternates. */
  topics: readonly string[];
  /** The payload, opaque to the hub. */
  data: string;
  /** Only subscribers allowed to read one of the topics receive it. */
  private: boolean;
  /** Publisher-chosen id; the broker generates one when absent. */
  id?: string;
  /** SSE `event` field. */
  type?: string;
  /** SSE `retry` field (ms). */
  retry?: number;
}

/** An update as stored and delivered: its id is the event cursor clients send back as `Last-Event-ID`. */
export interface Update extends UpdateInput {
  readonly id: string;
  /** The broker's own position for this update: unique and in hub-wide order; opaque to the hub. */
  readonly pos: string;
}

/** The answer to "what came after this cursor?" */
export interface HistoryResult {
  /**
   * False when the cursor is unknown or already discarded: `updates` then starts at the oldest
   * retained update and the subscriber must be told it may have missed updates.
   */
  found: boolean;
  /** Retained updates strictly after the cursor, oldest first; at most `limit` when one was given. */
  updates: Update[];
  /** True when `limit` cut the answer short: more updates follow the last one (read on with `historyAfter`). */
  more: boolean;
  /** The update the cursor names, when it was found (never for `earliest`). */
  anchor?: Update;
  /**
   * Retention lanes that discarded updates positioned after the cursor (empty when nothing was lost
   * there): a subscriber that may read a topic of such a lane may have missed updates. A per-topic
   * lane is named by {@link topicLane}; its rule's name is reported too when one of the discarded
   * updates had alternate topics (any subscriber may match those).
   */
  lost: string[];
}

/** The answer to "what came before this position?" (see {@link Broker.historyBefore}). */
export interface HistoryPage {
  /** Retained updates positioned strictly before the position asked for, newest first. */
  updates: Update[];
  /** True when `limit` cut the answer short: older retained updates remain before the last one. */
  more: boolean;
}

/**
 * How long updates are kept for replay. Updates are kept in lanes, each bounded on its own, so that
 * one kind of update can never evict another's history: the hub keeps its subscription events
 * (presence) in a lane of their own, and retention rules give the topics they match a lane each.
 */
export interface Retention {
  /** The default lane: every update no other lane takes. */
  readonly updates: LaneLimits;
  /** Further lanes; the first that takes an update's canonical (first) topic keeps it. */
  readonly lanes?: readonly Lane[];
}

/** Bounds of one lane. A count or byte bound of 0 keeps nothing. */
export interface LaneLimits {
  /** Most updates kept. */
  readonly maxCount: number;
  /** Most bytes kept: see {@link weightOf}. */
  readonly maxBytes: number;
  /**
   * Longest time an update is kept, in milliseconds; 0 or absent for no age bound. Enforced when
   * updates are published and when history is read.
   */
  readonly maxAgeMs?: number;
}

/**
 * A retention lane of its own for the canonical topics under `prefix` (or exactly `prefix` when
 * `exact`). With `perTopic`, every such topic gets a lane of its own under these bounds, named by
 * {@link topicLane}, so that a busy topic never evicts a quiet one's history.
 */
export interface Lane extends LaneLimits {
  /**
   * Reported in {@link HistoryResult.lost}: the lane's own losses, or, with `perTopic`, the losses of
   * updates with alternate topics (see {@link ruleOfTopicLane}). {@link DEFAULT_LANE} names the
   * default lane.
   */
  readonly name: string;
  readonly prefix: string;
  /** Takes the topic `prefix` only, rather than every topic that starts with it. */
  readonly exact?: boolean;
  /** One lane per topic, each under these bounds. */
  readonly perTopic?: boolean;
  /**
   * Kept in memory only, even by a durable broker: for updates that a restart makes stale anyway
   * (the hub's subscription events), so that they cost no disk write. A restart reports the lane lost
   * to every cursor from before it.
   */
  readonly volatile?: boolean;
}

/**
 * True for an update the hub generated itself (reserved type `mercure`: its subscription events),
 * which no publisher can send.
 */
export const isHubEvent = (update: UpdateInput): boolean => update.type === 'mercure';

/** The default lane's name. */
export const DEFAULT_LANE = 'updates';

const TOPIC_LANE = 'topic:';

/** The name of the lane of one topic under a per-topic {@link Lane}, as reported in `lost`. */
export const topicLane = (topic: string): string => `${TOPIC_LANE}${topic}`;

/** The topic a lane name stands for, when it is a per-topic lane (see {@link topicLane}). */
export function topicOfLane(name: string): string | undefined {
  return name.startsWith(TOPIC_LANE) ? name.slice(TOPIC_LANE.length) : undefined;
}

/**
 * The name of the rule behind a per-topic lane (a name {@link topicLane} gave), or undefined for any
 * other lane. When a topic's lane discards an update that has alternate topics, brokers report the
 * rule's name in {@link HistoryResult.lost} too: a subscriber of an alternate topic may have missed
 * it, and `topic:<canonical topic>` alone would not tell it.
 */
export function ruleOfTopicLane(retention: Retention, name: string): string | undefined {
  const topic = topicOfLane(name);
  if (topic === undefined) return undefined;
  const lane = laneFor(retention, topic);
  return lane?.perTopic ? lane.name : undefined;
}

/** The lane of `retention` that takes canonical topic `topic`, or undefined for the default lane. */
export function laneFor(retention: Retention, topic: string): Lane | undefined {
  for (const lane of retention.lanes ?? []) {
    if (lane.exact ? topic === lane.prefix : topic.startsWith(lane.prefix)) return lane;
  }
  return undefined;
}

/** The name of the lane an update of canonical topic `topic` is kept in. */
export function laneOf(retention: Retention, topic: string): string {
  const lane = laneFor(retention, topic);
  if (!lane) return DEFAULT_LANE;
  return lane.perTopic ? topicLane(topic) : lane.name;
}

/** The bounds of lane `name` (a name {@link laneOf} gave). */
export function limitsOf(retention: Retention, name: string): LaneLimits {
  const topic = topicOfLane(name);
  if (topic !== undefined) {
    const lane = laneFor(retention, topic);
    if (lane?.perTopic) return lane;
  }
  return retention.lanes?.find((lane) => lane.name === name && !lane.perTopic) ?? retention.updates;
}

/** The age bound of `limits` in ms, or 0 for none. */
export function maxAgeOf(limits: LaneLimits): number {
  const age = limits.maxAgeMs ?? 0;
  return Number.isFinite(age) && age > 0 ? age : 0;
}

/** True when some lane of `retention` has an age bound. */
export function hasAgeBound(retention: Retention): boolean {
  return maxAgeOf(retention.updates) > 0 || (retention.lanes ?? []).some((lane) => maxAgeOf(lane) > 0);
}

/**
 * What an update weighs against a lane's byte bound: its text in UTF-16 code units (topics, id,
 * type, data), an upper bound on its UTF-8 size and about what a JavaScript string of it takes.
 */
export function weightOf(update: UpdateInput): number {
  let weight = update.data.length + (update.id?.length ?? 0) + (update.type?.length ?? 0);
  for (const topic of update.topics) weight += topic.length;
  return weight;
}

/** One lane bounded by `maxCount` updates only: what a broker keeps when given just a count. */
export function countRetention(maxCount: number): Retention {
  return { updates: { maxCount, maxBytes: Number.POSITIVE_INFINITY } };
}

/** Called with updates in publish order, every update exactly once per hub instance. */
export type UpdateListener = (updates: readonly Update[]) => void;

/** A pub/sub backend for the hub. Made by factories (`createMemoryBroker`, `createRedisBroker`, …). */
export interface Broker {
  /**
   * Assigns the id (unless given) and position, stores the update in history, and fans it out;
   * resolves once the update is stored (durably, for a durable broker). Idempotent: when the
   * publisher-chosen `id` is already in retained history, nothing is stored or fanned out and the
   * promise resolves with the retained update (a publisher retrying after a timeout creates no
   * duplicate). The window is the retained history: an id its lane has discarded is new again.
   */
  publish(input: UpdateInput): Promise<Update>;
  /** Registers a listener for every update published from now on; returns the unsubscribe function. */
  subscribe(listener: UpdateListener): () => void;
  /**
   * Updates after `cursor` (an update id, or `earliest` for all retained history), oldest first; at
   * most `limit` of them (default: all), so that a long replay can be read in pages.
   *
   * `skipHubEvents` is a hint from a reader that will not use hub events ({@link isHubEvent}): a broker
   * may leave them out (they then do not count toward `limit`), and the reader filters them anyway.
   * It spares a resuming subscriber the walk past everyone else's subscription events.
   */
  history(cursor: string, limit?: number, skipHubEvents?: boolean): Promise<HistoryResult>;
  /**
   * The next page of a replay: updates positioned strictly after `pos`, the position of the last
   * update read. `lost` names the lanes that discarded updates after `pos` before they could be
   * read; `found` is always true and `anchor` never set.
   */
  historyAfter(pos: string, limit?: number, skipHubEvents?: boolean): Promise<HistoryResult>;
  /**
   * History read backwards, a page at a time: the retained updates positioned strictly before `pos`
   * (the position of the oldest update of the previous page), or the newest ones when `pos` is
   * undefined; **newest first**, at most `limit` of them. Used for `rewind` (the last N matching
   * updates), which must cost a bounded amount however long the history is.
   *
   * @example
   * const newest = await broker.historyBefore(undefined, 10);
   * const older = await broker.historyBefore(newest.updates.at(-1)!.pos, 10);
   */
  historyBefore(pos: string | undefined, limit: number): Promise<HistoryPage>;
  /** The id of the newest update, or `earliest` when there is none. */
  lastEventId(): Promise<string>;
  /** False while the backend is unreachable; the hub then reports unhealthy and refuses publishes (503). */
  readonly healthy: boolean;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

/** The reserved cursor meaning "from the start of retained history". */
export const EARLIEST = 'earliest';

/** Generates an update id: a UUID URN, as the Mercure spec suggests (Web Crypto, every runtime). */
export function generateId(): string {
  return `urn:uuid:${crypto.randomUUID()}`;
}

/**
 * The update `input` becomes once stored: its fields, its `id` and its broker position. Built field by
 * field: an object spread here cost each update several µs (the subscription events of a connect
 * storm among them).
 */
export function stamp(input: UpdateInput, id: string, pos: string): Update {
  const update: { -readonly [K in keyof Update]: Update[K] } = {
    topics: input.topics,
    data: input.data,
    private: input.private,
    id,
    pos,
  };
  if (input.type !== undefined) update.type = input.type;
  if (input.retry !== undefined) update.retry = input.retry;
  return update;
}

/**
 * Orders two broker positions. Positions are one or two non-negative integers joined by `-` (the
 * Redis stream id format; the memory broker uses a plain counter), compared numerically.
 */
export function comparePos(a: string, b: string): number {
  if (a === b) return 0;
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  const ha = Number(da === -1 ? a : a.slice(0, da));
  const hb = Number(db === -1 ? b : b.slice(0, db));
  if (ha !== hb) return ha < hb ? -1 : 1;
  const la = da === -1 ? 0 : Number(a.slice(da + 1));
  const lb = db === -1 ? 0 : Number(b.slice(db + 1));
  return la === lb ? 0 : la < lb ? -1 : 1;
}
