/**
 * How updates are stored in a Redis stream entry, and how ids map to stream ids. Pure functions:
 * no client library types, so they are unit-testable without a server.
 */
import type { Update, UpdateInput } from '../index.ts';

/** The stream entry field holding the update (JSON, see {@link encodeEntry}). */
export const UPDATE_FIELD = 'u';
/** The stream entry field holding the publisher-chosen id, when there is one. */
export const ID_FIELD = 'i';

/** Compact JSON shape of a stored update; short keys because every entry carries them. */
interface Stored {
  t: string[];
  d: string;
  p?: 1;
  e?: string;
  r?: number;
}

/** A stream id: `<ms>-<seq>`, both decimal integers (Redis ≥ 5). */
const STREAM_ID = /^\d{1,20}-\d{1,20}$/;

/**
 * The SSE id of an update the hub named itself: `#` + its stream id. Publisher ids may not start with
 * `#` (Mercure reserves it for the hub), so the two never collide, and the stream id inside makes the
 * cursor resolvable on every instance with no lookup table.
 */
export function generatedId(streamId: string): string {
  return `#${streamId}`;
}

/** The stream id inside a hub-generated id, or undefined when `id` is not one. */
export function streamIdOf(id: string): string | undefined {
  if (!id.startsWith('#')) return undefined;
  const sid = id.slice(1);
  if (!STREAM_ID.test(sid)) return undefined;
  // Both parts are 64-bit unsigned in Redis; a larger one would make XRANGE fail, not miss.
  const [ms, seq] = sid.split('-') as [string, string];
  return BigInt(ms) <= U64_MAX && BigInt(seq) <= U64_MAX ? sid : undefined;
}

const U64_MAX = 2n ** 64n - 1n;

/** The entry fields for an update, as a flat `[field, value, …]` list. */
export function encodeEntry(input: UpdateInput): string[] {
  const stored: Stored = { t: [...input.topics], d: input.data };
  if (input.private) stored.p = 1;
  if (input.type !== undefined) stored.e = input.type;
  if (input.retry !== undefined) stored.r = input.retry;
  const fields = [UPDATE_FIELD, JSON.stringify(stored)];
  if (input.id !== undefined) fields.push(ID_FIELD, input.id);
  return fields;
}

/**
 * Rebuilds an update from a stream entry. Returns undefined for an entry this hub did not write
 * (someone else's data under our key), which the reader reports and skips.
 */
export function decodeEntry(streamId: string, fields: readonly string[]): Update | undefined {
  let json: string | undefined;
  let id: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === UPDATE_FIELD) json = fields[i + 1];
    else if (fields[i] === ID_FIELD) id = fields[i + 1];
  }
  if (json === undefined) return undefined;
  let stored: Stored;
  try {
    stored = JSON.parse(json) as Stored;
  } catch {
    return undefined;
  }
  if (!Array.isArray(stored.t) || typeof stored.d !== 'string') return undefined;
  const update: { -readonly [K in keyof Update]: Update[K] } = {
    topics: stored.t,
    data: stored.d,
    private: stored.p === 1,
    id: id ?? generatedId(streamId),
    pos: streamId,
  };
  if (stored.e !== undefined) update.type = stored.e;
  if (stored.r !== undefined) update.retry = stored.r;
  return update;
}

/** A raw `XRANGE`/`XREAD` entry as the client returns it. */
export type RawEntry = [id: string, fields: string[]];

/** True when the raw entry was published with a publisher-chosen id. */
export function hasPublisherId(entry: RawEntry): boolean {
  const fields = entry[1];
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === ID_FIELD) return true;
  return false;
}
