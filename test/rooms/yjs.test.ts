/**
 * The Yjs provider (`ssehub/client/yjs`) from Node against a real hub: what becomes of changes the
 * hub has not logged yet when their author leaves. A tab closed or reloaded right after an edit
 * leaves the room with the edit's request still in flight; the provider sends it again as a
 * keepalive request, which outlives the page. A page that dies without sending it may still have
 * shown the edit to its peers over a data channel: one of them sends it to the hub.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Call, joinRoom, type Room } from '../../src/client/index.ts';
import { type DocSync, syncDoc, Y } from '../../src/client/yjs/index.ts';
import { type RestartableHub, startRoomsHub } from '../helpers/rooms.ts';
import { eventually } from '../helpers/sse.ts';

const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

/**
 * A fetch that records document writes and holds the ordinary ones until the room cancels them; with
 * `dead`, keepalive requests fail too (a page that crashed sends nothing more).
 */
function holdingFetch(dead = false) {
  const writes = { held: 0, keepalive: 0, sent: 0, answered: 0 };
  let holding = false;
  const request = (input: string, init: RequestInit): Promise<Response> => {
    if (init.method === 'POST' && input.includes('/docs/')) {
      if (init.keepalive) {
        writes.keepalive++;
        if (dead) return Promise.reject(new TypeError('the page is gone'));
      } else if (holding) {
        writes.held++;
        // As a page going away: the request never completes, and leaving the room cancels it.
        return new Promise((_, reject) => {
          init.signal?.addEventListener('abort', () => reject(init.signal?.reason));
        });
      } else {
        writes.sent++;
        return fetch(input, init).then((response) => {
          writes.answered++;
          return response;
        });
      }
    }
    return fetch(input, init);
  };
  return {
    writes,
    request,
    hold: () => {
      holding = true;
    },
  };
}

type Fetch = (input: string, init: RequestInit) => Promise<Response>;

const join = (url: string, room: string, name: string, fetch?: Fetch) =>
  joinRoom(url, room, { name, leaveGrace: 300, ...(fetch ? { fetch } : {}) });

async function open(peer: Room, call?: Call) {
  const doc = new Y.Doc();
  const sync: DocSync = syncDoc(peer, 'notes', doc, { awareness: false, ...(call ? { call } : {}) });
  await sync.whenSynced;
  return { peer, doc, text: () => doc.getText('notes').toString() };
}

/** Stand-ins for the calls of two peers whose data channel is open (what the provider uses of them). */
function linked(a: Room, b: Room): [Call, Call] {
  const listeners = new Map<Room, Set<(event: { peer: { id: string }; data: string }) => void>>([
    [a, new Set()],
    [b, new Set()],
  ]);
  const callOf = (self: Room, other: Room) => {
    const deliver = (data: string) =>
      setTimeout(() => {
        for (const listener of listeners.get(other)!) listener({ peer: { id: self.self.id }, data });
      });
    return {
      peers: new Map([[other.self.id, { channel: { readyState: 'open' } }]]),
      on: (_type: 'data', listener: (event: { peer: { id: string }; data: string }) => void) => {
        listeners.get(self)!.add(listener);
        return () => listeners.get(self)!.delete(listener);
      },
      send: (_id: string, data: string) => {
        deliver(data);
        return true;
      },
      broadcast: (data: string) => {
        deliver(data);
        return 1;
      },
    } as unknown as Call;
  };
  return [callOf(a, b), callOf(b, a)];
}

describe('the Yjs provider, leaving a room', () => {
  let hub: RestartableHub;
  beforeAll(async () => {
    hub = await startRoomsHub();
  });
  afterAll(() => hub?.stop());

  it('sends an edit whose request was still in flight once more, and the hub keeps it', async () => {
    const room = unique('yjs-leave');
    const net = holdingFetch();
    const bob = await open(await join(hub.url, room, 'Bob', net.request));
    net.hold();
    bob.doc.getText('notes').insert(0, 'typed just before leaving');
    await eventually(() => net.writes.held === 1, 'the edit in flight');
    bob.peer.leave();
    expect(net.writes.keepalive).toBe(1);
    // Someone who comes later reads it from the hub.
    const ada = await open(await join(hub.url, room, 'Ada'));
    await eventually(() => ada.text() === 'typed just before leaving', 'the edit at the hub');
    ada.peer.leave();
  });

  it('sends nothing more when the hub has every change', async () => {
    const room = unique('yjs-leave');
    const net = holdingFetch();
    const bob = await open(await join(hub.url, room, 'Bob', net.request));
    bob.doc.getText('notes').insert(0, 'confirmed');
    const ada = await open(await join(hub.url, room, 'Ada'));
    await eventually(() => ada.text() === 'confirmed', 'the edit at the hub');
    await eventually(() => net.writes.answered === 1, 'the write answered');
    // The provider takes the change off its queue once the answer is read.
    await new Promise((resolve) => setImmediate(resolve));
    bob.peer.leave();
    expect(net.writes).toEqual({ held: 0, keepalive: 0, sent: 1, answered: 1 });
    ada.peer.leave();
  });

  it('a peer that saw an edit over the data channel sends it to the hub when its author died without', async () => {
    const room = unique('yjs-died');
    const bobNet = holdingFetch(true);
    const adaNet = holdingFetch();
    const [adaRoom, bobRoom] = await Promise.all([
      join(hub.url, room, 'Ada', adaNet.request),
      join(hub.url, room, 'Bob', bobNet.request),
    ]);
    const [adaCall, bobCall] = linked(adaRoom, bobRoom);
    const [ada, bob] = await Promise.all([open(adaRoom, adaCall), open(bobRoom, bobCall)]);
    await eventually(() => adaRoom.peers.has(bobRoom.self.id), 'Ada sees Bob');
    bobNet.hold();
    bob.doc.getText('notes').insert(0, 'seen by Ada only');
    await eventually(() => ada.text() === 'seen by Ada only', 'the edit over the data channel');
    expect(bobNet.writes.held).toBe(1);
    bob.peer.leave();
    expect(bobNet.writes.keepalive).toBe(1); // and it failed
    const cy = await open(await join(hub.url, room, 'Cy'));
    await eventually(() => cy.text() === 'seen by Ada only', 'the edit at the hub, from Ada');
    expect(adaNet.writes.sent).toBe(1);
    for (const peer of [ada, cy]) peer.peer.leave();
  });

  it('sends nothing for a peer that left when the hub has its changes', async () => {
    const room = unique('yjs-left');
    const adaNet = holdingFetch();
    const [adaRoom, bobRoom] = await Promise.all([
      join(hub.url, room, 'Ada', adaNet.request),
      join(hub.url, room, 'Bob'),
    ]);
    const [adaCall, bobCall] = linked(adaRoom, bobRoom);
    const [ada, bob] = await Promise.all([open(adaRoom, adaCall), open(bobRoom, bobCall)]);
    await eventually(() => adaRoom.peers.has(bobRoom.self.id), 'Ada sees Bob');
    bob.doc.getText('notes').insert(0, 'logged');
    await eventually(() => ada.text() === 'logged', 'the edit over the data channel');
    const cy = await open(await join(hub.url, room, 'Cy'));
    await eventually(() => cy.text() === 'logged', 'the edit at the hub');
    let left = 0;
    adaRoom.on('leave', () => left++);
    bob.peer.leave();
    await eventually(() => left === 1, 'Ada sees Bob leave');
    // Past the longest wait before Ada would send (2 s): nothing went out.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(adaNet.writes.sent).toBe(0);
    for (const peer of [ada, cy]) peer.peer.leave();
  });
});
