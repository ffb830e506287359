import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openBetterSqlite } from '../runtimes/sqlite.ts';
import { brokerContract } from './contract.ts';
import { createSqliteBroker } from './sqlite.ts';
import { type Broker, EARLIEST, type Retention } from './types.ts';

const dir = mkdtempSync(join(tmpdir(), 'ssehub-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** Where each broker of the suite keeps its database, so that a restart opens the same file. */

const files = new WeakMap<object, { path: string; retention: Retention; recentPositions?: number }>();

async function open(path: string, retention: Retention, recentPositions?: number) {
  const broker = createSqliteBroker({
    driver: await openBetterSqlite(path),
    retention,
    defer: setImmediate,
    recentPositions,
  });
  files.set(broker, { path, retention, recentPositions });
  return broker;
}

brokerContract('sqlite (better-sqlite3)', {
  create: ({ retention }) => open(join(dir, `contract-${n++}.db`), retention),
  reopen(broker) {
    const { path, retention } = files.get(broker)!;
    return open(path, retention);
  },
});

// The same contract with two positions in memory: pages reach past them at once, into SQLite.
brokerContract('sqlite (better-sqlite3), 2 recent positions', {
  create: ({ retention }) => open(join(dir, `contract-${n++}.db`), retention, 2),
  reopen(broker) {
    const { path, retention, recentPositions } = files.get(broker)!;
    return open(path, retention, recentPositions);
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

  describe('a volatile lane', () => {
    const retention: Retention = {
      updates: { maxCount: 100, maxBytes: Number.POSITIVE_INFINITY },
      lanes: [
        { name: 'presence', prefix: '/p/', volatile: true, maxCount: 3, maxBytes: Number.POSITIVE_INFINITY },
      ],
    };
    const publish = (broker: Broker, topic: string) =>
      broker.publish({ topics: [topic], data: topic, private: false });

    it('replays its updates in order among the stored ones, in pages, and keeps them within its bounds', async () => {
      const broker = await open(join(dir, `volatile-${n++}.db`), retention);
      const a = await publish(broker, '/a');
      const p1 = await publish(broker, '/p/1');
      const b = await publish(broker, '/b');
      const p2 = await publish(broker, '/p/2');
      expect((await broker.history(EARLIEST)).updates).toEqual([a, p1, b, p2]);
      const page = await broker.history(a.id, 2);
      expect(page).toMatchObject({ found: true, updates: [p1, b], more: true, lost: [] });
      expect(await broker.historyAfter(b.pos, 2)).toMatchObject({ updates: [p2], more: false });
      // A cursor that is a volatile update resolves too.
      expect(await broker.history(p1.id)).toMatchObject({ found: true, anchor: p1, updates: [b, p2] });
      expect(await broker.lastEventId()).toBe(p2.id);
      // Read backwards too, newest first, in pages.
      expect(await broker.historyBefore(undefined, 3)).toEqual({ updates: [p2, b, p1], more: true });
      expect(await broker.historyBefore(p1.pos, 3)).toEqual({ updates: [a], more: false });
      // Past its bound of 3, its oldest goes, and cursors from before that are told.
      const more = [await publish(broker, '/p/3'), await publish(broker, '/p/4')];
      expect((await broker.history(EARLIEST)).updates).toEqual([a, b, p2, ...more]);
      expect((await broker.history(a.id)).lost).toEqual(['presence']);
      expect((await broker.history(b.id)).lost).toEqual([]);
      await broker.close();
    });

    it('leaves hub events out of pages for a reader that skips them, and only them, within its bounds', async () => {
      const broker = await open(join(dir, `volatile-skip-${n++}.db`), retention);
      const hub = (topic: string) =>
        broker.publish({ topics: [topic], data: topic, private: true, type: 'mercure' });
      const a = await publish(broker, '/a');
      const e1 = await hub('/p/e1');
      const p1 = await publish(broker, '/p/1'); // a publisher's update in the lane: never skipped
      const e2 = await hub('/p/e2');
      const b = await publish(broker, '/b');
      expect((await broker.history(a.id)).updates).toEqual([e1, p1, e2, b]);
      expect((await broker.history(a.id, Number.POSITIVE_INFINITY, true)).updates).toEqual([p1, b]);
      // Skipped ones do not count toward the limit; pages still join up.
      expect(await broker.history(a.id, 1, true)).toMatchObject({ updates: [p1], more: true });
      expect(await broker.historyAfter(p1.pos, 1, true)).toMatchObject({ updates: [b], more: false });
      expect(await broker.history(EARLIEST, 2, true)).toMatchObject({ updates: [a, p1], more: true });
      // Past the lane's bound of 3, the oldest goes whichever it is: e1, then p1, then e2.
      const e3 = await hub('/p/e3');
      const e4 = await hub('/p/e4');
      expect((await broker.history(EARLIEST)).updates).toEqual([a, e2, b, e3, e4]);
      expect((await broker.history(EARLIEST, Number.POSITIVE_INFINITY, true)).updates).toEqual([a, b]);
      const p2 = await publish(broker, '/p/2');
      expect((await broker.history(EARLIEST, Number.POSITIVE_INFINITY, true)).updates).toEqual([a, b, p2]);
      expect((await broker.history(b.id, Number.POSITIVE_INFINITY, false)).updates).toEqual([e3, e4, p2]);
      await broker.close();
    });

    it('costs no transaction: a turn of volatile updates writes nothing', async () => {
      const driver = await openBetterSqlite(join(dir, `volatile-tx-${n++}.db`));
      let transactions = 0;
      const transaction = driver.transaction.bind(driver);
      driver.transaction = (fn) => {
        transactions++;
        return transaction(fn);
      };
      const broker = createSqliteBroker({ driver, retention, defer: setImmediate });
      const started = transactions;
      await Promise.all([publish(broker, '/p/1'), publish(broker, '/p/2')]);
      expect(transactions).toBe(started);
      await Promise.all([publish(broker, '/p/3'), publish(broker, '/a')]);
      expect(transactions).toBe(started + 1);
      await broker.close();
    });

    it('is forgotten by a restart, which every cursor from before it is told', async () => {
      const path = join(dir, `volatile-restart-${n++}.db`);
      const first = await open(path, retention);
      const a = await publish(first, '/a');
      await publish(first, '/p/1');
      const b = await publish(first, '/b');
      await publish(first, '/p/2');
      await first.close();
      const second = await open(path, retention);
      expect((await second.history(EARLIEST)).updates).toEqual([a, b]);
      expect(await second.history(b.id)).toMatchObject({ found: true, updates: [], lost: ['presence'] });
      const c = await publish(second, '/c');
      const p3 = await publish(second, '/p/3');
      expect(Number(c.pos)).toBeGreaterThan(Number(b.pos));
      expect(await second.history(c.id)).toMatchObject({ found: true, updates: [p3], lost: [] });
      await second.close();
    });
  });

  it('pages exactly what SQLite holds, whatever its few recent positions in memory hold', async () => {
    // Per-topic lanes evict in the middle of the positions, an age bound drops runs of them, a failed
    // commit puts the state back: after each step every page must be the one SQLite itself gives.
    const driver = await openBetterSqlite(join(dir, `recent-${n++}.db`));
    let time = 0;
    let failNext = false;
    const transaction = driver.transaction.bind(driver);
    driver.transaction = (fn) =>
      transaction(() => {
        const result = fn();
        if (failNext) {
          failNext = false;
          throw new Error('disk full');
        }
        return result;
      });
    const retention: Retention = {
      updates: { maxCount: 40, maxBytes: Number.POSITIVE_INFINITY, maxAgeMs: 50 },
      lanes: [
        { name: 'rooms', prefix: '/r/', perTopic: true, maxCount: 3, maxBytes: Number.POSITIVE_INFINITY },
      ],
    };
    const broker = createSqliteBroker({ driver, retention, now: () => time, recentPositions: 8 });
    const after = driver.prepare('SELECT pos FROM ssehub_updates WHERE pos > ? ORDER BY pos LIMIT ?');
    const before = driver.prepare('SELECT pos FROM ssehub_updates WHERE pos < ? ORDER BY pos DESC LIMIT ?');
    const positions = (page: { updates: readonly { pos: string }[] }) =>
      page.updates.map((u) => Number(u.pos));
    let seed = 7;
    const random = (k: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % k;
    };
    let checked = 0;
    for (let step = 0; step < 400; step++) {
      time += random(4);
      const topic = random(3) === 0 ? '/d' : `/r/${random(4)}`;
      if (random(40) === 0) failNext = true;
      await broker.publish({ topics: [topic], data: 'x', private: false }).catch(() => undefined);
      const newest = Number(after.all(-1, -1).at(-1)?.pos ?? 0);
      for (let k = 0; k < 4; k++) {
        const pos = newest - random(60);
        const limit = 1 + random(12);
        const forward = await broker.historyAfter(String(pos), limit);
        expect(positions(forward)).toEqual(after.all(pos, limit).map((row) => row.pos));
        expect(forward.more).toBe(after.all(pos, limit + 1).length > limit);
        const backward = await broker.historyBefore(String(pos), limit);
        expect(positions(backward)).toEqual(before.all(pos, limit).map((row) => row.pos));
        checked++;
      }
    }
    expect(checked).toBe(1600);
    await broker.close();
  });
});
