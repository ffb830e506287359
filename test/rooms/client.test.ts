/**
 * The client's room API against a real hub process, from Node (no browser needed for everything
 * that is not WebRTC): presence, ordered and batched messages, state convergence, token renewal, and
 * a hub restart with the memory broker (peers restore the state) and with Redis (the hub rebuilds it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinRoom, type Room, type RoomMessage } from '../../src/client/index.ts';
import { type RedisServer, skipRedis, startRedis } from '../helpers/redis.ts';
import { type RestartableHub, startRoomsHub } from '../helpers/rooms.ts';
import { eventually } from '../helpers/sse.ts';

const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

/** Everything a room reports, for assertions. */
function record(room: Room) {
  const log = {
    joins: [] as string[],
    leaves: [] as string[],
    messages: [] as RoomMessage[],
    resyncs: 0,
    selves: 0,
  };
  room.on('join', (p) => log.joins.push(p.id));
  room.on('leave', (p) => log.leaves.push(p.id));
  room.on('message', (m) => log.messages.push(m));
  room.on('resync', () => log.resyncs++);
  room.on('self', () => log.selves++);
  return log;
}

const metric = async (base: string, name: string) => {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
};

describe('rooms from the client', () => {
  let hub: RestartableHub;
  beforeAll(async () => {
    hub = await startRoomsHub();
  });
  afterAll(() => hub?.stop());

  it('shows each peer the other, delivers messages in order with few publishes, and reports a leave', async () => {
    const name = unique('pair');
    const ada = await joinRoom(hub.url, name, { name: 'Ada', leaveGrace: 300 });
    const adaLog = record(ada);
    await eventually(() => ada.status === 'open', 'ada connected');
    const bob = await joinRoom(hub.url, name, { name: 'Bob', leaveGrace: 300 });
    const bobLog = record(bob);
    expect([...bob.peers.values()]).toEqual([{ id: ada.self.id, name: 'Ada' }]);
    await eventually(() => ada.peers.has(bob.self.id), 'ada sees bob');
    expect(adaLog.joins).toEqual([bob.self.id]);
    expect(ada.peers.get(bob.self.id)).toEqual({ id: bob.self.id, name: 'Bob' });

    const before = await metric(hub.url, 'ssehub_updates_published_total');
    await Promise.all(Array.from({ length: 50 }, (_, i) => ada.send(bob.self.id, { i })));
    const after = await metric(hub.url, 'ssehub_updates_published_total');
    // One request in flight at a time, the rest batched behind it.
    expect(after - before).toBeLessThan(10);
    await eventually(() => bobLog.messages.length === 50, '50 messages at bob');
    expect(bobLog.messages.map((m) => (m.data as { i: number }).i)).toEqual(
      Array.from({ length: 50 }, (_, i) => i),
    );
    expect(bobLog.messages.every((m) => m.from === ada.self.id && !m.broadcast)).toBe(true);

    await bob.broadcast('hello room');
    await eventually(() => adaLog.messages.length === 1, 'the broadcast at ada');
    expect(adaLog.messages[0]).toEqual({ from: bob.self.id, data: 'hello room', broadcast: true });
    expect(bobLog.messages).toHaveLength(50); // Not back to the sender.

    await expect(ada.send(bob.self.id, 'x'.repeat(70_000))).rejects.toThrow(RangeError);
    bob.leave();
    await eventually(() => adaLog.leaves.length === 1, 'ada sees bob leave', 5000);
    expect(adaLog.leaves).toEqual([bob.self.id]);
    expect(ada.peers.size).toBe(0);
    ada.leave();
  });

  it('delivers a message once when its publish reached the hub but the answer was lost', async () => {
    const name = unique('retry');
    let dropped = 0;
    // The hub takes the publish; the connection drops before its answer, once.
    const request = async (input: string, init: RequestInit): Promise<Response> => {
      const response = await fetch(input, init);
      const body = typeof init.body === 'string' ? decodeURIComponent(init.body) : '';
      if (init.method === 'POST' && dropped === 0 && body.includes('"once"')) {
        dropped++;
        throw new TypeError('the connection dropped before the answer');
      }
      return response;
    };
    const ada = await joinRoom(hub.url, name, { name: 'Ada', fetch: request });
    const bob = await joinRoom(hub.url, name, { name: 'Bob' });
    const bobLog = record(bob);
    await eventually(() => bob.status === 'open' && ada.peers.has(bob.self.id), 'both in the room');
    await ada.send(bob.self.id, 'once'); // Resolves once the retry has its answer.
    expect(dropped).toBe(1);
    await ada.send(bob.self.id, 'after');
    await eventually(() => bobLog.messages.some((m) => m.data === 'after'), 'the next message at bob');
    // The retry was the same update: the hub delivered it once.
    expect(bobLog.messages.map((m) => m.data)).toEqual(['once', 'after']);
    ada.leave();
    bob.leave();
  });

  it('converges concurrent patches of three peers, and starts a late joiner from the whole state', async () => {
    const name = unique('state');
    const names = ['a', 'b', 'c'];
    const peers = await Promise.all(names.map((n) => joinRoom(hub.url, name, { name: n })));
    await eventually(() => peers.every((p) => p.status === 'open'), 'peers connected');
    await Promise.all(
      peers.flatMap((peer, p) =>
        Array.from({ length: 20 }, (_, i) =>
          peer.state.patch({
            shared: { [`k${i % 4}`]: `${names[p]}:${i}` },
            [`only-${names[p]}`]: i,
            [`gone-${i % 3}`]: i % 2 ? null : names[p]!,
          }),
        ),
      ),
    );
    await eventually(() => peers.every((p) => p.state.version === 60), 'every patch everywhere');
    const [first, ...rest] = peers.map((p) => p.state.value);
    for (const value of rest) expect(value).toEqual(first);
    expect(first).toMatchObject({ 'only-a': 19, 'only-b': 19, 'only-c': 19 });

    const late = await joinRoom(hub.url, name);
    expect(late.state.version).toBe(60);
    expect(late.state.value).toEqual(first);
    for (const p of [...peers, late]) p.leave();
  });

  it('undoes a patch the hub refuses, and rejects it', async () => {
    const room = await joinRoom(hub.url, unique('refused'));
    const changes: string[] = [];
    room.state.on('change', ({ source }) => changes.push(source));
    await room.state.patch({ a: 'x'.repeat(60_000) });
    await room.state.patch({ b: 'x'.repeat(60_000) });
    await room.state.patch({ c: 'x'.repeat(60_000) });
    await room.state.patch({ d: 'x'.repeat(60_000) });
    await expect(room.state.patch({ e: 'x'.repeat(60_000) })).rejects.toMatchObject({ status: 413 });
    expect(Object.keys(room.state.value)).toEqual(['a', 'b', 'c', 'd']);
    expect(changes.at(-1)).toBe('remote');
    room.leave();
  });

  it('sends the patches the hub has not confirmed once more when the peer leaves, in order', async () => {
    const name = unique('leaving');
    let held = 0;
    const keepalive: unknown[] = [];
    // As a page going away: its state write never completes, and leaving cancels it.
    const request = (input: string, init: RequestInit): Promise<Response> => {
      if (init.method === 'POST' && input.endsWith('/state')) {
        if (init.keepalive) keepalive.push(JSON.parse(new TextDecoder().decode(init.body as Uint8Array)));
        else {
          held++;
          return new Promise((_, reject) => {
            init.signal?.addEventListener('abort', () => reject(init.signal?.reason));
          });
        }
      }
      return fetch(input, init);
    };
    const leaving = await joinRoom(hub.url, name, { fetch: request });
    const first = leaving.state.patch({ list: { a: 'first' } });
    const second = leaving.state.patch({ list: { a: 'second', b: 'x' } });
    const third = leaving.state.patch({ list: { b: null } });
    await eventually(() => held === 1, 'the first write in flight');
    leaving.leave();
    await expect(Promise.all([first, second, third])).rejects.toMatchObject({ code: 'aborted' });
    expect(keepalive).toHaveLength(1);
    const watcher = await joinRoom(hub.url, name);
    await eventually(() => watcher.state.version === 3, 'the three patches at the hub');
    expect(watcher.state.value).toEqual({ list: { a: 'second' } });
    watcher.leave();
  });
});

