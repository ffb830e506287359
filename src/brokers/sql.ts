/**
 * The SQL driver the SQLite broker talks to: the synchronous subset that better-sqlite3 (Node),
 * `bun:sqlite` (Bun), `node:sqlite` (Deno 2, Node 22+) and a Durable Object's `ctx.storage.sql` have in
 * common, so that one schema and one set of queries serve all four. The adapters live with their
 * runtime (`src/runtimes/`), except the Durable Object's ({@link durableObjectSql}), which is Web APIs
 * only and runs inside the hub object.
 */

/** A value bound to a `?` placeholder, or read from a column. */
export type SqlValue = string | number | bigint | null;

/** A row: column name → value. */
export type SqlRow = Record<string, SqlValue>;

/** A prepared statement with positional `?` placeholders. */
export interface SqlStatement {
  /** Runs it for its effect. */
  run(...params: SqlValue[]): void;
  /** Every row it returns. */
  all(...params: SqlValue[]): SqlRow[];
  /** The first row it returns, or undefined (bun:sqlite says null: adapters turn that into undefined). */
  get(...params: SqlValue[]): SqlRow | undefined;
}

/** A synchronous SQLite connection. */
export interface SqlDriver {
  /** Runs one or more statements without parameters (the schema). */
  exec(sql: string): void;
  /** Prepares one statement; the broker prepares each of its queries once. */
  prepare(sql: string): SqlStatement;
  /**
   * Runs `fn` in one transaction: committed (durably, as the connection's settings say) when it returns,
   * rolled back when it throws (and the error rethrown).
   */
  transaction<T>(fn: () => T): T;
  /** Closes the connection (the database file stays). */
  close(): void;
}

/** The part of a Durable Object's SQL storage (`ctx.storage.sql`) the driver uses. */
export interface SqlStorageLike {
  exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[] };
}

/**
 * A {@link SqlDriver} over a Durable Object's SQLite storage. A statement is the query text
 * (workerd caches the compiled statement); a transaction is `transactionSync`, since the object may
 * not run `BEGIN` itself. Writes are durable before the object's output gate lets a response (or an
 * event) out.
 *
 * @example
 * const driver = durableObjectSql(ctx.storage.sql, (fn) => ctx.storage.transactionSync(fn));
 */
export function durableObjectSql(sql: SqlStorageLike, transactionSync: <T>(fn: () => T) => T): SqlDriver {
  const rows = (query: string, params: SqlValue[]) => sql.exec(query, ...params).toArray() as SqlRow[];
  return {
    exec: (query) => void sql.exec(query),
    prepare: (query) => ({
      run: (...params) => void sql.exec(query, ...params).toArray(),
      all: (...params) => rows(query, params),
      get: (...params) => rows(query, params)[0],
    }),
    transaction: (fn) => transactionSync(fn),
    close: () => {},
  };
}
