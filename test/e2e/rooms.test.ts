/**
 * The demo video call in real headless Chromium with fake camera and microphone, on the Node hub:
 * two peers; three peers in a full mesh, one leaving and coming back; the shared checklist converging
 * and reaching a late joiner; and the hub restarting under a running call (the peers give the shared
 * notes back to the hub, which lost them).
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { CHROMIUM, launchChromium, mediaFlags } from '../helpers/browser.ts';
import { available } from '../helpers/require.ts';
import { join, type RestartableHub, startRoomsHub } from '../helpers/rooms.ts';
import {
  addItem,
  chat,
  checklist,
  connectionState,
  framesDecoded,
  openDemo,
  type Peer,
  screenshot,
  waitForChat,
  waitForFrames,
  waitForPeers,
} from './demo-driver.ts';
import { twoPeerCall } from './rooms-scenarios.ts';

const hasChromium = available('Chromium', CHROMIUM);

describe.skipIf(!hasChromium)('demo call on the Node hub', () => {
  twoPeerCall('node', () => startRoomsHub());
});

/** The room's "notes" document as the hub serves it to a new peer (what a late joiner starts from). */
async function hubNotes(base: string, room: string): Promise<string> {
  const { answer } = await join(base, room);
  const response = await fetch(`${base}/rooms/${room}/docs/notes`, {
    headers: { authorization: `Bearer ${answer.token}` },
  });
  const doc = new Y.Doc();
  Y.applyUpdate(doc, new Uint8Array(await response.arrayBuffer()));
  return doc.getText('notes').toString();
}

/** Every peer sees all the others and decodes video from each of them. */
async function fullMesh(peers: Peer[]): Promise<void> {
  const ids = await Promise.all(peers.map((p) => p.id()));
  for (const [i, peer] of peers.entries()) {
    const others = ids.filter((_, j) => j !== i);
    await waitForPeers(peer, others);
    for (const other of others) await waitForFrames(peer, other);
  }
}