describe('token renewal', () => {
  it('renews the peer token before it expires: same peer id, no leave seen, messages still flow', async () => {
    const hub = await startRoomsHub({ SSEHUB_ROOMS_TOKEN_TTL: '10' });
    try {
      const name = unique('renew');
      const ada = await joinRoom(hub.url, name, { leaveGrace: 1000 });
      const bob = await joinRoom(hub.url, name, { leaveGrace: 1000 });
      const adaLog = record(ada);
      const bobLog = record(bob);
      await eventually(() => ada.peers.has(bob.self.id) && bob.peers.has(ada.self.id), 'both present');
      const ids = [ada.self.id, bob.self.id];
      // Two lifetimes and a half: without renewal the hub closes both streams at expiry.
      await new Promise((resolve) => setTimeout(resolve, 25_000));
      await ada.send(bob.self.id, 'still here');
      await eventually(() => bobLog.messages.length === 1, 'the message after renewals');
      expect([ada.self.id, bob.self.id]).toEqual(ids);
      expect([adaLog.leaves, bobLog.leaves, adaLog.selves, bobLog.selves]).toEqual([[], [], 0, 0]);
      ada.leave();
      bob.leave();
    } finally {
      await hub.stop();
    }
  }, 45_000);
});

describe('hub restarts', () => {
  async function survive(hub: RestartableHub, expectSameEpoch: boolean) {
    const name = unique('restart');
    const ada = await joinRoom(hub.url, name, { name: 'Ada' });
    const bob = await joinRoom(hub.url, name, { name: 'Bob' });
    const adaLog = record(ada);
    const bobLog = record(bob);
    await eventually(() => ada.peers.has(bob.self.id) && bob.peers.has(ada.self.id), 'both present');
    await ada.state.patch({ items: { one: 'from ada' } });
    await bob.state.patch({ items: { two: 'from bob' } });
    await eventually(() => ada.state.version === 2 && bob.state.version === 2, 'both patches everywhere');
    const epoch = ada.state.epoch;
    const ids = [ada.self.id, bob.self.id];

    await hub.stop();
    await hub.start();
    await eventually(() => ada.status === 'open' && bob.status === 'open', 'both back', 15_000);
    // A change made after the restart reaches the other side, on top of the state from before.
    await bob.state.patch({ items: { three: 'after the restart' } });
    const expected = { items: { one: 'from ada', two: 'from bob', three: 'after the restart' } };
    await eventually(
      () => JSON.stringify(ada.state.value) === JSON.stringify(expected),
      'ada has everything',
      10_000,
    );
    expect(bob.state.value).toEqual(expected);
    await ada.send(bob.self.id, 'signals flow');
    await eventually(
      () => bobLog.messages.some((m) => m.data === 'signals flow'),
      'a message after the restart',
    );
    expect([ada.self.id, bob.self.id]).toEqual(ids);
    expect([adaLog.leaves, bobLog.leaves]).toEqual([[], []]);
    expect(ada.state.epoch === epoch).toBe(expectSameEpoch);
    const late = await joinRoom(hub.url, name);
    expect(late.state.value).toEqual(expected);
    return { ada, bob, late, adaLog, bobLog };
  }

  it('memory broker: history is gone, so peers resynchronize and give the state back', async () => {
    const hub = await startRoomsHub();
    try {
      const { ada, bob, late, adaLog, bobLog } = await survive(hub, false);
      expect(adaLog.resyncs + bobLog.resyncs).toBeGreaterThanOrEqual(2);
      for (const r of [ada, bob, late]) r.leave();
    } finally {
      await hub.stop();
    }
  }, 40_000);

  it('a new signing key: tokens are refused, so peers join again under new ids and find each other', async () => {
    const hub = await startRoomsHub();
    try {
      const name = unique('rekey');
      const graces = { leaveGrace: 500, resyncGrace: 2000 };
      const ada = await joinRoom(hub.url, name, { name: 'Ada', ...graces });
      const bob = await joinRoom(hub.url, name, { name: 'Bob', ...graces });
      const [adaLog, bobLog] = [record(ada), record(bob)];
      await eventually(() => ada.peers.has(bob.self.id) && bob.peers.has(ada.self.id), 'both present');
      await ada.state.patch({ kept: 'across the new key' });
      const old = [ada.self.id, bob.self.id];

      await hub.stop();
      await hub.start({ SSEHUB_JWT_KEY: 'another-key-after-the-restart-0123456789' });
      await eventually(() => adaLog.selves === 1 && bobLog.selves === 1, 'both joined again', 15_000);
      expect(ada.self.id).not.toBe(old[0]);
      expect(bob.self.id).not.toBe(old[1]);
      await eventually(
        () => ada.peers.has(bob.self.id) && bob.peers.has(ada.self.id),
        'present under the new ids',
        15_000,
      );
      // The old ids go once the resynchronization grace is over.
      await eventually(() => ada.peers.size === 1 && bob.peers.size === 1, 'the old ids gone', 5000);
      expect(adaLog.leaves).toEqual([old[1]]);
      expect(bob.state.value).toEqual({ kept: 'across the new key' });
      await bob.send(ada.self.id, 'hello again');
      await eventually(
        () => adaLog.messages.some((m) => m.data === 'hello again'),
        'a message to the new id',
      );
      ada.leave();
      bob.leave();
    } finally {
      await hub.stop();
    }
  }, 40_000);

  describe.skipIf(skipRedis)('with Redis', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(() => redis?.dispose());

    it('the hub rebuilds the state from the log, and peers resume without a gap', async () => {
      const hub = await startRoomsHub({ SSEHUB_REDIS_URL: redis.url, SSEHUB_REDIS_KEY: unique('rooms') });
      try {
        const { ada, bob, late, adaLog, bobLog } = await survive(hub, true);
        expect(adaLog.resyncs + bobLog.resyncs).toBe(0);
        for (const r of [ada, bob, late]) r.leave();
      } finally {
        await hub.stop();
      }
    }, 40_000);
  });
});
