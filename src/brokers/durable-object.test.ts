import { describe, expect, it } from 'vitest';
import { brokerContract } from './contract.ts';
import { createDurableObjectBroker, type HistoryStore } from './durable-object.ts';
import { EARLIEST } from './types.ts';

/** A history store in plain memory, with the behaviour of the SQLite one (tested in workerd). */
function memoryStore(): HistoryStore & { rows: Map<number, string>; readonly bodies: string[] } {
  const rows = new Map<number, string>();
  return {
    rows,
    get bodies() {
      return [...rows.entries()].sort(([a], [b]) => a - b).map(([, body]) => body);
    },
    load: () => [...rows.entries()].sort(([a], [b]) => a - b).map(([seq, body]) => ({ seq, body })),
    append(seq, body) {
      rows.set(seq, body);
    },
    remove(seq) {
      rows.delete(seq);
    },
  };
}

brokerContract('durable-object', {
  create: ({ retention }) => createDurableObjectBroker(memoryStore(), { retention }),
});

describe('durable-object broker across restarts', () => {
  it('replays the stored history, every field intact, after a restart', async () => {
    const store = memoryStore();
    const before = createDurableObjectBroker(store, { historySize: 10 });
    const a = await before.publish({
      topics: ['/a', '/alt'],
      data: 'one\ntwo',
      private: true,
      type: 't',
      retry: 5,
    });
    const b = await before.publish({ topics: ['/b'], data: '', private: false, id: 'mine' });
    await before.close();

    const after = createDurableObjectBroker(store, { historySize: 10 });
    const { found, updates } = await after.history(EARLIEST);
    expect(found).toBe(true);
    expect(updates.map(({ pos: _, ...u }) => u)).toEqual([
      { id: a.id, topics: ['/a', '/alt'], data: 'one\ntwo', private: true, type: 't', retry: 5 },
      { id: 'mine', topics: ['/b'], data: '', private: false },
    ]);
    expect((await after.history(a.id)).updates.map((u) => u.id)).toEqual([b.id]);
    const c = await after.publish({ topics: ['/c'], data: 'c', private: false });
    expect((await after.history(b.id)).updates.map((u) => u.id)).toEqual([c.id]);
    expect(await after.lastEventId()).toBe(c.id);
  });

  it('keeps only the newest history-size updates in the store, also when the size shrinks', async () => {
    const store = memoryStore();
    const broker = createDurableObjectBroker(store, { historySize: 3 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await broker.publish({ topics: ['/r'], data: String(i), private: false })).id);
    expect(store.bodies).toHaveLength(3);
    const smaller = createDurableObjectBroker(store, { historySize: 2 });
    expect((await smaller.history(EARLIEST)).updates.map((u) => u.id)).toEqual(ids.slice(3));
    expect(store.bodies).toHaveLength(2);
  });

  it('stores nothing with a history size of 0', async () => {
    const store = memoryStore();
    const broker = createDurableObjectBroker(store, { historySize: 0 });
    await broker.publish({ topics: ['/z'], data: 'z', private: false });
    expect(store.bodies).toEqual([]);
  });

  it('skips (and reports) a stored entry it cannot read, keeping the rest', async () => {
    const store = memoryStore();
    const good = createDurableObjectBroker(store, { historySize: 5 });
    const kept = await good.publish({ topics: ['/k'], data: 'k', private: false });
    store.rows.set(-2, '{not json');
    store.rows.set(-1, JSON.stringify({ id: 'x', topics: [], data: 'no topics' }));
    const reported: string[] = [];
    const broker = createDurableObjectBroker(store, { historySize: 5, onError: (m) => reported.push(m) });
    expect((await broker.history(EARLIEST)).updates.map((u) => u.id)).toEqual([kept.id]);
    expect(reported).toHaveLength(2);
    // Unreadable rows are deleted, not read (and reported) again at every restart.
    expect(store.rows.size).toBe(1);
  });

  it('rejects a publish the store cannot take, and announces nothing', async () => {
    const failing: HistoryStore = {
      load: () => [],
      append: () => {
        throw new Error('storage full');
      },
      remove: () => {},
    };
    const broker = createDurableObjectBroker(failing, { historySize: 5 });
    const heard: unknown[] = [];
    broker.subscribe((u) => heard.push(...u));
    await expect(broker.publish({ topics: ['/f'], data: 'f', private: false })).rejects.toThrow(
      'storage full',
    );
    expect(heard).toEqual([]);
    expect((await broker.history(EARLIEST)).updates).toEqual([]);
  });
});
