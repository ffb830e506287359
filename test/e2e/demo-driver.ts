/**
 * Drives the demo page (`/demo`) in Chromium like a user — type a name, click join, chat, tick the
 * checklist — and reads what the page shows, plus what WebRTC reports (`getStats`) through the
 * `window.demo` handles the page exposes.
 */
import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { DemoHandles } from '../../src/web/demo/room-view.ts';

declare global {
  interface Window {
    /** What the demo exposes once in a room (`src/web/demo/room-view.ts`). */
    demo: DemoHandles;
    /** What a test chose to record in the page. */
    testLog: string[];
  }
}

export const ARTIFACTS = 'test/e2e/artifacts';

/** One user of the demo: a browser context (its own camera, storage) with the page. */
export interface Peer {
  readonly name: string;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Uncaught page errors and Content-Security-Policy violations so far. */
  readonly errors: string[];
  /** The peer id the hub gave this page. */
  id(): Promise<string>;
}

/** Opens the demo in a new context, joins `room` as `name`, and waits for the call screen. */
export async function openDemo(browser: Browser, base: string, room: string, name: string): Promise<Peer> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 760 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  // Chromium reports what the page's CSP blocked on the console ("Refused to …").
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) errors.push(message.text());
  });
  await page.goto(`${base}/demo?room=${room}`);
  await page.fill('#name-input', name);
  await page.click('#join-button');
  await page.waitForSelector('#app:not([hidden])', { timeout: 15_000 });
  await page.waitForFunction(() => window.demo.room.status === 'open', undefined, { timeout: 15_000 });
  return { name, context, page, errors, id: () => page.evaluate(() => window.demo.room.self.id) };
}

/** Waits until the page's room lists exactly these peer ids. */
export async function waitForPeers(peer: Peer, ids: string[], timeout = 15_000): Promise<void> {
  await peer.page.waitForFunction(
    (expected) => {
      const present = [...window.demo.room.peers.keys()].sort();
      return JSON.stringify(present) === JSON.stringify([...expected].sort());
    },
    ids,
    { timeout, polling: 100 },
  );
}

/** Video frames decoded from `from` so far (0 without a connection), from `RTCPeerConnection.getStats`. */
export function framesDecoded(peer: Peer, from: string): Promise<number> {
  return peer.page.evaluate(async (id) => {
    const connection = window.demo.call.peers.get(id);
    if (!connection) return 0;
    let frames = 0;
    for (const report of (await connection.pc.getStats()).values()) {
      if (report.type === 'inbound-rtp' && report.kind === 'video') frames += report.framesDecoded ?? 0;
    }
    return frames;
  }, from);
}

/** Waits until `peer` has decoded more than `after` frames of `from`'s video. */
export async function waitForFrames(peer: Peer, from: string, after = 0, timeout = 20_000): Promise<number> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const frames = await framesDecoded(peer, from);
    if (frames > after) return frames;
    if (Date.now() > deadline) throw new Error(`${peer.name}: no video frames from ${from} beyond ${after}`);
    await peer.page.waitForTimeout(250);
  }
}

/** `connectionState` of the page's connection to `to`. */
export function connectionState(peer: Peer, to: string): Promise<string | undefined> {
  return peer.page.evaluate((id) => window.demo.call.peers.get(id)?.pc.connectionState, to);
}

/** Sends a chat message from the chat panel. */
export async function chat(peer: Peer, text: string): Promise<void> {
  await peer.page.click('.tab[data-tab=chat]');
  await peer.page.fill('#chat-input', text);
  await peer.page.press('#chat-input', 'Enter');
}

/** Waits until the chat shows a message with this text from someone else. */
export async function waitForChat(peer: Peer, text: string, timeout = 10_000): Promise<void> {
  await peer.page.waitForFunction(
    (expected) =>
      [...document.querySelectorAll('.msg:not(.mine) .bubble')].some((node) => node.textContent === expected),
    text,
    { timeout },
  );
}

/** Adds a checklist item from the checklist panel. */
export async function addItem(peer: Peer, text: string): Promise<void> {
  await peer.page.click('.tab[data-tab=checklist]');
  await peer.page.fill('#item-input', text);
  await peer.page.press('#item-input', 'Enter');
}

/** The checklist as the page shows it: text and whether it is ticked. */
export function checklist(peer: Peer): Promise<Array<{ text: string; done: boolean }>> {
  return peer.page.evaluate(() =>
    [...document.querySelectorAll('#items [data-item]')].map((node) => ({
      text: node.querySelector('.text')?.textContent ?? '',
      done: (node.querySelector('input') as HTMLInputElement).checked,
    })),
  );
}

/** Saves a screenshot under test/e2e/artifacts/ (git-ignored). */
export async function screenshot(peer: Peer, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = `${ARTIFACTS}/${name}.png`;
  await peer.page.screenshot({ path });
  return path;
}
