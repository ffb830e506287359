/**
 * The demo's shared notes (a Yjs document synced over the room) in real Chromium, against any hub
 * that can restart with its history: two, then three browsers edit the same text at the same time
 * and converge; a late joiner and a reloaded page show the whole text, even an edit the page made as it
 * went away; and a hub restart with every
 * page closed loses nothing (the document comes back from history). The Node hub runs it over
 * Redis, and `wrangler dev` over the Durable Object's storage.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium, mediaFlags } from '../helpers/browser.ts';
import { openDemo, type Peer } from './demo-driver.ts';

/** A hub with rooms open whose history survives {@link restart}. */
export interface DurableHub {
  readonly url: string;
  restart(): Promise<void>;
  stop(): Promise<unknown>;
}

/** The notes as the page shows them (the textarea). */
const notesOf = (peer: Peer) => peer.page.inputValue('#notes-input');

/** Waits until the page has loaded the hub's document and shows notes containing every piece. */
async function waitForNotes(peer: Peer, pieces: string[], timeout = 20_000): Promise<string> {
  await peer.page.waitForFunction(
    (expected) => {
      const value = (document.getElementById('notes-input') as HTMLTextAreaElement).value;
      return window.demo.notes.synced && expected.every((piece) => value.includes(piece));
    },
    pieces,
    { timeout, polling: 100 },
  );
  return notesOf(peer);
}

/**
 * Each page inserts `count` lines at the start of random lines of the text, all pages at the same
 * moment (whole lines: a piece inserted inside another one would no longer read as either). Pieces
 * are unique across rounds, so that a text holding each of them holds every line.
 */
function editTogether(peers: Peer[], count: number, round: number): Promise<string[][]> {
  return Promise.all(
    peers.map((peer) =>
      peer.page.evaluate(
        async ([name, n, r]) => {
          const text = window.demo.notes.doc.getText('notes');
          const pieces: string[] = [];
          for (let i = 0; i < n; i++) {
            const piece = `${name}-${r}.${i};`;
            const value = text.toString();
            const starts = [0, ...[...value.matchAll(/\n/g)].map((m) => m.index + 1)];
            text.insert(starts[Math.floor(Math.random() * starts.length)]!, `${piece}\n`);
            pieces.push(piece);
            // Separate changes, some crossing the others' on the way.
            await new Promise((resolve) => setTimeout(resolve, Math.random() * 30));
          }
          return pieces;
        },
        [peer.name, count, round] as const,
      ),
    ),
  );
}

/** Every page shows the same notes, holding every piece; returns them. */
async function converged(peers: Peer[], pieces: string[]): Promise<string> {
  const texts = await Promise.all(peers.map((peer) => waitForNotes(peer, pieces)));
  const [first] = texts;
  await Promise.all(
    peers.map((peer) =>
      peer.page.waitForFunction(
        (expected) => (document.getElementById('notes-input') as HTMLTextAreaElement).value === expected,
        first,
        { timeout: 10_000 },
      ),
    ),
  );
  return first!;
}

/** Reloads the demo and joins again under the same name. */
async function reloadAndJoin(peer: Peer): Promise<void> {
  await peer.page.reload();
  await peer.page.fill('#name-input', peer.name);
  await peer.page.click('#join-button');
  await peer.page.waitForSelector('#app:not([hidden])', { timeout: 15_000 });
}

export function sharedNotes(label: string, start: () => Promise<DurableHub>): void {
  let hub: DurableHub;
  let browser: Browser;
  const room = `notes-${label}-${crypto.randomUUID().slice(0, 6)}`;
  let ada: Peer;
  let bob: Peer;
  let cy: Peer;
  let everything: string[] = [];

  beforeAll(async () => {
    [hub, browser] = await Promise.all([start(), launchChromium(mediaFlags)]);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('two browsers edit the same text at once, one typing in the textarea, and converge', async () => {
    ada = await openDemo(browser, hub.url, room, 'Ada');
    bob = await openDemo(browser, hub.url, room, 'Bob');
    for (const peer of [ada, bob]) await peer.page.click('.tab[data-tab=notes]');
    await ada.page.type('#notes-input', 'Agenda:\n');
    const [edits] = await Promise.all([
      editTogether([ada, bob], 8, 1),
      bob.page.type('#notes-input', 'typed by Bob '),
    ]);
    everything = ['Agenda:', 'typed by Bob', ...edits.flat()];
    await converged([ada, bob], everything);
    // Who is editing travels as awareness: Bob's textarea has the focus.
    await ada.page.waitForSelector('#notes-status:has-text("Bob editing")', { timeout: 10_000 });
  }, 60_000);

  it('a late joiner gets the whole document, and three browsers editing at once converge', async () => {
    cy = await openDemo(browser, hub.url, room, 'Cy');
    await cy.page.click('.tab[data-tab=notes]');
    expect(await waitForNotes(cy, everything)).toBe(await notesOf(ada));
    const edits = await editTogether([ada, bob, cy], 6, 2);
    everything.push(...edits.flat());
    await converged([ada, bob, cy], everything);
  }, 60_000);

  it('a reloaded page gets the whole document back', async () => {
    const before = await notesOf(ada);
    await reloadAndJoin(bob);
    expect(await waitForNotes(bob, everything)).toBe(before);
  }, 60_000);

  it('keeps an edit whose write to the hub was still in flight when its page reloaded', async () => {
    // Bob's next document write never completes, as a request still in flight when a page goes away.
    await bob.page.evaluate(() => {
      const real = window.fetch;
      let held = false;
      window.fetch = (input, init) => {
        if (!held && init?.method === 'POST' && String(input).includes('/docs/') && !init.keepalive) {
          held = true;
          return new Promise((_, reject) => {
            init.signal?.addEventListener('abort', () => reject(init.signal?.reason));
          });
        }
        return real(input, init);
      };
    });
    const [pieces] = await editTogether([bob], 1, 3);
    everything.push(...pieces!);
    await reloadAndJoin(bob);
    await converged([ada, bob, cy], everything);
  }, 60_000);

  it('survives a hub restart with nobody in the room: the document comes back from history', async () => {
    const before = await notesOf(ada);
    await Promise.all([ada, bob, cy].map((peer) => peer.context.close()));
    await hub.restart();
    const dee = await openDemo(browser, hub.url, room, 'Dee');
    await dee.page.click('.tab[data-tab=notes]');
    expect(await waitForNotes(dee, everything)).toBe(before);
    // And it goes on: an edit after the restart reaches a second page.
    const eve = await openDemo(browser, hub.url, room, 'Eve');
    await dee.page.type('#notes-input', ' after the restart');
    await waitForNotes(eve, [...everything, 'after the restart']);
    expect([...dee.errors, ...eve.errors]).toEqual([]);
  }, 90_000);
}
