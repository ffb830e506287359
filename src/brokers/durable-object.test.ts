import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { brokerContract } from './contract.ts';
import { createDurableObjectBroker, type DurableObjectStorageLike } from './durable-object.ts';
import { EARLIEST, type Retention } from './types.ts';

/** better-sqlite3's slice that the stand-in storage uses (no type package needed). */
interface Native {
  exec(sql: string): void;
  prepare(sql: string): { reader: boolean; all(...p: unknown[]): unknown[]; run(...p: unknown[]): unknown };
  transaction<T>(fn: () => T): () => T;
  close(): void;
}
const Database = ((await import('better-sqlite3' as string)) as { default: new (path: string) => Native })
  .default;

const dir = mkdtempSync(join(tmpdir(), 'ssehub-do-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/**
 * A stand-in for `ctx.storage` with the Durable Object API's shape (`sql.exec(query, ...bindings)`
 * returning a cursor, `transactionSync`), over a real SQLite file; the real one runs in workerd
 * (test/runtimes/workerd-restart.test.ts, test/history/durability.test.ts).
 */
function storage(path: string): DurableObjectStorageLike & { db: Native } {
  const db = new Database(path);
  return {
    db,
    sql: {
      exec(query, ...bindings) {
        if (bindings.length === 0 && query.trim().includes(';')) {
          db.exec(query);
          return { toArray: () => [] };
        }
        const statement = db.prepare(query);
        if (!statement.reader) {
          statement.run(...bindings);
          return { toArray: () => [] };
        }
        const rows = statement.all(...bindings) as Record<string, unknown>[];
        return { toArray: () => rows };
      },
    },
    transactionSync: (fn) => db.transaction(fn)(),
  };
}

const paths = new WeakMap<object, { path: string; retention: Retention }>();
const open = (path: string, retention: Retention) => {
  const broker = createDurableObjectBroker(storage(path), { retention });
  paths.set(broker, { path, retention });
  return broker;
};

brokerContract('durable-object', {
  create: ({ retention }) => open(join(dir, `contract-${n++}.db`), retention),
  reopen(broker) {
    const { path, retention } = paths.get(broker)!;
    return open(path, retention);
  },
});

describe('durable-object broker: the former history table', () => {
  const legacyRow = (u: Record<string, unknown>) => JSON.stringify(u);

  it('moves the former ssehub_history rows in, positions and ids kept, and goes on after them', async () => {
    const path = join(dir, `legacy-${n++}.db`);
    const before = storage(path);
    before.db.exec('CREATE TABLE ssehub_history (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    const insert = before.db.prepare('INSERT INTO ssehub_history (seq, body) VALUES (?, ?)');
    insert.run(
      7,
      legacyRow({
        id: 'urn:uuid:a',
        topics: ['/a', '/alt'],
        data: 'one\ntwo',
        private: true,
        type: 't',
        retry: 5,
      }),
    );
    insert.run(8, '{not json');
    insert.run(9, legacyRow({ id: 'mine', topics: ['/b'], data: '' }));
    insert.run(10, legacyRow({ id: 'mine', topics: ['/b'], data: 'repeated' }));
    before.db.close();

    const reported: string[] = [];
    const broker = createDurableObjectBroker(storage(path), {
      historySize: 10,
      onError: (m) => reported.push(m),
    });
    const { found, updates } = await broker.history(EARLIEST);
    expect(found).toBe(true);
    expect(updates).toEqual([
      {
        id: 'urn:uuid:a',
        topics: ['/a', '/alt'],
        data: 'one\ntwo',
        private: true,
        type: 't',
        retry: 5,
        pos: '7',
      },
      { id: 'mine', topics: ['/b'], data: '', private: false, pos: '9' },
    ]);
    // Cursors handed out before the change still resolve; the order goes on after the last row.
    expect((await broker.history('urn:uuid:a')).updates.map((u) => u.id)).toEqual(['mine']);
    const next = await broker.publish({ topics: ['/c'], data: 'c', private: false });
    expect(Number(next.pos)).toBeGreaterThan(10);
    await broker.close();

    const check = storage(path);
    const tables = check.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
      name: string;
    }[];
    expect(tables.map((t) => t.name)).not.toContain('ssehub_history');
    check.db.close();
  });

  it('rejects a publish the storage cannot take, and announces nothing', async () => {
    const store = storage(join(dir, `failing-${n++}.db`));
    const broker = createDurableObjectBroker(store, { historySize: 5 });
    const heard: unknown[] = [];
    broker.subscribe((u) => heard.push(...u));
    store.transactionSync = () => {
      throw new Error('storage full');
    };
    await expect(broker.publish({ topics: ['/f'], data: 'f', private: false })).rejects.toThrow(
      'storage full',
    );
    expect(heard).toEqual([]);
  });
});
