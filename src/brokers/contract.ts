/**
 * The shared broker contract: one vitest suite that every broker passes (memory, Redis, …). A broker's
 * test file calls {@link brokerContract} with a factory; the suite checks ordering, ids as cursors,
 * replay (whole and in pages), unknown and discarded cursors, the history bounds (count, bytes, age, and
 * lanes that never evict each other, per topic by rule), idempotent publish (a repeated id is stored and
 * fanned out once), concurrency, fan-out, and for durable brokers what survives a restart.
 *
 * @example
 * brokerContract('memory', { create: ({ retention }) => createMemoryBroker({ retention }) });
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Broker,
  comparePos,
  countRetention,
  EARLIEST,
  type Retention,
  type Update,
  type UpdateInput,
} from './types.ts';

/** How the suite makes brokers of one kind. */
export interface ContractTarget {
  /** A broker on a fresh, empty backend that keeps updates as `retention` says. */
  create(options: { retention: Retention }): Broker | Promise<Broker>;
  /**
   * Another broker on the same backend as `broker` (another hub instance sharing one history).
   * Omitted for brokers that live in one process only.
   */
  peer?(broker: Broker): Broker | Promise<Broker>;
  /**
   * A new broker on the same backend as `broker`, which the suite has closed: a restart. Omitted for
   * brokers that keep nothing across one (memory).
   */
  reopen?(broker: Broker): Broker | Promise<Broker>;
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
    const make = async (historySize: number | Retention = 100) => {
      const retention = typeof historySize === 'number' ? countRetention(historySize) : historySize;
      const broker = await target.create({ retention });
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
      expect(await broker.history(EARLIEST)).toEqual({ found: true, updates: [], more: false, lost: [] });
      expect(await broker.history('never-published')).toEqual({
        found: false,
        updates: [],
        more: false,
        lost: [],
      });
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
      expect(await broker.history(EARLIEST)).toEqual({
        found: true,
        updates: published,
        more: false,
        lost: [],
      });
      for (const k of [0, 4, 8]) {
        const result = await broker.history(published[k]!.id);
        expect(result.found).toBe(true);
        expect(result.anchor).toEqual(published[k]);
        expect(ids(result.updates)).toEqual(ids(published.slice(k + 1)));
      }
      const last = await broker.history(published[9]!.id);
      expect(last).toMatchObject({ found: true, updates: [], more: false, lost: [] });
    });

    it('reads a replay in pages that join up exactly', async () => {
      const broker = await make();
      const published = await publishMany(broker, 23);
      for (const cursor of [EARLIEST, published[2]!.id]) {
        const pages: Update[][] = [];
        let page = await broker.history(cursor, 5);
        pages.push(page.updates);
        while (page.more) {
          expect(page.updates).toHaveLength(5);
          page = await broker.historyAfter(page.updates.at(-1)!.pos, 5);
          expect(page.lost).toEqual([]);
          pages.push(page.updates);
        }
        const from = cursor === EARLIEST ? 0 : 3;
        expect(ids(pages.flat())).toEqual(ids(published.slice(from)));
      }
      // Exactly at the end: nothing more, and `more` says so.
      const tail = await broker.history(published[17]!.id, 5);
      expect(ids(tail.updates)).toEqual(ids(published.slice(18)));
      expect(tail.more).toBe(false);
    });

    it('reads history backwards in pages, newest first, that join up exactly', async () => {
      const broker = await make(20);
      expect(await broker.historyBefore(undefined, 5)).toEqual({ updates: [], more: false });
      const published = await publishMany(broker, 23);
      const retained = published.slice(3);
      const pages: Update[][] = [];
      let page = await broker.historyBefore(undefined, 6);
      pages.push(page.updates);
      while (page.more) {
        expect(page.updates).toHaveLength(6);
        page = await broker.historyBefore(page.updates.at(-1)!.pos, 6);
        pages.push(page.updates);
      }
      expect(pages.flat()).toEqual([...retained].reverse());
      // Strictly before a position, whatever the page size; `more` says whether older ones remain.
      const middle = await broker.historyBefore(retained[10]!.pos, 4);
      expect(ids(middle.updates)).toEqual(ids(retained.slice(6, 10).reverse()));
      expect(middle.more).toBe(true);
      const oldest = await broker.historyBefore(retained[4]!.pos, 4);
      expect(ids(oldest.updates)).toEqual(ids(retained.slice(0, 4).reverse()));
      expect(oldest.more).toBe(false);
      expect(await broker.historyBefore(retained[0]!.pos, 4)).toEqual({ updates: [], more: false });
      // A position of a discarded update: what is retained before it (nothing).
      expect(await broker.historyBefore(published[1]!.pos, 4)).toEqual({ updates: [], more: false });
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
      const total = size + 50;
      const published = await publishMany(broker, total);
      const { found, updates } = await broker.history(EARLIEST);
      expect(found).toBe(true);
      // What is kept is the newest suffix, in order.
      expect(ids(updates)).toEqual(ids(published.slice(total - size)));
      const discarded = await broker.history(published[0]!.id);
      expect(discarded.found).toBe(false);
      expect(ids(discarded.updates)).toEqual(ids(updates));
      const oldestKept = updates[0]!;
      const fromOldest = await broker.history(oldestKept.id);
      expect(fromOldest.found).toBe(true);
      expect(ids(fromOldest.updates)).toEqual(ids(updates.slice(1)));
    });

    it('stores a repeated publisher id once: the publish resolves with the retained update', async () => {
      const broker = await make();
      const listener = collect(broker);
      const a1 = await broker.publish(input(1, { id: 'a' }));
      const b = await broker.publish(input(2, { id: 'b' }));
      // A retry of the first publish, even with other content, is the first update.
      const a2 = await broker.publish(input(3, { id: 'a', data: 'changed' }));
      expect(a2).toEqual(a1);
      const c = await broker.publish(input(4));
      expect(ids((await broker.history(EARLIEST)).updates)).toEqual(['a', 'b', c.id]);
      // Announced once: the sentinel arrives right after b.
      await listener.waitFor(() => listener.received.at(-1)?.id === c.id);
      expect(ids(listener.received)).toEqual(['a', 'b', c.id]);
      const result = await broker.history('a');
      expect(result.found).toBe(true);
      expect(result.anchor).toEqual(a1);
      expect(result.updates.map((u) => u.pos)).toEqual([b.pos, c.pos]);
    });

    it('stores concurrent publishes of one id once, and all of them resolve with it', async () => {
      const broker = await make();
      const listener = collect(broker);
      const same = await Promise.all(
        Array.from({ length: 10 }, (_, i) => broker.publish(input(i, { id: 'retried' }))),
      );
      for (const u of same) expect(u).toEqual(same[0]);
      const sentinel = await broker.publish(input(99));
      await listener.waitFor(() => listener.received.at(-1)?.id === sentinel.id);
      expect(ids(listener.received)).toEqual(['retried', sentinel.id]);
      expect(ids((await broker.history(EARLIEST)).updates)).toEqual(['retried', sentinel.id]);
    });

    it('takes an id again once its lane has discarded it (the window is the retained history)', async () => {
      const broker = await make(3);
      const first = await broker.publish(input(0, { id: 'again' }));
      await publishMany(broker, 3, 1);
      expect((await broker.history('again')).found).toBe(false);
      const second = await broker.publish(input(5, { id: 'again' }));
      expect(comparePos(second.pos, first.pos)).toBe(1);
      expect(second.data).toBe('update 5');
      expect((await broker.history(EARLIEST)).updates.at(-1)).toEqual(second);
    });

    const PRESENCE = '/.well-known/mercure/subscriptions/';
    const lanes = (count: number, presence: number, maxBytes = Number.POSITIVE_INFINITY): Retention => ({
      updates: { maxCount: count, maxBytes },
      lanes: [{ name: 'presence', prefix: PRESENCE, maxCount: presence, maxBytes: Number.POSITIVE_INFINITY }],
    });
    const presenceInput = (n: number): UpdateInput => ({
      topics: [`${PRESENCE}exact/%2Fx/urn%3Auuid%3A${n}`],
      data: `{"active":true,"n":${n}}`,
      private: true,
      type: 'mercure',
    });

    it('keeps each lane under its own bound: a flood in one lane evicts nothing of another', async () => {
      const broker = await make(lanes(5, 3));
      const app = await publishMany(broker, 5);
      const flood: Update[] = [];
      for (let i = 0; i < 40; i++) flood.push(await broker.publish(presenceInput(i)));
      const { updates } = await broker.history(EARLIEST);
      // Every application update is still there, then the newest three subscription events, in order.
      expect(ids(updates)).toEqual(ids([...app, ...flood.slice(-3)]));
      const resumed = await broker.history(app[1]!.id);
      expect(resumed.found).toBe(true);
      expect(ids(resumed.updates)).toEqual(ids([...app.slice(2), ...flood.slice(-3)]));
      // The presence lane discarded events after that cursor: the broker says which lane lost them.
      expect(resumed.lost).toEqual(['presence']);
      // A cursor past everything that was discarded lost nothing.
      expect((await broker.history(flood.at(-3)!.id)).lost).toEqual([]);
      // And application updates still evict only their own kind.
      const more = await publishMany(broker, 2, 100);
      expect(ids((await broker.history(EARLIEST)).updates)).toEqual(
        ids([...app.slice(2), ...flood.slice(-3), ...more]),
      );
    });

    it('merges the lanes into one order, for listeners and for history alike', async () => {
      const broker = await make(lanes(50, 50));
      const listener = collect(broker);
      const published: Update[] = [];
      for (let i = 0; i < 12; i++) {
        published.push(await broker.publish(i % 3 === 0 ? presenceInput(i) : input(i)));
      }
      expect(ids(await listener.until(12))).toEqual(ids(published));
      expect(ids((await broker.history(EARLIEST)).updates)).toEqual(ids(published));
      const fromPresence = await broker.history(published[3]!.id, 4);
      expect(ids(fromPresence.updates)).toEqual(ids(published.slice(4, 8)));
      expect(fromPresence.more).toBe(true);
      expect(await broker.lastEventId()).toBe(published[11]!.id);
    });

    it('bounds a lane in bytes as well as in count', async () => {
      const broker = await make(lanes(100, 100, 1000));
      const big = (n: number) =>
        broker.publish({ topics: ['/b'], data: 'x'.repeat(300), private: false, id: `b${n}` });
      const published: Update[] = [];
      for (let i = 0; i < 10; i++) published.push(await big(i));
      const { updates } = await broker.history(EARLIEST);
      // 300 bytes of data plus topic and id each: three fit under 1000, a fourth would not.
      expect(ids(updates)).toEqual(ids(published.slice(-3)));
      expect((await broker.history('b0')).found).toBe(false);
    });

    it('reports the lanes that lost updates after a page it already read', async () => {
      const broker = await make(lanes(4, 4));
      const first = await publishMany(broker, 4);
      const page = await broker.history(EARLIEST, 2);
      expect(ids(page.updates)).toEqual(ids(first.slice(0, 2)));
      await publishMany(broker, 4, 10);
      const next = await broker.historyAfter(page.updates.at(-1)!.pos, 2);
      expect(next.lost).toEqual(['updates']);
    });

    it("discards updates older than their lane's age bound, when publishing and when reading", async () => {
      const age = 1000;
      const broker = await make({
        updates: { maxCount: 100, maxBytes: Number.POSITIVE_INFINITY, maxAgeMs: age },
        lanes: [
          { name: 'presence', prefix: PRESENCE, maxCount: 100, maxBytes: Number.POSITIVE_INFINITY },
          {
            name: '/rooms/*',
            prefix: '/rooms/',
            perTopic: true,
            maxCount: 100,
            maxBytes: 1e9,
            maxAgeMs: age,
          },
        ],
      });
      const old = await publishMany(broker, 3);
      const room = await broker.publish({ ...input(9), topics: ['/rooms/a', '/alternate'] });
      const kept = await broker.publish(presenceInput(1));
      expect(ids((await broker.history(EARLIEST)).updates)).toEqual(ids([...old, room, kept]));
      await new Promise((r) => setTimeout(r, age + 200));
      // Read time: the old updates are gone, the lane without an age bound keeps its own.
      const read = await broker.history(EARLIEST);
      expect(ids(read.updates)).toEqual([kept.id]);
      expect((await broker.history(old[0]!.id)).found).toBe(false);
      const page = await broker.historyAfter(old[0]!.pos);
      // The room's update had an alternate topic: its rule is reported with its lane.
      expect([...page.lost].sort()).toEqual(['/rooms/*', 'topic:/rooms/a', 'updates']);
      // A repeated id of an expired update is new again.
      const fresh = await broker.publish(input(1, { id: old[1]!.id }));
      expect(comparePos(fresh.pos, kept.pos)).toBe(1);
      expect(ids((await broker.history(EARLIEST)).updates)).toEqual([kept.id, fresh.id]);
      expect(await broker.lastEventId()).toBe(fresh.id);
    });

    it('gives each topic under a per-topic rule a lane of its own: a hot topic evicts nothing of a quiet one', async () => {
      const retention: Retention = {
        updates: { maxCount: 100, maxBytes: Number.POSITIVE_INFINITY },
        lanes: [
          { name: 'presence', prefix: PRESENCE, maxCount: 100, maxBytes: Number.POSITIVE_INFINITY },
          { name: '/stats', prefix: '/stats', exact: true, perTopic: true, maxCount: 1, maxBytes: 1e9 },
          { name: '/rooms/*', prefix: '/rooms/', perTopic: true, maxCount: 2, maxBytes: 1e9 },
        ],
      };
      const broker = await make(retention);
      const at = (topic: string, n: number) =>
        broker.publish({ topics: [topic], data: `${n}`, private: false });
      const quiet = [await at('/rooms/quiet', 0), await at('/rooms/quiet', 1)];
      const hot: Update[] = [];
      for (let i = 0; i < 20; i++) hot.push(await at('/rooms/hot', i));
      const stats: Update[] = [];
      for (let i = 0; i < 3; i++) stats.push(await at('/stats', i));
      const other = [await at('/stats/not-exact', 0), await at('/roomsx', 0)];
      const { updates } = await broker.history(EARLIEST);
      expect(ids(updates)).toEqual(ids([...quiet, ...hot.slice(-2), stats[2]!, ...other]));
      // A subscriber that read the quiet room's first update missed the hot room's and the stats'.
      const resumed = await broker.history(quiet[0]!.id);
      expect(resumed.found).toBe(true);
      expect([...resumed.lost].sort()).toEqual(['topic:/rooms/hot', 'topic:/stats']);
      expect((await broker.history(hot.at(-2)!.id)).lost).toEqual(['topic:/stats']);
    });

    it('reads history backwards across lanes in one order, newest first', async () => {
      const broker = await make({
        updates: { maxCount: 50, maxBytes: Number.POSITIVE_INFINITY },
        lanes: [
          { name: 'presence', prefix: PRESENCE, maxCount: 50, maxBytes: Number.POSITIVE_INFINITY },
          { name: '/rooms/*', prefix: '/rooms/', perTopic: true, maxCount: 2, maxBytes: 1e9 },
        ],
      });
      const published: Update[] = [];
      for (let i = 0; i < 18; i++) {
        const kind = i % 3;
        published.push(
          await broker.publish(
            kind === 0
              ? presenceInput(i)
              : kind === 1
                ? input(i)
                : { ...input(i), topics: [`/rooms/${i % 2}`] },
          ),
        );
      }
      // Each room keeps its last two updates (of three); everything else is kept.
      const rooms = published.filter((u) => u.topics[0]!.startsWith('/rooms/'));
      const gone = new Set(ids(rooms.slice(0, -4)));
      const retained = published.filter((u) => !gone.has(u.id));
      const newest = await broker.historyBefore(undefined, 100);
      expect(ids(newest.updates)).toEqual(ids([...retained].reverse()));
      expect(newest.more).toBe(false);
      const first = await broker.historyBefore(undefined, 3);
      expect(ids(first.updates)).toEqual(ids(retained.slice(-3).reverse()));
      const next = await broker.historyBefore(first.updates.at(-1)!.pos, 3);
      expect(ids(next.updates)).toEqual(ids(retained.slice(-6, -3).reverse()));
    });

    it("reports a per-topic lane's rule too when the lane discards an update with alternate topics", async () => {
      const broker = await make({
        updates: { maxCount: 100, maxBytes: Number.POSITIVE_INFINITY },
        lanes: [{ name: '/rooms/*', prefix: '/rooms/', perTopic: true, maxCount: 2, maxBytes: 1e9 }],
      });
      const at = (topics: string[], n: number) => broker.publish({ topics, data: `${n}`, private: false });
      const cursor = await at(['/other'], 0);
      for (let i = 0; i < 3; i++) await at(['/rooms/a'], i);
      // Only updates with one topic discarded: subscribers of other topics missed nothing.
      expect((await broker.history(cursor.id)).lost).toEqual(['topic:/rooms/a']);
      const shared = await at(['/rooms/b', '/alternate'], 0);
      await at(['/rooms/b'], 1);
      expect((await broker.history(cursor.id)).lost).toEqual(['topic:/rooms/a']);
      const last = await at(['/rooms/b'], 2);
      // Its update with an alternate topic is gone: a subscriber of `/alternate` may have missed it.
      expect([...(await broker.history(cursor.id)).lost].sort()).toEqual([
        '/rooms/*',
        'topic:/rooms/a',
        'topic:/rooms/b',
      ]);
      expect((await broker.historyAfter(shared.pos)).lost).toEqual([]);
      expect((await broker.history(last.id)).lost).toEqual([]);
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

    if (target.reopen) {
      const reopen = target.reopen.bind(target);
      it('keeps history across a restart: same updates, cursors, order, ids and losses', async () => {
        const broker = await make(lanes(4, 10));
        const zero = await broker.publish(input(0));
        const full = await broker.publish({
          topics: ['/a', '/alt'],
          data: 'one\ntwo \u00e9\u{1F600}',
          private: true,
          id: 'mine',
          type: 't',
          retry: 5,
        });
        const rest = [...(await publishMany(broker, 3)), await broker.publish(input(3, { id: 'kept' }))];
        const presence = await broker.publish(presenceInput(1));
        const before = await broker.history(EARLIEST);
        expect(ids(before.updates)).toEqual(ids([...rest, presence]));
        await broker.close();
        const again = await reopen(broker);
        open.push(again);
        expect(await again.history(EARLIEST)).toEqual(before);
        expect(await again.lastEventId()).toBe(presence.id);
        const resumed = await again.history(rest[1]!.id);
        expect(resumed.found).toBe(true);
        expect(resumed.anchor).toEqual(rest[1]);
        expect(ids(resumed.updates)).toEqual(ids([...rest.slice(2), presence]));
        // What was discarded before the restart is still reported lost.
        expect((await again.historyAfter(zero.pos)).lost).toEqual(['updates']);
        expect((await again.historyAfter(rest[0]!.pos)).lost).toEqual([]);
        expect((await again.history(full.id)).found).toBe(false);
        // The order goes on after the restart; a retained id is still taken.
        const listener = collect(again);
        const next = await again.publish(input(50));
        expect(comparePos(next.pos, presence.pos)).toBe(1);
        expect(await again.publish(input(51, { id: 'kept' }))).toEqual(rest[3]);
        expect(ids(await listener.until(1))).toEqual([next.id]);
        expect(ids((await again.history(presence.id)).updates)).toEqual([next.id]);
      });

      it('restarts an empty backend with nothing, and keeps the order after everything was discarded', async () => {
        const broker = await make(2);
        expect(await broker.lastEventId()).toBe(EARLIEST);
        const published = await publishMany(broker, 3);
        await broker.close();
        const shrunk = await reopen(broker);
        open.push(shrunk);
        expect(ids((await shrunk.history(EARLIEST)).updates)).toEqual(ids(published.slice(1)));
        const next = await shrunk.publish(input(9));
        expect(comparePos(next.pos, published[2]!.pos)).toBe(1);
      });
    }

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

      it('stores a publisher id once across instances, however the retries race', async () => {
        const a = await make();
        const b = await peerOf(a);
        open.push(b);
        const onB = collect(b);
        const all = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).publish(input(i, { id: 'shared' }))),
        );
        for (const u of all) expect(u).toEqual(all[0]);
        const sentinel = await a.publish(input(99));
        await onB.waitFor(() => onB.received.at(-1)?.id === sentinel.id);
        expect(ids(onB.received)).toEqual(['shared', sentinel.id]);
      });
    }
  });
}
