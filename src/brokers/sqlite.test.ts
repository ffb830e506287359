import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openBetterSqlite } from '../runtimes/sqlite.ts';
import { brokerContract } from './contract.ts';
import { createSqliteBroker } from './sqlite.ts';
import { EARLIEST, type Retention } from './types.ts';

const dir = mkdtempSync(join(tmpdir(), 'ssehub-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** Where each broker of the suite keeps its database, so that a restart opens the same file. */
const files = new WeakMap<object, { path: string; retention: Retention }>();

async function open(path: string, retention: Retention) {
  const broker = createSqliteBroker({ driver: await openBetterSqlite(path), retention, defer: setImmediate });
  files.set(broker, { path, retention });
  return broker;
}

brokerContract('sqlite (better-sqlite3)', {
  create: ({ retention }) => open(join(dir, `contract-${n++}.db`), retention),
  reopen(broker) {
    const { path, retention } = files.get(broker)!;
    return open(path, retention);
  },
});

describe('sqlite broker', () => {
  it('commits the publishes of one turn in one transaction, and answers them only after the commit', async () => {
    const driver = await openBetterSqlite(join(dir, `batch-${n++}.db`));
    const events: string[] = [];
    const transaction = driver.transaction.bind(driver);
    driver.transaction = (fn) => {
      events.push('begin');
      const result = transaction(fn);
      events.push('commit');
      return result;
    };
    const broker = createSqliteBroker({ driver, historySize: 100, defer: setImmediate });
    broker.subscribe((updates) => events.push(`announce ${updates.length}`));
    const published = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        broker.publish({ topics: ['/b'], data: `${i}`, private: false }),
      ).map((p) =>
        p.then((u) => {
          events.push(`answer ${u.data}`);
          return u;
        }),
      ),
    );
    expect(published.map((u) => u.data)).toEqual(['0', '1', '2', '3', '4']);
    // The start-up transaction, then one for the batch: committed, announced, answered, in that order.
    expect(events.slice(-8)).toEqual([
      'begin',
      'commit',
      'announce 5',
      'answer 0',
      'answer 1',
      'answer 2',
      'answer 3',
      'answer 4',
    ]);
    await broker.close();
  });

  it('rejects the publishes of a batch that cannot be committed, announces nothing and stores nothing', async () => {
    const driver = await openBetterSqlite(join(dir, `fail-${n++}.db`));
    const broker = createSqliteBroker({ driver, historySize: 100, defer: setImmediate });
    const heard: unknown[] = [];
    broker.subscribe((u) => heard.push(...u));
    const ok = await broker.publish({ topics: ['/ok'], data: 'ok', private: false });
    const transaction = driver.transaction.bind(driver);
    driver.transaction = (fn) =>
      transaction(() => {
        fn();
        throw new Error('disk full');
      });
    await expect(broker.publish({ topics: ['/f'], data: 'f', private: false })).rejects.toThrow('disk full');
    driver.transaction = transaction;
    const next = await broker.publish({ topics: ['/n'], data: 'n', private: false });
    expect(heard).toEqual([ok, next]);
    expect((await broker.history(EARLIEST)).updates).toEqual([ok, next]);
    expect(Number(next.pos)).toBeGreaterThan(Number(ok.pos));
    await broker.close();
  });

  it('refuses a second broker on a file another one holds', async () => {
    const path = join(dir, `locked-${n++}.db`);
    const first = createSqliteBroker({ driver: await openBetterSqlite(path), historySize: 10 });
    await first.publish({ topics: ['/a'], data: 'a', private: false });
    await expect(async () =>
      createSqliteBroker({ driver: await openBetterSqlite(path), historySize: 10 }),
    ).rejects.toThrow(/locked|busy/i);
    await first.close();
  });
});
