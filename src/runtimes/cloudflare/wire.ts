/**
 * How shard objects and relays talk (inside the Worker's own Durable Objects, never to a client):
 * updates as compact JSON arrays, one per line on a feed, and the paths of the internal endpoints.
 * Whatever comes off the wire is checked before use: a shard of another version must not crash a relay.
 */
import type { Update, UpdateInput } from '../../brokers/index.ts';

/** Prefix of every internal path; the Worker answers 404 to clients that ask for one. */
export const INTERNAL = '/_ssehub/';
/** The origin internal requests are addressed to (any would do: they go to a stub, not the network). */
export const INTERNAL_ORIGIN = 'http://ssehub.internal';

/** An update as a shard holds it: its position in that shard's order, as a number. */
export interface ShardUpdate {
  readonly pos: number;
  readonly id: string;
  readonly topics: readonly string[];
  readonly data: string;
  readonly private: boolean;
  readonly type?: string;
  readonly retry?: number;
}

/** `[pos, id, topics, data, private (0/1), type?, retry?]`, with `null` for a missing type. */
type WireUpdate = [number, string, string[], string, 0 | 1, (string | null)?, number?];

/** One update as a JSON line (without the newline). */
export function toWire(update: Update): string {
  const wire: WireUpdate = [
    Number(update.pos),
    update.id,
    [...update.topics],
    update.data,
    update.private ? 1 : 0,
  ];
  if (update.type !== undefined || update.retry !== undefined) wire.push(update.type ?? null);
  if (update.retry !== undefined) wire.push(update.retry);
  return JSON.stringify(wire);
}

/** The update a wire array stands for, or undefined when it is not one. */
export function fromWire(value: unknown): ShardUpdate | undefined {
  if (!Array.isArray(value) || value.length < 5 || value.length > 7) return undefined;
  const [pos, id, topics, data, flag, type, retry] = value as unknown[];
  if (!Number.isSafeInteger(pos) || typeof id !== 'string' || typeof data !== 'string') return undefined;
  if (!Array.isArray(topics) || topics.length === 0 || !topics.every((t) => typeof t === 'string'))
    return undefined;
  if (flag !== 0 && flag !== 1) return undefined;
  const update: { -readonly [K in keyof ShardUpdate]: ShardUpdate[K] } = {
    pos: pos as number,
    id,
    topics: topics as string[],
    data,
    private: flag === 1,
  };
  if (typeof type === 'string') update.type = type;
  if (typeof retry === 'number' && Number.isSafeInteger(retry) && retry >= 0) update.retry = retry;
  return update;
}

/** The hub's form of a shard update, at position `pos` (a string, as brokers give positions). */
export function asUpdate(update: ShardUpdate, id: string, pos: string): Update {
  const out: Update = { id, pos, topics: update.topics, data: update.data, private: update.private };
  if (update.type !== undefined) out.type = update.type;
  if (update.retry !== undefined) out.retry = update.retry;
  return out;
}

/** A page of a shard's history, as the internal history endpoint answers it. */
export interface HistoryPage {
  readonly found: boolean;
  readonly updates: ShardUpdate[];
  readonly more: boolean;
  readonly lost: string[];
  /** Position of the update the cursor named, when it was found. */
  readonly anchor?: number;
}

/** Reads a history page off the wire; throws when it is not one (the caller treats it as a failed request). */
export function pageOf(value: unknown): HistoryPage {
  const page = value as {
    found?: unknown;
    updates?: unknown;
    more?: unknown;
    lost?: unknown;
    anchor?: unknown;
  };
  if (
    typeof page !== 'object' ||
    page === null ||
    !Array.isArray(page.updates) ||
    !Array.isArray(page.lost)
  ) {
    throw new TypeError('not a history page');
  }
  const updates: ShardUpdate[] = [];
  for (const item of page.updates) {
    const update = fromWire(item);
    if (!update) throw new TypeError('not an update');
    updates.push(update);
  }
  return {
    found: page.found === true,
    updates,
    more: page.more === true,
    lost: page.lost.filter((lane): lane is string => typeof lane === 'string'),
    ...(Number.isSafeInteger(page.anchor) ? { anchor: page.anchor as number } : {}),
  };
}

/** Reads an update to publish off the wire (an internal publish); undefined when it is not one. */
export function inputOf(value: unknown): UpdateInput | undefined {
  const input = value as Partial<Record<keyof UpdateInput, unknown>>;
  if (typeof input !== 'object' || input === null) return undefined;
  const { topics, data, id, type, retry } = input;
  if (!Array.isArray(topics) || topics.length === 0 || !topics.every((t) => typeof t === 'string'))
    return undefined;
  if (typeof data !== 'string') return undefined;
  const out: UpdateInput = { topics, data, private: input.private === true };
  if (typeof id === 'string') out.id = id;
  if (typeof type === 'string') out.type = type;
  if (typeof retry === 'number' && Number.isSafeInteger(retry)) out.retry = retry;
  return out;
}
