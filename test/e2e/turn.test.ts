/**
 * WebRTC through a real TURN server: coturn on loopback with `use-auth-secret`, the hub minting
 * credentials for it in the join answer, two Chromium peers that may use relayed candidates only.
 * They connect through it and exchange video and data; with the hub holding a wrong secret they
 * cannot (coturn answers 401); and when the relay goes away and comes back, the call recovers by
 * ICE restarts, with credentials renewed meanwhile (the first ones have expired by then).
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, mediaFlags } from '../helpers/browser.ts';
import { type Coturn, hasCoturn, startCoturn } from '../helpers/coturn.ts';
import { available } from '../helpers/require.ts';
import { type RestartableHub, startRoomsHub } from '../helpers/rooms.ts';
import { turnHarness } from './turn-harness.ts';

const SECRET = `turn-${crypto.randomUUID()}`;
/** Short-lived credentials, so that the recovery below needs renewed ones. */
const TURN_TTL = 20;

interface TestPeer {
  context: BrowserContext;
  page: Page;
  id: string;
  errors: string[];
}

type Candidate = { type?: string; address: string };
type Pair = { local: Candidate; remote: Candidate } | undefined;
type IceServer = { urls: string[]; username?: string; credential?: string };

async function openPeer(browser: Browser, base: string, room: string, name: string): Promise<TestPeer> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  // A blank page of the hub's origin: the harness imports /client.js as an application would.
  await page.route(`${base}/turn-page`, (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: '<!doctype html><meta charset="utf-8"><title>turn</title>',
    }),
  );
  await page.goto(`${base}/turn-page`);
  await page.addScriptTag({ type: 'module', content: turnHarness });
  await page.waitForFunction('window.harnessReady === true', undefined, { timeout: 10_000 });
  const id = (await page.evaluate(([r, n]) => window.startPeer(r, n), [room, name] as const)) as string;
  return { context, page, id, errors };
}

const connectedTo = (peer: TestPeer, other: TestPeer, timeout = 20_000) =>
  peer.page.waitForFunction(
    (id) => window.peer.call.peers.get(id)?.pc.connectionState === 'connected',
    other.id,
    {
      timeout,
      polling: 100,
    },
  );

async function framesAfter(peer: TestPeer, from: TestPeer, after: number, timeout = 15_000): Promise<number> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const frames = await peer.page.evaluate((id) => window.framesFrom(id), from.id);
    if (frames > after) return frames;
    if (Date.now() > deadline) {
      const [received, sent] = await Promise.all([
        peer.page.evaluate((id) => window.videoReport(id), from.id),
        from.page.evaluate((id) => window.videoReport(id), peer.id),
      ]);
      throw new Error(
        `no video frames from ${from.id} beyond ${after}: receiver ${JSON.stringify(received)}, sender ${JSON.stringify(sent)}`,
      );
    }
    await peer.page.waitForTimeout(250);
  }
}

/** Sends a line over the data channel and waits for the other side to have it. */
async function dataCrosses(from: TestPeer, to: TestPeer, text: string): Promise<void> {
  expect(await from.page.evaluate(([id, t]) => window.peer.call.send(id, t), [to.id, text] as const)).toBe(
    true,
  );
  await to.page.waitForFunction((t) => window.peer.received.includes(t), text, { timeout: 10_000 });
}

/**
 * The connection between `a` and `b` goes through the relay on both ends: each sends from its relayed
 * address (the only candidates allowed), and each one's remote candidate is the other's relayed
 * address, signaled as a relay candidate or learned as peer-reflexive from a check that came first.
 * Just after `connected` the two ends may still report different pairs (each has a relayed address per
 * allocation, and the controlled end moves to the pair the other nominates): read until they agree,
 * for up to 10 s, then check what they agree on.
 */
async function expectRelayed(a: TestPeer, b: TestPeer): Promise<void> {
  const read = () =>
    Promise.all([
      a.page.evaluate((id) => window.selectedPair(id), b.id),
      b.page.evaluate((id) => window.selectedPair(id), a.id),
    ]);
  let [ab, ba] = await read();
  const deadline = Date.now() + 10_000;
  while (
    (ab?.remote.address !== ba?.local.address || ba?.remote.address !== ab?.local.address) &&
    Date.now() < deadline
  ) {
    await a.page.waitForTimeout(250);
    [ab, ba] = await read();
  }
  expect([ab?.local.type, ba?.local.type]).toEqual(['relay', 'relay']);
  for (const pair of [ab, ba]) expect(pair?.local.address).toMatch(/^[\d.]+:\d+$/);
  expect(ab?.remote.address).toBe(ba?.local.address);
  expect(ba?.remote.address).toBe(ab?.local.address);
  expect(['relay', 'prflx']).toContain(ab?.remote.type);
  expect(['relay', 'prflx']).toContain(ba?.remote.type);
}

const turnServersOf = (peer: TestPeer) =>
  peer.page.evaluate(() => window.peer.room.iceServers) as Promise<IceServer[]>;

declare global {
  interface Window {
    ufragOf(sdp: string | undefined): string | undefined;
    startPeer(room: string, name: string): Promise<string>;
    selectedPair(id: string): Promise<Pair>;
    framesFrom(id: string): Promise<number>;
    videoReport(id: string): Promise<unknown>;
    peer: {
      room: import('../../src/client/index.ts').Room;
      call: import('../../src/client/index.ts').Call;
      log: {
        candidateErrors: Array<{ code: number; url: string }>;
        ice: IceServer[][];
        states: string[];
        errors: string[];
      };
      received: string[];
    };
  }
}

