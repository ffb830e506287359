/**
 * The broker inside the Cloudflare hub Durable Object: the SQLite broker over the object's own SQLite
 * storage (`ctx.storage.sql`), with the same schema and queries as on Node, Bun and Deno, so that a
 * restarted object (a deploy, an eviction, a crash) replays the same history and goes on with the
 * same order. The object's former history table (`ssehub_history`) is moved into it on first open.
 * Web APIs only: the storage is passed in.
 */
import { durableObjectSql, type SqlStorageLike } from './sql.ts';
import { createSqliteBroker } from './sqlite.ts';
import type { Broker, Retention } from './types.ts';

/** The part of a Durable Object's storage (`ctx.storage`) the broker uses. */
export interface DurableObjectStorageLike {
  readonly sql: SqlStorageLike;
  /** Runs `fn` in one transaction (workerd forbids `BEGIN` in `sql.exec`). */
  transactionSync<T>(fn: () => T): T;
}

export interface DurableObjectBrokerOptions {
  /** How many updates to keep for replay, with no byte bound (shorthand for `retention`). Default 1000. */
  historySize?: number;
  /** How long updates are kept, per lane; wins over `historySize`. */
  retention?: Retention;
  /** The clock of age bounds, in ms. Default `Date.now`. */
  now?: () => number;
  /** Reports stored entries that cannot be read back (they are skipped). Default: `console.error`. */
  onError?: (message: string, error: unknown) => void;
}

/**
 * Builds the broker over the object's storage. SQL storage is synchronous, so the history is opened in
 * the object's constructor, before the first request. The publishes of one microtask turn share one
 * transaction; the object's output gate holds the publisher's 200 (and the events) until it is durable.
 *
 * @example
 * const broker = createDurableObjectBroker(ctx.storage, { retention });
 */
export function createDurableObjectBroker(
  storage: DurableObjectStorageLike,
  options: DurableObjectBrokerOptions = {},
): Broker & { readonly size: number } {
  return createSqliteBroker({
    driver: durableObjectSql(storage.sql, (fn) => storage.transactionSync(fn)),
    historySize: options.historySize,
    retention: options.retention,
    now: options.now,
    onError: options.onError,
  });
}
