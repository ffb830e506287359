/**
 * The shared broker contract: one vitest suite that every broker passes (memory, Redis, …). A broker's
 * test file calls {@link brokerContract} with a factory; the suite checks ordering, ids as cursors,
 * replay, unknown and discarded cursors, the history bound, reused ids, concurrency and fan-out.
 *
 * @example
 * brokerContract('memory', { create: ({ historySize }) => createMemoryBroker({ historySize }), historySlack: 0 });
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Broker, comparePos, EARLIEST, type Update, type UpdateInput } from './types.ts';

/** How the suite makes brokers of one kind. */
export interface ContractTarget {
  /** A broker on a fresh, empty backend that keeps (at least) `historySize` updates. */
  create(options: { historySize: number }): Broker | Promise<Broker>;
  /**
   * Another broker on the same backend as `broker` (another hub instance sharing one history).
   * Omitted for brokers that live in one process only.
   */
  peer?(broker: Broker): Broker | Promise<Broker>;
  /** How many updates beyond `historySize` the broker may retain (Redis trims whole stream nodes). */
  historySlack: number;
}

/** Records what a listener receives; `until(n)` resolves once `n` updates have arrived. */
export function collect(broker: Broker) {
  const received: Update[] = [];
  let batches = 0;
  const waiters = new Set<() => void>();
  const stop = broker.subscribe((updates) => {
    batches++;
    received.push(...updates);
    for (const w of waiters) w();
  });
  return {
    received,
    get batches() {
      return batches;
    },
    stop,
    /** Resolves once `predicate` holds for what has been received. */
    waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate()) return false;
          clearTimeout(timer);
          waiters.delete(check as () => void);
          resolve();
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check as () => void);
          reject(new Error(`listener condition not met in ${timeoutMs} ms (${received.length} updates)`));
        }, timeoutMs);
        if (!check()) waiters.add(check as () => void);
      });
    },
    /** Resolves with the first `count` updates once they have arrived. */
    async until(count: number, timeoutMs = 5000): Promise<Update[]> {
      await this.waitFor(() => received.length >= count, timeoutMs);
      return received.slice(0, count);
    },
  };
}

const input = (n: number, extra: Partial<UpdateInput> = {}): UpdateInput => ({
  topics: [`/t/${n}`],
  data: `update ${n}`,
  private: false,
  ...extra,
});

const ids = (updates: readonly Update[]) => updates.map((u) => u.id);

