import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBroker, subscriptionUpdate } from '../brokers/index.ts';
import { subscriptionTopic } from '../hub/index.ts';
import { inboxTopic, type PresentPeer } from '../room-protocol/index.ts';
import { Seats } from './seats.ts';

const HUB = '/.well-known/mercure';
const ROOM = 'r';

/** Seats over a memory broker, a registry that is a plain map, and a clock the test moves. */
function setup(maxPeers: number) {
  const broker = createMemoryBroker();
  const present = new Map<string, PresentPeer>();
  let now = 1_000_000;
  let beforeList: (() => Promise<void>) | undefined;
  const seats = new Seats(broker, {
    maxPeers,
    hubPath: HUB,
    holdMs: 30_000,
    now: () => now,
    present: async () => {
      await beforeList?.();
      return new Map(present);
    },
  });
  /** The hub records `peer`'s stream: in the registry, then its `active: true` event. */
  const arrive = async (peer: string) => {
    present.set(peer, { id: peer, subscribers: [`urn:uuid:${peer}`] });
    await announce(peer);
  };
  const announce = async (peer: string) => {
    const match = inboxTopic(ROOM, peer);
    const id = subscriptionTopic(HUB, 'exact', match, `urn:uuid:${peer}`);
    const subscription = {
      id,
      type: 'subscription' as const,
      match_type: 'exact' as const,
      match,
      subscriber: `urn:uuid:${peer}`,
      active: true,
      payload: { room: ROOM, peer },
    };
    await broker.publish(subscriptionUpdate(subscription, true));
  };
  return {
    seats,
    present,
    arrive,
    announce,
    leave: (peer: string) => present.delete(peer),
    advance: (ms: number) => {
      now += ms;
    },
    /** Runs `step` at the start of every registry read (none: undefined). */
    slowList: (step: (() => Promise<void>) | undefined) => {
      beforeList = step;
    },
  };
}

let current: ReturnType<typeof setup> | undefined;
const start = (maxPeers: number) => {
  current = setup(maxPeers);
  return current;
};
afterEach(() => current?.seats.close());

describe('Seats', () => {
  it('counts a seat taken at join until its peer arrives, and lets it lapse if it never does', async () => {
    const { seats, advance } = start(1);
    await seats.claim(ROOM, 'ada');
    await expect(seats.claim(ROOM, 'bob')).rejects.toMatchObject({ status: 409 });
    advance(29_999);
    await expect(seats.claim(ROOM, 'bob')).rejects.toMatchObject({ status: 409 });
    advance(1);
    await seats.claim(ROOM, 'bob');
  });

  it('frees the seat of a peer that arrived and left, without waiting for it to lapse', async () => {
    const { seats, arrive, leave } = start(1);
    await seats.claim(ROOM, 'ada');
    await arrive('ada');
    await expect(seats.claim(ROOM, 'bob')).rejects.toMatchObject({ status: 409 });
    leave('ada');
    await seats.claim(ROOM, 'bob');
  });

  it('admits a present peer again (renewal, second connection) even in a full room', async () => {
    const { seats, arrive } = start(1);
    await seats.claim(ROOM, 'ada');
    await arrive('ada');
    await arrive('bob'); // Over the limit through another instance, say.
    expect([...(await seats.claim(ROOM, 'ada')).keys()]).toEqual(['ada', 'bob']);
    await expect(seats.claim(ROOM, 'cy')).rejects.toMatchObject({ status: 409 });
  });

  it('runs the claims of a room one at a time: concurrent joins never share the last seat', async () => {
    const { seats, slowList } = start(3);
    slowList(() => new Promise((resolve) => setTimeout(resolve, 1)));
    const results = await Promise.allSettled(
      ['a', 'b', 'c', 'd', 'e'].map((peer) => seats.claim(ROOM, peer)),
    );
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
      'rejected',
    ]);
    // Another room is another count.
    await seats.claim('other', 'a');
  });

  it('takes no new seat for a peer whose presence is recorded while the registry is read', async () => {
    const { seats, present, announce, slowList, leave } = start(1);
    await seats.claim(ROOM, 'ada');
    // A renewal whose registry read misses ada, who arrives meanwhile (its event comes after the read).
    slowList(async () => {
      slowList(undefined);
      present.set('ada', { id: 'ada', subscribers: ['urn:uuid:ada'] });
      await announce('ada');
      present.delete('ada');
    });
    await seats.claim(ROOM, 'ada');
    leave('ada');
    // ada's seat went with its arrival; had the renewal taken a new one, bob would wait 30 s.
    await seats.claim(ROOM, 'bob');
  });
});
