import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PresenceTracker } from './room-presence.ts';

const event = (fields: Record<string, unknown>) =>
  JSON.stringify({ type: 'subscription', match_type: 'exact', ...fields });
const inbox = (peer: string, room = 'r') => `/rooms/${room}/peers/${peer}`;
const presence = (peer: string, subscriber: string, active: boolean, extra: Record<string, unknown> = {}) =>
  event({
    match: inbox(peer),
    subscriber,
    active,
    payload: { room: 'r', peer, name: peer.toUpperCase() },
    ...extra,
  });

describe('PresenceTracker', () => {
  let joins: string[];
  let leaves: string[];
  let tracker: PresenceTracker;
  beforeEach(() => {
    vi.useFakeTimers();
    joins = [];
    leaves = [];
    tracker = new PresenceTracker(
      'r',
      'me',
      { leaveGrace: 1000, resyncGrace: 5000 },
      (p) => joins.push(p.id),
      (p) => leaves.push(p.id),
    );
  });
  afterEach(() => {
    tracker.close();
    vi.useRealTimers();
  });

  it('announces a peer when its inbox subscription starts, with the name of its token', () => {
    tracker.handle(presence('ann', 's1', true));
    expect(joins).toEqual(['ann']);
    expect(tracker.peers.get('ann')).toEqual({ id: 'ann', name: 'ANN' });
  });

  it('ignores what is not presence of this room: other rooms, foreign inboxes, no payload, itself, garbage', () => {
    tracker.handle(
      event({
        match: inbox('ann', 'other'),
        subscriber: 's',
        active: true,
        payload: { room: 'other', peer: 'ann' },
      }),
    );
    // Someone subscribing to Ann's inbox is not Ann (and cannot read it).
    tracker.handle(
      event({ match: inbox('ann'), subscriber: 's', active: true, payload: { room: 'r', peer: 'eve' } }),
    );
    tracker.handle(event({ match: inbox('ghost'), subscriber: 's', active: true }));
    tracker.handle(
      event({ match: inbox('me'), subscriber: 's', active: true, payload: { room: 'r', peer: 'me' } }),
    );
    tracker.handle(
      event({
        match: inbox('bad id'),
        subscriber: 's',
        active: true,
        payload: { room: 'r', peer: 'bad id' },
      }),
    );
    tracker.handle(presence('ann', 's', true, { match_type: 'urlpattern' }));
    tracker.handle('not json');
    expect(joins).toEqual([]);
    expect(tracker.peers.size).toBe(0);
  });

  it('reports a leave only after the grace, and not at all when the peer reconnects within it', () => {
    tracker.handle(presence('ann', 's1', true));
    tracker.handle(presence('ann', 's1', false));
    vi.advanceTimersByTime(900);
    tracker.handle(presence('ann', 's2', true)); // A reconnection (e.g. a token renewal).
    vi.advanceTimersByTime(5000);
    expect(leaves).toEqual([]);
    tracker.handle(presence('ann', 's2', false));
    vi.advanceTimersByTime(999);
    expect(leaves).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(leaves).toEqual(['ann']);
    expect(tracker.peers.size).toBe(0);
  });

  it('keeps a peer while any of its connections is open', () => {
    tracker.handle(presence('ann', 's1', true));
    tracker.handle(presence('ann', 's2', true));
    tracker.handle(presence('ann', 's1', false));
    vi.advanceTimersByTime(10_000);
    expect(tracker.peers.has('ann')).toBe(true);
    expect(joins).toEqual(['ann']);
  });

  it('after a resynchronization, gives peers missing from the hub the longer grace', () => {
    tracker.reconcile(
      [
        { id: 'ann', subscribers: ['s1'] },
        { id: 'bob', subscribers: ['s2'] },
      ],
      true,
    );
    expect(joins).toEqual([]); // Present from the start: not announced.
    tracker.reconcile(
      [
        { id: 'ann', subscribers: ['s3'] },
        { id: 'cy', subscribers: ['s4'] },
      ],
      false,
    );
    expect(joins).toEqual(['cy']);
    vi.advanceTimersByTime(4999);
    tracker.handle(presence('bob', 's5', true)); // Bob made it back in time.
    vi.advanceTimersByTime(10_000);
    expect(leaves).toEqual([]);
    expect([...tracker.peers.keys()].sort()).toEqual(['ann', 'bob', 'cy']);
  });
});
