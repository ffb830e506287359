/**
 * The one schema and set of queries of the SQLite broker, shared by better-sqlite3, `bun:sqlite`,
 * `node:sqlite` and Durable Object storage (see `sql.ts`). Plain SQLite 3.35+, no extension.
 *
 * - `ssehub_updates`: one row per retained update. `pos` is its position in the hub's order (never
 *   reused: `ssehub_meta.last` remembers the last one given out, even once its update is gone); `id`
 *   is unique, since a repeated id is not stored again; `lane` names its retention lane; `weight` is
 *   what it counts against the lane's byte bound; `time` is when it was stored (ms, never going back)
 *   and `expires` when its lane's age bound discards it (NULL: never); `body` is the rest as JSON.
 * - `ssehub_lanes`: per lane that discarded something, the position of the newest update it
 *   discarded, so that a resumed replay learns it missed updates (`HistoryResult.lost`); and per rule
 *   of per-topic lanes, the newest update with alternate topics its lanes discarded.
 * - `ssehub_meta`: `last` (the last position given out) and `version` (of this schema).
 */
import type { Update, UpdateInput } from './types.ts';

/** This schema's version, kept in `ssehub_meta`. */
export const SCHEMA_VERSION = 1;

/**
 * How a commit reaches the disk (SQLite's `synchronous`, in WAL mode):
 * - `normal` (the default): a commit is written to the write-ahead log before it returns, and the log
 *   is fsynced at checkpoints. An answered publish survives a crash or `kill -9` of the hub (the
 *   operating system has the bytes); a power loss or kernel crash may lose the last commits before
 *   the last checkpoint, never the database's consistency.
 * - `full`: every commit also fsyncs the log before it returns, so an answered publish survives a
 *   power loss too. The drivers are synchronous, so the hub waits for the disk meanwhile: about
 *   1.5 ms per commit on the project's machines, 100 ms and more at the 99th percentile (measured
 *   with better-sqlite3 on a shared virtual disk), during which no stream is served. The publishes
 *   of one turn share the commit, so the cost is per batch, not per publish.
 */
export type SyncLevel = 'normal' | 'full';

/**
 * Connection settings for the drivers that take them (not Durable Object storage, which manages its
 * own durability: its output gate holds every answer until the write is confirmed): `busy_timeout`,
 * so that a hub starting while the previous one still shuts down waits for it a little;
 * `locking_mode = EXCLUSIVE`, so that a second hub pointed at the same file fails at start-up
 * ("database is locked") rather than keeping a history the first never sees; WAL, so that a commit
 * appends to the log rather than rewriting pages; and `synchronous` as {@link SyncLevel} says.
 */
