/**
 * The broker inside the Cloudflare hub Durable Object: the memory broker for ordering and fan-out,
 * with every update written to the object's SQLite storage first, so that a restarted object (a
 * deploy, an eviction, a crash) replays the same history. Web APIs only: the storage is passed in.
 */
import { createMemoryBroker } from './memory.ts';
import { type Broker, generateId, type Update, type UpdateInput } from './types.ts';

/** The part of Durable Object SQL storage (`ctx.storage.sql`) the history store uses. */
export interface SqlStorageLike {
  exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[] };
}

/**
 * Where the broker keeps its history between restarts: the object's SQLite storage in production
 * ({@link sqlHistoryStore}), anything with the same behaviour in tests. Bodies are opaque strings.
 */
export interface HistoryStore {
  /** Drops all but the newest `keep` entries, then returns the rest, oldest first. */
  load(keep: number): string[];
  /** Appends one entry and drops what falls beyond the newest `keep`. */
  append(body: string, keep: number): void;
}

const TABLE = 'ssehub_history';

/**
 * A {@link HistoryStore} in Durable Object SQLite storage: one row per update, keyed by a sequence
 * number. SQL storage is synchronous, so the history is loaded in the object's constructor, before
 * the first request.
 *
 * @example
 * const broker = createDurableObjectBroker(sqlHistoryStore(ctx.storage.sql), { historySize: 1000 });
 */
export function sqlHistoryStore(sql: SqlStorageLike): HistoryStore {
  sql.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)`);
  let last = Number(sql.exec(`SELECT COALESCE(MAX(seq), 0) AS last FROM ${TABLE}`).toArray()[0]?.last ?? 0);
  return {
    load(keep) {
      sql.exec(`DELETE FROM ${TABLE} WHERE seq <= ?`, last - keep);
      return sql
        .exec(`SELECT body FROM ${TABLE} ORDER BY seq`)
        .toArray()
        .map((row) => String(row.body));
    },
    append(body, keep) {
      last++;
      sql.exec(`INSERT INTO ${TABLE} (seq, body) VALUES (?, ?)`, last, body);
      sql.exec(`DELETE FROM ${TABLE} WHERE seq <= ?`, last - keep);
    },
  };
}

export interface DurableObjectBrokerOptions {
  /** How many updates to keep for replay, in memory and in storage. Default 1000. */
  historySize?: number;
  /** Reports stored entries that cannot be read back (they are skipped). Default: `console.error`. */
  onError?: (message: string, error: unknown) => void;
}

/**
 * Builds the broker over a history store: the memory broker orders and fans out, and every update is
 * written to the store before it is announced, so a restarted object replays the same history.
 *
 * @example
 * const broker = createDurableObjectBroker(sqlHistoryStore(ctx.storage.sql), { historySize: config.historySize });
 */
export function createDurableObjectBroker(
  store: HistoryStore,
  options: DurableObjectBrokerOptions = {},
): Broker & { readonly size: number } {
  const historySize = Math.max(0, Math.floor(options.historySize ?? 1000));
  const onError = options.onError ?? ((message, error) => console.error(`ssehub: ${message}`, error));
  const initialHistory: Update[] = [];
  for (const body of store.load(historySize)) {
    try {
      initialHistory.push(fromRow(body));
    } catch (error) {
      onError('skipping an unreadable stored update', error);
    }
  }
  const memory = createMemoryBroker({ historySize, initialHistory });

  return {
    get size() {
      return memory.size;
    },
    get healthy() {
      return memory.healthy;
    },
    async publish(input: UpdateInput): Promise<Update> {
      const stored: UpdateInput & { id: string } = { ...input, id: input.id ?? generateId() };
      // Written before the update is announced: a storage failure rejects the publish (503) and
      // leaves memory and storage in step. The object's output gate holds the publisher's 200 (and
      // the events) until the write is durable.
      if (historySize > 0) store.append(JSON.stringify(toRow(stored)), historySize);
      return memory.publish(stored);
    },
    subscribe: (listener) => memory.subscribe(listener),
    history: (cursor) => memory.history(cursor),
    lastEventId: () => memory.lastEventId(),
    close: () => memory.close(),
  };
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

function fromRow(body: string): Update {
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
    pos: '',
  };
  if (typeof row.type === 'string') update.type = row.type;
  if (typeof row.retry === 'number') update.retry = row.retry;
  return update;
}
