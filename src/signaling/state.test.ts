import { describe, expect, it } from 'vitest';
import type { Update } from '../brokers/index.ts';
import { createMemoryBroker } from '../brokers/index.ts';
import { HubError } from '../hub/index.ts';
import {
  applyStateEvent,
  parseStateEvent,
  type StateEvent,
  type StateSnapshot,
} from '../room-protocol/index.ts';
import { RoomStates } from './state.ts';

const limits = { maxStateBytes: 4096 };

/** Folds the room's state log as a client does, from the start. */
async function replay(broker: ReturnType<typeof createMemoryBroker>, room: string) {
  const { updates } = await broker.history('earliest');
  let state: StateSnapshot | undefined;
  for (const u of updates) {
    if (u.topics[0] !== `/rooms/${room}/state`) continue;
    state = applyStateEvent(state, parseStateEvent(u.data)!);
  }
  return state;
}

const stateUpdate = (room: string, id: string, event: StateEvent): Update => ({
  id,
  pos: '0',
  topics: [`/rooms/${room}/state`],
  data: JSON.stringify(event),
  private: true,
  type: 'state',
});

describe('RoomStates', () => {
  it('orders patches in the log and serves the snapshot with the id of the last update it includes', async () => {
    const broker = createMemoryBroker();
    const states = new RoomStates(broker, limits);
    await states.ready;
    const results = await Promise.all([
      states.patch('r', { a: 1 }, 'p', 'ref-1'),
      states.patch('r', { b: { c: 2 } }, 'q', 'ref-2'),
      states.patch('r', { a: null }, 'p', 'ref-3'),
    ]);
    expect(results.map((r) => r.version)).toEqual([1, 2, 3]);
    const { state, cursor } = states.snapshot('r');
    expect(state).toMatchObject({ version: 3, value: { b: { c: 2 } }, refs: ['ref-1', 'ref-2', 'ref-3'] });
    expect(cursor).toBe(await broker.lastEventId());
    // A client folding the log from the start agrees with the hub.
    expect(await replay(broker, 'r')).toEqual({ epoch: state!.epoch, version: 3, value: state!.value });
    states.close();
  });

  it('does not apply a ref twice', async () => {
    const states = new RoomStates(createMemoryBroker(), limits);
    await states.patch('r', { n: 1 }, 'p', 'same');
    const again = await states.patch('r', { n: 2 }, 'p', 'same');
    expect(again).toMatchObject({ duplicate: true, version: 1 });
    expect(states.snapshot('r').state?.value).toEqual({ n: 1 });
    states.close();
  });

  it('refuses with 413 a patch that would make the state too large, and keeps the state', async () => {
    const states = new RoomStates(createMemoryBroker(), limits);
    await states.patch('r', { a: 'x'.repeat(3000) }, 'p', '1');
    const error = await states.patch('r', { b: 'y'.repeat(2000) }, 'p', '2').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).status).toBe(413);
    expect(Object.keys(states.snapshot('r').state!.value)).toEqual(['a']);
    states.close();
  });

  it('restores into an untouched lineage only (409 otherwise)', async () => {
    const states = new RoomStates(createMemoryBroker(), limits);
    await states.ensure('r');
    const epoch = states.snapshot('r').state!.epoch;
    await expect(states.restore('r', 'not-this-one', { a: 1 }, 'p', 'x')).rejects.toMatchObject({
      status: 409,
    });
    await expect(states.restore('r', epoch, { kept: true }, 'p', 'r1')).resolves.toMatchObject({
      version: 1,
    });
    await expect(states.restore('r', epoch, { other: true }, 'q', 'r2')).rejects.toMatchObject({
      status: 409,
    });
    expect(states.snapshot('r').state?.value).toEqual({ kept: true });
    states.close();
  });

  it('writes the whole state into the log once patches outweigh it, and a new instance rebuilds from it', async () => {
    const broker = createMemoryBroker({ historySize: 1000 });
    const states = new RoomStates(broker, { maxStateBytes: 64 * 1024 });
    for (let i = 0; i < 200; i++)
      await states.patch('r', { counter: i, [`k${i % 5}`]: 'v'.repeat(50) }, 'p', `ref-${i}`);
    const { updates } = await broker.history('earliest');
    const kinds = updates.map((u) => (JSON.parse(u.data) as StateEvent).kind);
    expect(kinds.filter((k) => k === 'compact').length).toBeGreaterThan(0);
    const expected = states.snapshot('r').state!;
    states.close();

    // History keeps only the tail: the create and the first patches are gone; a compaction remains.
    const lastCompact = kinds.lastIndexOf('compact');
    const tail = updates.slice(Math.max(0, lastCompact - 3));
    const rebuilt = new RoomStates(createMemoryBroker({ initialHistory: tail }), {
      maxStateBytes: 64 * 1024,
    });
    await rebuilt.ready;
    const { state } = rebuilt.snapshot('r');
    expect(state).toMatchObject({ epoch: expected.epoch, version: expected.version, value: expected.value });
    rebuilt.close();
  });

  it('rebuilds from a compaction together with the patches that landed between its base and itself', async () => {
    const history = [
      stateUpdate('r', 'u1', { kind: 'create', epoch: 'e' }),
      stateUpdate('r', 'u2', { kind: 'patch', ref: '1', from: 'p', patch: { a: 1 } }),
      // Another instance's patch, ordered before the compaction computed as of u2.
      stateUpdate('r', 'u3', { kind: 'patch', ref: '2', from: 'q', patch: { b: 2 } }),
      stateUpdate('r', 'u4', { kind: 'compact', epoch: 'e', version: 1, state: { a: 1 }, through: 'u2' }),
      stateUpdate('r', 'u5', { kind: 'patch', ref: '3', from: 'p', patch: { c: 3 } }),
    ];
    const states = new RoomStates(createMemoryBroker({ initialHistory: history.slice(1) }), limits);
    await states.ready;
    expect(states.snapshot('r').state).toMatchObject({ epoch: 'e', version: 3, value: { a: 1, b: 2, c: 3 } });
    expect(states.snapshot('r').cursor).toBe('u5');
    states.close();
  });

  it('leaves a room unknown when only patches are left in history, and starts a new lineage on demand', async () => {
    const history = [stateUpdate('r', 'u9', { kind: 'patch', ref: '9', from: 'p', patch: { late: true } })];
    const broker = createMemoryBroker({ initialHistory: history });
    const states = new RoomStates(broker, limits);
    await states.ready;
    expect(states.snapshot('r').state).toBeUndefined();
    await states.ensure('r');
    expect(states.snapshot('r').state).toMatchObject({ version: 0, value: {} });
    states.close();
  });

  it('forgets the least recently used room beyond its capacity', async () => {
    const states = new RoomStates(createMemoryBroker(), { ...limits, maxRooms: 2 });
    await states.patch('a', { x: 1 }, null, '1');
    await states.patch('b', { x: 1 }, null, '2');
    states.snapshot('a'); // a is now more recent than b
    await states.patch('c', { x: 1 }, null, '3');
    expect(states.snapshot('b').state).toBeUndefined();
    expect(states.snapshot('a').state?.value).toEqual({ x: 1 });
    states.close();
  });
});
