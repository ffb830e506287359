/**
 * The broker inside the Cloudflare hub Durable Object: the memory broker for ordering and fan-out,
 * with every update written to the object's SQLite storage first, so that a restarted object (a
 * deploy, an eviction, a crash) replays the same history. Web APIs only: the storage is passed in.
 */
import { createMemoryBroker } from './memory.ts';
import { type Broker, generateId, type Update, type UpdateInput } from './types.ts';

/** The part of Durable Object SQL storage (`ctx.storage.sql`) this broker uses. */
export interface SqlStorageLike {
  exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[] };
}

export interface DurableObjectBrokerOptions {
  /** How many updates to keep for replay, in memory and in storage. Default 1000. */
  historySize?: number;
  /** Reports rows that cannot be read back (they are skipped). Default: `console.error`. */
  onError?: (message: string, error: unknown) => void;
}

const TABLE = 'ssehub_history';

/**
 * Builds the broker over the object's SQL storage. Call it from the Durable Object's constructor:
 * SQL storage is synchronous, so history is loaded before the first request is served.
 *
 * @example
 * const broker = createDurableObjectBroker(ctx.storage.sql, { historySize: config.historySize });
 */
export function createDurableObjectBroker(
  sql: SqlStorageLike,
  options: DurableObjectBrokerOptions = {},
): Broker & { readonly size: number } {
  const historySize = Math.max(0, Math.floor(options.historySize ?? 1000));
  const onError = options.onError ?? ((message, error) => console.error(`ssehub: ${message}`, error));
  sql.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)`);
  let lastSeq = Number(
    sql.exec(`SELECT COALESCE(MAX(seq), 0) AS last FROM ${TABLE}`).toArray()[0]?.last ?? 0,
  );
  // The history size may have shrunk since the last run: drop what the ring would not keep anyway.
  sql.exec(`DELETE FROM ${TABLE} WHERE seq <= ?`, lastSeq - historySize);

  const initialHistory: Update[] = [];
  for (const row of sql.exec(`SELECT seq, body FROM ${TABLE} ORDER BY seq`).toArray()) {
    try {
      initialHistory.push(fromRow(String(row.body)));
    } catch (error) {
      onError(`skipping unreadable history row ${String(row.seq)}`, error);
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
      if (historySize > 0) {
        // Written before the update is announced: a storage failure rejects the publish (503) and
        // leaves memory and storage in step. The object's output gate holds the publisher's 200 (and
        // the events) until the write is durable.
        lastSeq++;
        sql.exec(`INSERT INTO ${TABLE} (seq, body) VALUES (?, ?)`, lastSeq, JSON.stringify(toRow(stored)));
        sql.exec(`DELETE FROM ${TABLE} WHERE seq = ?`, lastSeq - historySize);
      }
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
