/**
 * The two-peer call of the demo, written against any hub: the spawner is a parameter, so the same
 * tests run against the Node hub and, where its spawner exists, `wrangler dev`.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium, mediaFlags } from '../helpers/browser.ts';
import {
  chat,
  connectionState,
  openDemo,
  type Peer,
  screenshot,
  waitForChat,
  waitForFrames,
  waitForPeers,
} from './demo-driver.ts';

/** A running hub with rooms open. */
export interface RoomsTarget {
  readonly url: string;
  stop(): Promise<unknown>;
}

/**
 * Two browsers join one room on the hub `start()` gives: they see each other, the call connects and
 * each decodes the other's video, and chat crosses the data channel both ways.
 */
export function twoPeerCall(label: string, start: () => Promise<RoomsTarget>): void {
  let hub: RoomsTarget;
  let browser: Browser;
  let ada: Peer;
  let bob: Peer;
  const room = `pair-${label}-${crypto.randomUUID().slice(0, 6)}`;

  beforeAll(async () => {
    [hub, browser] = await Promise.all([start(), launchChromium(mediaFlags)]);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('each peer sees the other in the room', async () => {
    ada = await openDemo(browser, hub.url, room, 'Ada');
    bob = await openDemo(browser, hub.url, room, 'Bob');
    const [adaId, bobId] = [await ada.id(), await bob.id()];
    await waitForPeers(ada, [bobId]);
    await waitForPeers(bob, [adaId]);
    // The page shows it too: a tile per participant, and the people list.
    await ada.page.waitForSelector(`.tile[data-peer="${bobId}"] .label:has-text("Bob")`);
    await bob.page.waitForSelector(`.tile[data-peer="${adaId}"] .label:has-text("Ada")`);
    expect(await bob.page.textContent('#people-count')).toBe('2');
  }, 60_000);

  it('the call connects and each side decodes the other side’s video', async () => {
    const [adaId, bobId] = [await ada.id(), await bob.id()];
    expect(await waitForFrames(ada, bobId)).toBeGreaterThan(0);
    expect(await waitForFrames(bob, adaId)).toBeGreaterThan(0);
    expect(await connectionState(ada, bobId)).toBe('connected');
    expect(await connectionState(bob, adaId)).toBe('connected');
  }, 60_000);

  it('chat messages cross the data channel both ways', async () => {
    await chat(ada, 'Hi Bob, can you see me?');
    await waitForChat(bob, 'Hi Bob, can you see me?');
    await chat(bob, 'Loud and clear, Ada.');
    await waitForChat(ada, 'Loud and clear, Ada.');
    // They went over WebRTC: both data channels are open.
    const open = await ada.page.evaluate(() =>
      [...window.demo.call.peers.values()].map((p) => p.channel?.readyState),
    );
    expect(open).toEqual(['open']);
    await screenshot(ada, `demo-two-peers-${label}`);
    expect([...ada.errors, ...bob.errors]).toEqual([]);
  }, 60_000);
}
