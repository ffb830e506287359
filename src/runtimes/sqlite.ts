/**
 * The SQLite drivers of the runtimes, each adapting its runtime's synchronous SQLite binding to the
 * broker's `SqlDriver` (`src/brokers/sql.ts`): better-sqlite3 on Node (a dependency, loaded only when
 * the SQLite broker is used; Node 20 has no `node:sqlite`), `bun:sqlite` on Bun, `node:sqlite` on Deno
 * 2. Each is imported only when asked for, so that loading the glue of one runtime never loads another's
 * binding. The three share the connection settings of `connectionPragmas` (exclusive lock, WAL,
 * `synchronous` as asked) and one transaction shape (`BEGIN IMMEDIATE` … `COMMIT`, `ROLLBACK` on a
 * throw).
 */

/** How a database is opened. */
export interface SqliteOptions {
  /** How commits reach the disk (see `SyncLevel`). Default `normal`. */
  sync?: SyncLevel;
}

import {
  connectionPragmas,
  type SqlDriver,
  type SqlRow,
  type SqlValue,
  type SyncLevel,
} from '../brokers/index.ts';

/** The statement shape the three bindings share (typed here: none of them is a type dependency). */
interface NativeStatement {
  run(...params: SqlValue[]): unknown;
  all(...params: SqlValue[]): unknown[];
  get(...params: SqlValue[]): unknown;
  /** bun:sqlite: releases the statement (a connection with live statements closes only when they go). */
  finalize?(): void;
}

/** The connection shape the three bindings share. */
interface NativeDatabase {
  exec(sql: string): unknown;
  prepare(sql: string): NativeStatement;
  close(): unknown;
}

/** Wraps a native connection: connection settings, statements, transactions. */
function adapt(db: NativeDatabase, options: SqliteOptions): SqlDriver {
  for (const pragma of connectionPragmas(options.sync)) db.exec(`PRAGMA ${pragma}`);
  const statements: NativeStatement[] = [];
  return {
    exec: (sql) => void db.exec(sql),
    prepare(sql) {
      const statement = db.prepare(sql);
      statements.push(statement);
      return {
        run: (...params) => void statement.run(...params),
        all: (...params) => statement.all(...params) as SqlRow[],
        // bun:sqlite answers null for no row; the others undefined.
        get: (...params) => (statement.get(...params) ?? undefined) as SqlRow | undefined,
      };
    },
    transaction(fn) {
      // IMMEDIATE: the write lock is taken at BEGIN, so a conflict fails there, not halfway through.
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = fn();
        db.exec('COMMIT');
        return result;
      } catch (error) {
        try {
          db.exec('ROLLBACK');
        } catch {
          // Already rolled back by SQLite (e.g. SQLITE_FULL ends the transaction itself).
        }
        throw error;
      }
    },
    close() {
      // bun:sqlite leaves a connection with unfinalized statements open (and the file locked).
      for (const statement of statements) statement.finalize?.();
      db.close();
    },
  };
}

/** Opened through a variable specifier: the type checker need not know the module, the bundler not see it. */
const load = (specifier: string): Promise<Record<string, unknown>> => import(specifier);

/**
 * Opens (creating it when missing) the SQLite database at `path` with better-sqlite3 (Node).
 *
 * @example
 * const broker = createSqliteBroker({ driver: await openBetterSqlite('ssehub.db'), defer: setImmediate });
 */
export async function openBetterSqlite(path: string, options: SqliteOptions = {}): Promise<SqlDriver> {
  const module = await load('better-sqlite3');
  const Database = (module.default ?? module) as new (path: string) => NativeDatabase;
  return adapt(new Database(path), options);
}

/** Opens (creating it when missing) the SQLite database at `path` with `bun:sqlite` (Bun). */
export async function openBunSqlite(path: string, options: SqliteOptions = {}): Promise<SqlDriver> {
  const { Database } = (await load('bun:sqlite')) as {
    Database: new (path: string, options: { create: boolean }) => NativeDatabase;
  };
  return adapt(new Database(path, { create: true }), options);
}

/** Opens (creating it when missing) the SQLite database at `path` with `node:sqlite` (Deno 2, Node 22+). */
export async function openNodeSqlite(path: string, options: SqliteOptions = {}): Promise<SqlDriver> {
  const { DatabaseSync } = (await load('node:sqlite')) as {
    DatabaseSync: new (path: string) => NativeDatabase;
  };
  return adapt(new DatabaseSync(path), options);
}