describe.skipIf(!available('Chromium', CHROMIUM) || !hasCoturn())('calls relayed by coturn', () => {
  let coturn: Coturn;
  let hub: RestartableHub;
  let wrongHub: RestartableHub;
  let browser: Browser;
  const peers: TestPeer[] = [];

  beforeAll(async () => {
    coturn = await startCoturn(SECRET);
    const turn = { SSEHUB_TURN_URLS: coturn.url, SSEHUB_TURN_TTL: String(TURN_TTL) };
    [hub, wrongHub, browser] = await Promise.all([
      startRoomsHub({ ...turn, SSEHUB_TURN_SECRET: SECRET }),
      startRoomsHub({ ...turn, SSEHUB_TURN_SECRET: 'not-the-secret' }),
      launchChromium(mediaFlags),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([hub?.stop(), wrongHub?.stop(), coturn?.dispose()]);
  });

  let ada: TestPeer;
  let bob: TestPeer;

  it('connect two peers through the relay with the credentials of their join answers: video and data cross', async () => {
    const room = `turn-${crypto.randomUUID().slice(0, 6)}`;
    ada = await openPeer(browser, hub.url, room, 'Ada');
    bob = await openPeer(browser, hub.url, room, 'Bob');
    peers.push(ada, bob);
    const [servers] = await turnServersOf(ada);
    expect(servers?.urls).toEqual([coturn.url]);
    expect(servers?.username).toMatch(new RegExp(`^\\d+:${ada.id}$`));
    await Promise.all([connectedTo(ada, bob), connectedTo(bob, ada)]);
    await expectRelayed(ada, bob);
    expect(await framesAfter(ada, bob, 0)).toBeGreaterThan(0);
    expect(await framesAfter(bob, ada, 0)).toBeGreaterThan(0);
    await dataCrosses(ada, bob, 'hello through the relay');
    await dataCrosses(bob, ada, 'loud and clear');
  }, 60_000);

  it('cannot connect when the hub holds the wrong secret: coturn refuses the credentials (401)', async () => {
    const room = `wrong-${crypto.randomUUID().slice(0, 6)}`;
    const cy = await openPeer(browser, wrongHub.url, room, 'Cy');
    const dee = await openPeer(browser, wrongHub.url, room, 'Dee');
    peers.push(cy, dee);
    for (const [peer, other] of [
      [cy, dee],
      [dee, cy],
    ] as const) {
      // Gathering ends with the TURN server's refusal and no candidate: there is nothing to connect.
      await peer.page.waitForFunction(
        (id) => window.peer.call.peers.get(id)?.pc.iceGatheringState === 'complete',
        other.id,
        { timeout: 20_000 },
      );
      const errors = await peer.page.evaluate(() => window.peer.log.candidateErrors);
      expect(errors.map((e) => e.code)).toContain(401);
      expect(
        await peer.page.evaluate((id) => window.peer.call.peers.get(id)?.pc.connectionState, other.id),
      ).not.toBe('connected');
      expect(await peer.page.evaluate((id) => window.selectedPair(id), other.id)).toBeUndefined();
    }
    await Promise.all([cy.context.close(), dee.context.close()]);
  }, 60_000);

  it('recovers by ICE restart when the relay goes away and comes back, with renewed credentials', async () => {
    const [first] = await turnServersOf(ada);
    const expiry = Number(first?.username?.split(':')[0]) * 1000;
    // The client renews its credentials before they expire, with its peer token.
    for (const peer of [ada, bob]) {
      await peer.page.waitForFunction(() => window.peer.log.ice.length > 0, undefined, {
        timeout: TURN_TTL * 1000,
      });
    }
    const [renewed] = await turnServersOf(ada);
    expect(Number(renewed?.username?.split(':')[0]) * 1000).toBeGreaterThan(expiry);
    // Past the first credentials' expiry: coturn would refuse them now (401), so whatever
    // allocation the restarts below make uses renewed ones.
    await ada.page.waitForFunction((t) => Date.now() > t + 1000, expiry, { timeout: TURN_TTL * 1000 });

    const frames = await framesAfter(ada, bob, 0);
    const ufrags = new Map<TestPeer, string | undefined>();
    for (const [peer, other] of [
      [ada, bob],
      [bob, ada],
    ] as const) {
      ufrags.set(
        peer,
        await peer.page.evaluate(
          (id) => window.ufragOf(window.peer.call.peers.get(id)?.pc.localDescription?.sdp),
          other.id,
        ),
      );
    }
    await coturn.kill();
    await Promise.all(
      [ada, bob].map((p) =>
        p.page.waitForFunction(() => window.peer.log.states.includes('disconnected'), undefined, {
          timeout: 20_000,
        }),
      ),
    );
    // Each side restarts ICE while the relay is still gone (a new ICE username fragment), which
    // gathers nothing: only a later restart, once it is back, can bring the call back.
    for (const [peer, other] of [
      [ada, bob],
      [bob, ada],
    ] as const) {
      await peer.page.waitForFunction(
        ([id, before]) => window.ufragOf(window.peer.call.peers.get(id)?.pc.localDescription?.sdp) !== before,
        [other.id, ufrags.get(peer)] as const,
        { timeout: 20_000 },
      );
    }
    await coturn.start();
    await Promise.all([connectedTo(ada, bob, 40_000), connectedTo(bob, ada, 40_000)]);
    await expectRelayed(ada, bob);
    // A decoder that lost its reference asks for a key frame: give a loaded machine time for it.
    await framesAfter(ada, bob, frames, 30_000);
    await dataCrosses(bob, ada, 'back again');
    // Through a restart of ICE (fresh credentials on both ends), not a new connection.
    expect(await ada.page.evaluate(() => window.peer.call.peers.size)).toBe(1);
    for (const peer of [ada, bob]) {
      expect(await peer.page.evaluate(() => window.peer.log.errors)).toEqual([]);
      expect(peer.errors).toEqual([]);
    }
  }, 120_000);
});
