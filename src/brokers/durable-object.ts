/**
 * The broker inside the Cloudflare hub Durable Object: the memory broker for ordering, retention and
 * fan-out, with every update written to the object's SQLite storage first, so that a restarted object (a
 * deploy, an eviction, a crash) replays the same history. Web APIs only: the storage is passed in.
 */
import { createMemoryBroker } from './memory.ts';
import type { Broker, Retention, Update, UpdateInput } from './types.ts';

/** The part of Durable Object SQL storage (`ctx.storage.sql`) the history store uses. */
export interface SqlStorageLike {
  exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[] };
}

/**
 * Where the broker keeps its history between restarts: the object's SQLite storage in production
 * ({@link sqlHistoryStore}), anything with the same behaviour in tests. Rows are keyed by the
 * update's position (a sequence number that keeps growing across restarts); bodies are opaque strings.
 */
export interface HistoryStore {
  /** Every stored row, oldest first. */
  load(): { seq: number; body: string }[];
  /** Stores one row. */
  append(seq: number, body: string): void;
  /** Deletes the row of one discarded update. */
  remove(seq: number): void;
}

const TABLE = 'ssehub_history';

/**
 * A {@link HistoryStore} in Durable Object SQLite storage: one row per update, keyed by its position.
 * SQL storage is synchronous, so the history is loaded in the object's constructor, before the first
 * request.
 *
 * @example
 * const broker = createDurableObjectBroker(sqlHistoryStore(ctx.storage.sql), { historySize: 1000 });
 */
export function sqlHistoryStore(sql: SqlStorageLike): HistoryStore {
  sql.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)`);
  return {
    load: () =>
      sql
        .exec(`SELECT seq, body FROM ${TABLE} ORDER BY seq`)
        .toArray()
        .map((row) => ({ seq: Number(row.seq), body: String(row.body) })),
    append: (seq, body) => void sql.exec(`INSERT INTO ${TABLE} (seq, body) VALUES (?, ?)`, seq, body),
    remove: (seq) => void sql.exec(`DELETE FROM ${TABLE} WHERE seq = ?`, seq),
  };
}

export interface DurableObjectBrokerOptions {
  /** How many updates to keep for replay, with no byte bound (shorthand for `retention`). Default 1000. */
  historySize?: number;
  /** How long updates are kept, per lane; wins over `historySize`. */
  retention?: Retention;
  /** Reports stored entries that cannot be read back (they are skipped). Default: `console.error`. */
  onError?: (message: string, error: unknown) => void;
}

/**
 * Builds the broker over a history store: the memory broker orders, bounds and fans out, and every
 * update is written to the store before it is kept or announced (and deleted from it when the bounds
 * discard it), so a restarted object replays the same history.
 *
 * @example
 * const broker = createDurableObjectBroker(sqlHistoryStore(ctx.storage.sql), { retention });
 */
export function createDurableObjectBroker(
  store: HistoryStore,
  options: DurableObjectBrokerOptions = {},
): Broker & { readonly size: number } {
  const onError = options.onError ?? ((message, error) => console.error(`ssehub: ${message}`, error));
  const initialHistory: Update[] = [];
  for (const { seq, body } of store.load()) {
    try {
      initialHistory.push(fromRow(body, seq));
    } catch (error) {
      onError('skipping an unreadable stored update', error);
      store.remove(seq);
    }
  }
  // Written before the update is kept or announced: a storage failure rejects the publish (503) and
  // leaves memory and storage in step. The object's output gate holds the publisher's 200 (and the
  // events) until the write is durable.
  return createMemoryBroker({
    historySize: options.historySize,
    retention: options.retention,
    initialHistory,
    onStore: (update) => store.append(Number(update.pos), JSON.stringify(toRow(update))),
    onEvict: (update) => store.remove(Number(update.pos)),
  });
}

/** The stored form: the update as published, without the position (positions restart with the object). */
interface Row {
  id: string;
  topics: readonly string[];
  data: string;
  private?: true;
  type?: string;
  retry?: number;
}

function toRow(update: UpdateInput & { id: string }): Row {
  const row: Row = { id: update.id, topics: update.topics, data: update.data };
  if (update.private) row.private = true;
  if (update.type !== undefined) row.type = update.type;
  if (update.retry !== undefined) row.retry = update.retry;
  return row;
}

function fromRow(body: string, seq: number): Update {
  const row = JSON.parse(body) as Partial<Row>;
  if (
    typeof row.id !== 'string' ||
    typeof row.data !== 'string' ||
    !Array.isArray(row.topics) ||
    row.topics.length === 0 ||
    !row.topics.every((t) => typeof t === 'string')
  ) {
    throw new TypeError('malformed update');
  }
  const update: Update = {
    id: row.id,
    topics: row.topics,
    data: row.data,
    private: row.private === true,
    pos: String(seq),
  };
  if (typeof row.type === 'string') update.type = row.type;
  if (typeof row.retry === 'number') update.retry = row.retry;
  return update;
}