describe.skipIf(!hasChromium)('three peers', () => {
  let hub: RestartableHub;
  let browser: Browser;
  const room = `mesh-${crypto.randomUUID().slice(0, 6)}`;
  let ada: Peer;
  let bob: Peer;
  let cy: Peer;

  beforeAll(async () => {
    [hub, browser] = await Promise.all([startRoomsHub(), launchChromium(mediaFlags)]);
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('form a full mesh: everyone sees and decodes everyone', async () => {
    ada = await openDemo(browser, hub.url, room, 'Ada');
    bob = await openDemo(browser, hub.url, room, 'Bob');
    cy = await openDemo(browser, hub.url, room, 'Cy');
    await fullMesh([ada, bob, cy]);
  }, 90_000);

  it('converge on concurrent checklist changes', async () => {
    // The same instant on two pages, and quick successive changes from the third.
    await Promise.all([
      ada.page.evaluate(() =>
        Promise.all(
          [1, 2, 3].map((i) =>
            window.demo.room.state.patch({ items: { [`a${i}`]: { text: `Ada ${i}`, done: false, at: i } } }),
          ),
        ),
      ),
      bob.page.evaluate(() =>
        Promise.all(
          [1, 2, 3].map((i) =>
            window.demo.room.state.patch({
              items: { [`b${i}`]: { text: `Bob ${i}`, done: false, at: 10 + i } },
            }),
          ),
        ),
      ),
      addItem(cy, 'Cy from the form'),
    ]);
    await Promise.all([
      ada.page.evaluate(() => window.demo.room.state.patch({ items: { b1: { done: true } } })),
      bob.page.evaluate(() =>
        window.demo.room.state.patch({ items: { b1: { done: false, text: 'Bob 1, edited' } } }),
      ),
      cy.page.evaluate(() => window.demo.room.state.patch({ items: { a2: null } })),
    ]);
    const versionOf = (p: Peer) => p.page.evaluate(() => window.demo.room.state.version);
    for (const p of [ada, bob, cy]) await p.page.waitForFunction(() => window.demo.room.state.version === 10);
    const lists = await Promise.all(
      [ada, bob, cy].map(async (p) => {
        await p.page.click('.tab[data-tab=checklist]');
        return checklist(p);
      }),
    );
    const [first, ...others] = lists as [
      Awaited<ReturnType<typeof checklist>>,
      ...Array<Awaited<ReturnType<typeof checklist>>>,
    ];
    for (const list of others) expect(list).toEqual(first);
    expect(first.map((i) => i.text)).toEqual([
      'Ada 1',
      'Ada 3',
      'Bob 1, edited',
      'Bob 2',
      'Bob 3',
      'Cy from the form',
    ]);
    expect(await Promise.all([ada, bob, cy].map(versionOf))).toEqual([10, 10, 10]);
  }, 60_000);

  it('see a peer that closes its tab leave within 10 s, and keep their call running', async () => {
    const [adaId, bobId, cyId] = [await ada.id(), await bob.id(), await cy.id()];
    const before = await framesDecoded(ada, bobId);
    const closed = Date.now();
    await cy.context.close();
    await Promise.all([waitForPeers(ada, [bobId], 10_000), waitForPeers(bob, [adaId], 10_000)]);
    const elapsed = Date.now() - closed;
    expect(elapsed).toBeLessThan(10_000);
    console.log(`a closed tab was seen leaving after ${elapsed} ms`);
    await ada.page.waitForSelector(`.tile[data-peer="${cyId}"]`, { state: 'detached' });
    // Ada and Bob still talk: frames keep coming, the connection stays up.
    await waitForFrames(ada, bobId, before);
    await waitForFrames(bob, adaId, await framesDecoded(bob, adaId));
    expect(await connectionState(ada, bobId)).toBe('connected');
  }, 60_000);

  it('heal the mesh when the peer comes back, which starts from the whole checklist', async () => {
    const expected = await checklist(ada);
    cy = await openDemo(browser, hub.url, room, 'Cy');
    await cy.page.click('.tab[data-tab=checklist]');
    // The late joiner shows the full state at once (from its join answer), not after a replay.
    expect(await checklist(cy)).toEqual(expected);
    await fullMesh([ada, bob, cy]);
    await chat(cy, 'Back again');
    await waitForChat(ada, 'Back again');
    await waitForChat(bob, 'Back again');
    await addItem(ada, 'Ship the demo');
    await ada.page.click('.tab[data-tab=chat]');
    await chat(bob, 'The checklist is in the side panel');
    await cy.page.waitForSelector('[data-item] .text:text("Ship the demo")', { state: 'attached' });
    await screenshot(cy, 'demo-three-peers');
    expect([...ada.errors, ...bob.errors, ...cy.errors]).toEqual([]);
  }, 90_000);
});

describe.skipIf(!hasChromium)('hub restart under a call', () => {
  let hub: RestartableHub;
  let browser: Browser;
  const room = `restart-${crypto.randomUUID().slice(0, 6)}`;

  beforeAll(async () => {
    [hub, browser] = await Promise.all([startRoomsHub(), launchChromium(mediaFlags)]);
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('keeps the call up, the peers, and the state; signaling and state changes flow again after it', async () => {
    const ada = await openDemo(browser, hub.url, room, 'Ada');
    const bob = await openDemo(browser, hub.url, room, 'Bob');
    const [adaId, bobId] = [await ada.id(), await bob.id()];
    await fullMesh([ada, bob]);
    await addItem(ada, 'Before the restart');
    await ada.page.click('.tab[data-tab=notes]');
    await ada.page.type('#notes-input', 'Notes from before the restart');
    await bob.page.waitForFunction(
      () => window.demo.notes.doc.getText('notes').toString() === 'Notes from before the restart',
    );
    await bob.page.waitForSelector('[data-item] .text:text("Before the restart")', { state: 'attached' });
    for (const p of [ada, bob]) {
      await p.page.evaluate(() => {
        const log: string[] = [];
        window.testLog = log;
        window.demo.room.on('leave', (peer) => log.push(`leave ${peer.id}`));
        window.demo.room.on('self', () => log.push('self'));
        window.demo.room.on('status', (status) => log.push(`status ${status}`));
      });
    }

    // The memory broker's history is gone with the process: clients must notice and resynchronize.
    await hub.stop();
    await ada.page.waitForFunction(() => window.demo.room.status === 'reconnecting');
    const during = await framesDecoded(ada, bobId);
    await waitForFrames(ada, bobId, during); // Media does not go through the hub.
    await hub.start();
    for (const p of [ada, bob])
      await p.page.waitForFunction(() => window.demo.room.status === 'open', undefined, { timeout: 20_000 });

    await addItem(bob, 'After the restart');
    for (const p of [ada, bob]) {
      await p.page.waitForSelector('[data-item] .text:text("After the restart")', {
        state: 'attached',
        timeout: 15_000,
      });
    }
    expect((await checklist(ada)).map((i) => i.text)).toEqual(['Before the restart', 'After the restart']);
    expect(await checklist(bob)).toEqual(await checklist(ada));
    // The hub lost the notes with its memory; the peers gave them back when they synced again.
    await expect
      .poll(() => hubNotes(hub.url, room), { timeout: 15_000, interval: 200 })
      .toBe('Notes from before the restart');
    await chat(ada, 'Still here?');
    await waitForChat(bob, 'Still here?');
    expect([await ada.id(), await bob.id()]).toEqual([adaId, bobId]);
    expect(await connectionState(ada, bobId)).toBe('connected');
    // A renegotiation through the restarted hub works: Bob adds a track, the offer and answer cross it.
    await bob.page.evaluate(async () => {
      const extra = await navigator.mediaDevices.getUserMedia({ video: true });
      window.demo.call.addStream(extra);
    });
    await ada.page.waitForFunction(
      (id) => (window.demo.call.peers.get(id)?.stream.getVideoTracks().length ?? 0) >= 2,
      bobId,
      { timeout: 15_000 },
    );
    for (const p of [ada, bob]) {
      const log = await p.page.evaluate(() => window.testLog);
      expect(log.filter((l) => !l.startsWith('status'))).toEqual([]);
      expect(log).toContain('status open');
    }
    expect([...ada.errors, ...bob.errors]).toEqual([]);
  }, 120_000);
});
