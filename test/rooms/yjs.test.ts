/**
 * The Yjs provider (`ssehub/client/yjs`) from Node against a real hub: what a peer leaving the room
 * does with changes the hub has not confirmed yet. A tab closed or reloaded right after an edit
 * leaves the room with the edit's request still in flight; the provider sends it again as a
 * keepalive request, which outlives the page, so the document keeps the edit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinRoom } from '../../src/client/index.ts';
import { type DocSync, syncDoc, Y } from '../../src/client/yjs/index.ts';
import { type RestartableHub, startRoomsHub } from '../helpers/rooms.ts';
import { eventually } from '../helpers/sse.ts';

const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

/** A fetch that records document writes and holds the ordinary ones until the room cancels them. */
function holdingFetch() {
  const writes = { held: 0, keepalive: 0, sent: 0, answered: 0 };
  let holding = false;
  const request = (input: string, init: RequestInit): Promise<Response> => {
    if (init.method === 'POST' && input.includes('/docs/')) {
      if (init.keepalive) writes.keepalive++;
      else if (holding) {
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

async function open(url: string, room: string, name: string, fetch?: Fetch) {
  const peer = await joinRoom(url, room, { name, ...(fetch ? { fetch } : {}) });
  const doc = new Y.Doc();
  const sync: DocSync = syncDoc(peer, 'notes', doc, { awareness: false });
  await sync.whenSynced;
  return { peer, doc, text: () => doc.getText('notes').toString() };
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
    const bob = await open(hub.url, room, 'Bob', net.request);
    net.hold();
    bob.doc.getText('notes').insert(0, 'typed just before leaving');
    await eventually(() => net.writes.held === 1, 'the edit in flight');
    bob.peer.leave();
    expect(net.writes.keepalive).toBe(1);
    // Someone who comes later reads it from the hub.
    const ada = await open(hub.url, room, 'Ada');
    await eventually(() => ada.text() === 'typed just before leaving', 'the edit at the hub');
    ada.peer.leave();
  });

  it('sends nothing more when the hub has every change', async () => {
    const room = unique('yjs-leave');
    const net = holdingFetch();
    const bob = await open(hub.url, room, 'Bob', net.request);
    bob.doc.getText('notes').insert(0, 'confirmed');
    const ada = await open(hub.url, room, 'Ada');
    await eventually(() => ada.text() === 'confirmed', 'the edit at the hub');
    await eventually(() => net.writes.answered === 1, 'the write answered');
    // The provider takes the change off its queue once the answer is read.
    await new Promise((resolve) => setImmediate(resolve));
    bob.peer.leave();
    expect(net.writes).toEqual({ held: 0, keepalive: 0, sent: 1, answered: 1 });
    ada.peer.leave();
  });
});