export function connectionPragmas(sync: SyncLevel = 'normal'): string[] {
  return [
    'busy_timeout = 5000',
    'locking_mode = EXCLUSIVE',
    'journal_mode = WAL',
    `synchronous = ${sync.toUpperCase()}`,
  ];
}

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS ssehub_updates (
  pos INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  lane TEXT NOT NULL,
  weight INTEGER NOT NULL,
  time INTEGER NOT NULL,
  expires INTEGER,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ssehub_updates_lane ON ssehub_updates (lane, pos);
CREATE INDEX IF NOT EXISTS ssehub_updates_expires ON ssehub_updates (expires) WHERE expires IS NOT NULL;
CREATE TABLE IF NOT EXISTS ssehub_lanes (name TEXT PRIMARY KEY, lost INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ssehub_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
`;

/**
 * The history table of the Durable Object before this schema: `(seq, body)`, body the whole update as
 * JSON. Its rows move into `ssehub_updates` (same positions, same ids) the first time the new broker
 * opens the storage, and the table is dropped.
 */
export const LEGACY_TABLE = 'ssehub_history';

/**
 * 1 for a stored update with more than one topic, without parsing its body: {@link bodyOf} writes `t`
 * first and `d` right after it, and JSON escapes every `"` inside a string, so the topics end at the
 * first `],"d":` and hold `","` only between two of them.
 */
const HAS_ALTERNATES = `instr(substr(body, 1, instr(body, '],"d":')), '","') > 0`;

/** Every query the broker runs, prepared once. */
export const QUERIES = {
  insert:
    'INSERT INTO ssehub_updates (pos, id, lane, weight, time, expires, body) VALUES (?, ?, ?, ?, ?, ?, ?)',
  byId: 'SELECT pos, id, body FROM ssehub_updates WHERE id = ?',
  oldestOfLane: `SELECT pos, weight, ${HAS_ALTERNATES} AS alternates FROM ssehub_updates WHERE lane = ? ORDER BY pos LIMIT 1`,
  deleteAt: 'DELETE FROM ssehub_updates WHERE pos = ?',
  deleteLane: 'DELETE FROM ssehub_updates WHERE lane = ?',
  after: 'SELECT pos FROM ssehub_updates WHERE pos > ? ORDER BY pos LIMIT ?',
  before: 'SELECT pos FROM ssehub_updates WHERE pos < ? ORDER BY pos DESC LIMIT ?',
  at: 'SELECT pos, id, body FROM ssehub_updates WHERE pos = ?',
  newest: 'SELECT pos, id, body FROM ssehub_updates ORDER BY pos DESC LIMIT 1',
  nextExpiry: 'SELECT expires FROM ssehub_updates WHERE expires IS NOT NULL ORDER BY expires LIMIT 1',
  expiredPerLane:
    'SELECT lane, count(*) AS n, sum(weight) AS w, max(pos) AS p FROM ssehub_updates WHERE expires <= ? GROUP BY lane',
  expiredWithAlternates: `SELECT lane, max(pos) AS p FROM ssehub_updates WHERE expires <= ? AND lane LIKE 'topic:%' AND ${HAS_ALTERNATES} GROUP BY lane`,
  expiredPositions: 'SELECT pos FROM ssehub_updates WHERE expires <= ?',
  deleteExpired: 'DELETE FROM ssehub_updates WHERE expires <= ?',
  lanes: 'SELECT lane, count(*) AS n, sum(weight) AS w, max(time) AS t FROM ssehub_updates GROUP BY lane',
  restamp: 'UPDATE ssehub_updates SET expires = CASE WHEN ? > 0 THEN time + ? END WHERE lane = ?',
  losses: 'SELECT name, lost FROM ssehub_lanes',
  setLost:
    'INSERT INTO ssehub_lanes (name, lost) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET lost = excluded.lost',
  meta: 'SELECT value FROM ssehub_meta WHERE key = ?',
  setMeta:
    'INSERT INTO ssehub_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  maxPos: 'SELECT max(pos) AS p FROM ssehub_updates',
  legacyRows: `SELECT seq, body FROM ${LEGACY_TABLE} ORDER BY seq`,
} as const;

/** The stored JSON of an update: everything but its id and position, with short keys. */
interface Body {
  t: readonly string[];
  d: string;
  p?: 1;
  e?: string;
  r?: number;
}

export function bodyOf(update: UpdateInput): string {
  const body: Body = { t: update.topics, d: update.data };
  if (update.private) body.p = 1;
  if (update.type !== undefined) body.e = update.type;
  if (update.retry !== undefined) body.r = update.retry;
  return JSON.stringify(body);
}

/** An update from its row. @throws {TypeError} for a body this schema did not write. */
export function updateOf(pos: unknown, id: unknown, json: unknown): Update {
  const body = JSON.parse(String(json)) as Partial<Body>;
  if (!Array.isArray(body.t) || typeof body.d !== 'string') throw new TypeError('malformed stored update');
  const update: { -readonly [K in keyof Update]: Update[K] } = {
    topics: body.t,
    data: body.d,
    private: body.p === 1,
    id: String(id),
    pos: String(pos),
  };
  if (body.e !== undefined) update.type = body.e;
  if (body.r !== undefined) update.retry = body.r;
  return update;
}

/**
 * An update of the legacy Durable Object table (`{id, topics, data, private?, type?, retry?}`), or
 * undefined when the row cannot be read.
 */
export function legacyUpdate(seq: unknown, json: unknown): Update | undefined {
  try {
    const row = JSON.parse(String(json)) as Record<string, unknown>;
    const topics = row.topics;
    if (
      typeof row.id !== 'string' ||
      typeof row.data !== 'string' ||
      !Array.isArray(topics) ||
      topics.length === 0 ||
      !topics.every((t) => typeof t === 'string')
    ) {
      return undefined;
    }
    const update: { -readonly [K in keyof Update]: Update[K] } = {
      id: row.id,
      topics,
      data: row.data,
      private: row.private === true,
      pos: String(seq),
    };
    if (typeof row.type === 'string') update.type = row.type;
    if (typeof row.retry === 'number') update.retry = row.retry;
    return update;
  } catch {
    return undefined;
  }
}
