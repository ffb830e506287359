/**
 * The operators' control plane: revocations (a denylist of token ids and subjects, each until a time)
 * and messages every hub instance must act on (close these streams). A backend contract with an
 * in-memory driver here (one instance, or the Durable Object) and a Redis one in `./redis/control.ts`
 * (a hash for the denylist, pub/sub for the messages).
 */
import type { SqlStorageLike } from './sql.ts';

/** One denylist entry: tokens with this `jti`, or of this `sub`, are refused until `until`. */
export interface Revocation {
  readonly jti?: string;
  readonly sub?: string;
  /** ms since the epoch. */
  readonly until: number;
}

/** What an admin action asks of every instance; `origin` is the instance that sent it. */
export type ControlMessage = { readonly origin?: string } & (
  | { readonly op: 'revoke'; readonly revocation: Revocation }
  | { readonly op: 'lift'; readonly jti?: string; readonly sub?: string }
  | {
      readonly op: 'disconnect';
      readonly subscriber?: string;
      readonly sub?: string;
      /** `retry:` (ms) sent before the stream ends. */
      readonly retry?: number;
    }
);

export interface ControlPlane {
  /** Records a revocation (replacing one for the same `jti` or `sub`). */
  save(revocation: Revocation): Promise<void>;
  /** Removes the entry for this `jti` or `sub`; resolves with whether there was one. */
  remove(entry: { jti?: string; sub?: string }): Promise<boolean>;
  /** Every revocation still in force. */
  revocations(): Promise<Revocation[]>;
  /** Sends a message to every instance's listeners (this one's included). */
  broadcast(message: ControlMessage): Promise<void>;
  /**
   * Registers a listener for every message, from any instance. After a loss of contact (Redis) the
   * driver sends `reload`: the denylist may have changed meanwhile and must be read again.
   */
  listen(listener: (message: ControlMessage | { op: 'reload' }) => void): () => void;
  close(): Promise<void>;
}

/** The denylist key of an entry: `jti:…` or `sub:…`. */
export function revocationKey(entry: { jti?: string; sub?: string }): string {
  if (entry.jti !== undefined) return `jti:${entry.jti}`;
  if (entry.sub !== undefined) return `sub:${entry.sub}`;
  throw new TypeError('a revocation names a jti or a sub');
}

/** Where a control plane keeps its denylist between restarts (the Durable Object's SQLite storage). */
export interface RevocationStore {
  load(): Revocation[];
  save(key: string, revocation: Revocation): void;
  remove(key: string): void;
}

const TABLE = 'ssehub_revocations';

/** The denylist in a Durable Object's SQLite storage (`ctx.storage.sql`): it survives restarts. */
export function sqlRevocationStore(sql: SqlStorageLike): RevocationStore {
  sql.exec(
    `CREATE TABLE IF NOT EXISTS ${TABLE} (key TEXT PRIMARY KEY, body TEXT NOT NULL, until INTEGER NOT NULL)`,
  );
  return {
    load() {
      sql.exec(`DELETE FROM ${TABLE} WHERE until <= ?`, Date.now());
      return sql
        .exec(`SELECT body FROM ${TABLE}`)
        .toArray()
        .map((row) => JSON.parse(String(row.body)) as Revocation);
    },
    save: (key, revocation) =>
      void sql.exec(
        `INSERT OR REPLACE INTO ${TABLE} (key, body, until) VALUES (?, ?, ?)`,
        key,
        JSON.stringify(revocation),
        revocation.until,
      ),
    remove: (key) => void sql.exec(`DELETE FROM ${TABLE} WHERE key = ?`, key),
  };
}

/**
 * The in-process control plane: one instance (or the Durable Object, which holds every stream). With
 * a `store`, the denylist is also written there and read back at start.
 */
export function createMemoryControl(store?: RevocationStore): ControlPlane {
  const entries = new Map<string, Revocation>();
  for (const r of store?.load() ?? []) entries.set(revocationKey(r), r);
  const listeners = new Set<(message: ControlMessage | { op: 'reload' }) => void>();
  const send = (message: ControlMessage) => {
    for (const listener of listeners) listener(message);
  };
  return {
    async save(revocation) {
      const key = revocationKey(revocation);
      entries.set(key, revocation);
      store?.save(key, revocation);
    },
    async remove(entry) {
      const key = revocationKey(entry);
      store?.remove(key);
      return entries.delete(key);
    },
    async revocations() {
      const now = Date.now();
      for (const [key, r] of entries) if (r.until <= now) entries.delete(key);
      return [...entries.values()];
    },
    async broadcast(message) {
      send(message);
    },
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      listeners.clear();
    },
  };
}