/** Registers the contract suite for one broker kind. */
export function brokerContract(name: string, target: ContractTarget): void {
  describe(`broker contract: ${name}`, () => {
    const open: Broker[] = [];
    const make = async (historySize = 100) => {
      const broker = await target.create({ historySize });
      open.push(broker);
      return broker;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((b) => b.close()));
    });

    /** Publishes `count` updates one after the other. */
    const publishMany = async (broker: Broker, count: number, from = 0, extra: Partial<UpdateInput> = {}) => {
      const out: Update[] = [];
      for (let i = from; i < from + count; i++) out.push(await broker.publish(input(i, extra)));
      return out;
    };

    it('is healthy, and an empty broker has no last id and an empty history', async () => {
      const broker = await make();
      expect(broker.healthy).toBe(true);
      expect(await broker.lastEventId()).toBe(EARLIEST);
      expect(await broker.history(EARLIEST)).toEqual({ found: true, updates: [] });
      expect(await broker.history('never-published')).toEqual({ found: false, updates: [] });
    });

    it('keeps publisher ids, generates unique ids otherwise, and orders positions', async () => {
      const broker = await make();
      const given = await broker.publish(input(1, { id: 'urn:example:1' }));
      expect(given.id).toBe('urn:example:1');
      const generated = await publishMany(broker, 20, 2);
      const all = [given, ...generated];
      expect(new Set(ids(generated)).size).toBe(20);
      for (const u of generated) {
        expect(u.id).not.toBe('');
        expect(u.id).not.toBe(EARLIEST);
        expect(u.id).toMatch(/^[^\s]+$/);
      }
      for (let i = 1; i < all.length; i++) expect(comparePos(all[i - 1]!.pos, all[i]!.pos)).toBe(-1);
      expect(await broker.lastEventId()).toBe(all.at(-1)!.id);
    });

    it('stores every field of an update unchanged', async () => {
      const broker = await make();
      const listener = collect(broker);
      const full: UpdateInput = {
        topics: ['https://example.com/a', '/b', 'urn:c'],
        data: 'line 1\nline 2\r\n\u00e9\u{1F600} "quoted" \\ {"json":true}',
        private: true,
        id: 'custom id with spaces',
        type: 'patch',
        retry: 1234,
      };
      const bare: UpdateInput = { topics: ['/x'], data: '', private: false };
      const published = [await broker.publish(full), await broker.publish(bare)];
      const { updates } = await broker.history(EARLIEST);
      const live = await listener.until(2);
      for (const got of [updates, live]) {
        expect(got).toHaveLength(2);
        expect(got[0]).toMatchObject({ ...full, id: published[0]!.id, pos: published[0]!.pos });
        expect(got[1]).toMatchObject({ ...bare, id: published[1]!.id, pos: published[1]!.pos });
        expect(got[1]!.type).toBeUndefined();
        expect(got[1]!.retry).toBeUndefined();
      }
    });

    it('replays strictly after a cursor, all history for earliest, nothing after the last id', async () => {
      const broker = await make();
      const published = await publishMany(broker, 10);
      expect(await broker.history(EARLIEST)).toEqual({ found: true, updates: published });
      for (const k of [0, 4, 8]) {
        const result = await broker.history(published[k]!.id);
        expect(result.found).toBe(true);
        expect(ids(result.updates)).toEqual(ids(published.slice(k + 1)));
      }
      expect(await broker.history(published[9]!.id)).toEqual({ found: true, updates: [] });
    });

    it('answers an unknown cursor with found: false and all retained history', async () => {
      const broker = await make();
      const published = await publishMany(broker, 5);
      const cursors = ['unknown', '#0-0', '#1-1', '0', '1-0', `${published[0]!.id}x`, '', '#1-', '#-1'];
      cursors.push(
        '#18446744073709551615-18446744073709551615',
        '#99999999999999999999-0',
        '#1-99999999999999999999',
      );
      for (const cursor of cursors) {
        const result = await broker.history(cursor);
        expect(result.found, `cursor ${JSON.stringify(cursor)}`).toBe(false);
        expect(ids(result.updates)).toEqual(ids(published));
      }
    });

    it('bounds history and reports discarded cursors as unknown', async () => {
      const size = 10;
      const broker = await make(size);
      const total = size + target.historySlack + 50;
      const published = await publishMany(broker, total);
      const { found, updates } = await broker.history(EARLIEST);
      expect(found).toBe(true);
      expect(updates.length).toBeGreaterThanOrEqual(size);
      expect(updates.length).toBeLessThanOrEqual(size + target.historySlack);
      // What is kept is the newest suffix, in order.
      expect(ids(updates)).toEqual(ids(published.slice(total - updates.length)));
      const discarded = await broker.history(published[0]!.id);
      expect(discarded.found).toBe(false);
      expect(ids(discarded.updates)).toEqual(ids(updates));
      const oldestKept = updates[0]!;
      const fromOldest = await broker.history(oldestKept.id);
      expect(fromOldest.found).toBe(true);
      expect(ids(fromOldest.updates)).toEqual(ids(updates.slice(1)));
    });

    it('resolves a reused publisher id to its earliest retained occurrence', async () => {
      const broker = await make();
      const a1 = await broker.publish(input(1, { id: 'a' }));
      const b = await broker.publish(input(2, { id: 'b' }));
      const a2 = await broker.publish(input(3, { id: 'a' }));
      const c = await broker.publish(input(4));
      expect(a2.pos).not.toBe(a1.pos);
      const result = await broker.history('a');
      expect(result.found).toBe(true);
      expect(result.updates.map((u) => u.pos)).toEqual([b.pos, a2.pos, c.pos]);
    });

    it('moves a reused id to its next occurrence once the earliest is discarded', async () => {
      const size = 5;
      const broker = await make(size);
      const first = await broker.publish(input(0, { id: 'again' }));
      // The slack keeps the second occurrence out of the first one's trimming unit (a Redis stream node).
      await publishMany(broker, target.historySlack + 1, 1);
      const second = await broker.publish(input(1000, { id: 'again' }));
      const after: Update[] = [];
      // Publish until the first occurrence is discarded (bounded: the history bound forces it).
      for (let i = 0; (await broker.history(EARLIEST)).updates[0]!.pos === first.pos; i++) {
        expect(i).toBeLessThanOrEqual(size + target.historySlack);
        after.push(await broker.publish(input(2000 + i)));
      }
      const { updates } = await broker.history(EARLIEST);
      expect(updates.some((u) => u.pos === second.pos)).toBe(true);
      const result = await broker.history('again');
      expect(result.found).toBe(true);
      expect(ids(result.updates)).toEqual(ids(after));
    });

    it('gives concurrent publishers distinct ids and one order seen alike by history and listeners', async () => {
      const broker = await make(500);
      const listener = collect(broker);
      const published = await Promise.all(
        Array.from({ length: 200 }, (_, i) => broker.publish(input(i, i % 3 ? {} : { id: `p${i}` }))),
      );
      expect(new Set(ids(published)).size).toBe(200);
      expect(new Set(published.map((u) => u.pos)).size).toBe(200);
      const ordered = [...published].sort((x, y) => comparePos(x.pos, y.pos));
      const { updates } = await broker.history(EARLIEST);
      expect(ids(updates)).toEqual(ids(ordered));
      expect(ids(await listener.until(200))).toEqual(ids(ordered));
    });

    it('delivers every update to every listener exactly once, in order, and stops after unsubscribe', async () => {
      const broker = await make();
      const first = collect(broker);
      const second = collect(broker);
      const published = await publishMany(broker, 30);
      await Promise.all([first.until(30), second.until(30)]);
      second.stop();
      const more = await publishMany(broker, 5, 30);
      // The sentinel is the last update: once the first listener has it, nothing else is in flight.
      await first.until(35);
      expect(ids(first.received)).toEqual(ids([...published, ...more]));
      expect(ids(second.received)).toEqual(ids(published));
      expect(first.batches).toBeLessThanOrEqual(35);
    });

    it('gives a late listener everything published after it subscribed, once and in order', async () => {
      const broker = await make();
      const before = await publishMany(broker, 3);
      const late = collect(broker);
      const after = await publishMany(broker, 5, 3);
      const sentinel = await broker.publish(input(99));
      await late.until(1);
      await late.waitFor(() => late.received.at(-1)?.id === sentinel.id);
      // An update published just before subscribing may still be on its way (another instance's
      // updates always are): the listener gets a contiguous, duplicate-free run of the order.
      const all = ids([...before, ...after, sentinel]);
      const got = ids(late.received);
      const from = all.indexOf(got[0]!);
      expect(from).toBeGreaterThanOrEqual(0);
      expect(from).toBeLessThanOrEqual(before.length);
      expect(got).toEqual(all.slice(from));
    });

    if (target.peer) {
      const peerOf = target.peer.bind(target);
      it('shares one history and one order between instances on the same backend', async () => {
        const a = await make();
        const b = await peerOf(a);
        open.push(b);
        const onA = collect(a);
        const onB = collect(b);
        const published: Update[] = [];
        for (let i = 0; i < 20; i++) published.push(await (i % 2 ? a : b).publish(input(i)));
        expect(ids(await onA.until(20))).toEqual(ids(published));
        expect(ids(await onB.until(20))).toEqual(ids(published));
        // A cursor generated by one instance resolves on the other.
        const fromB = await b.history(published[4]!.id);
        expect(fromB.found).toBe(true);
        expect(ids(fromB.updates)).toEqual(ids(published.slice(5)));
        expect(await a.lastEventId()).toBe(published[19]!.id);
        expect(await b.lastEventId()).toBe(published[19]!.id);
      });
    }
  });
}
