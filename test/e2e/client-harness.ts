/**
 * In-page code for the browser tests of the client, as plain JavaScript (a module script loaded into
 * a page of the hub's origin): it imports the bundle from `/client.js` exactly as an application would,
 * and exposes small async functions on `window` that the tests call with `page.evaluate`.
 */
export const harness = /* js */ `
import * as client from '/client.js';

const ufragOf = (sdp) => /a=ice-ufrag:(\\S+)/.exec(sdp ?? '')?.[1];
const nextMessage = (channel) =>
  new Promise((resolve) => channel.addEventListener('message', (e) => resolve(e.data), { once: true }));
async function until(predicate, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + (typeof what === 'function' ? what() : what));
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Two peer connections in this page, each driven by PerfectNegotiation, wired by an in-memory
 * transport that serializes every message to JSON (as the network would). It holds all messages
 * until BOTH sides have sent an offer, so the offers always cross: glare on every run.
 */
window.connectPair = async () => {
  // Repeated rounds: close the previous pair (Chromium caps live peer connections per page).
  for (const peer of Object.values(window.pair?.peers ?? {})) peer.pc.close();
  const log = [];
  const errors = [];
  const peers = {};
  const offerers = new Set();
  const held = [];
  let released = false;
  const transport = (from, to) => (message) => {
    const description = message.type === 'description' ? message.description : undefined;
    log.push({ from, kind: description ? description.type : 'candidate', ufrag: ufragOf(description?.sdp) });
    if (description?.type === 'offer') offerers.add(from);
    const wire = JSON.stringify(message);
    const deliver = () => setTimeout(() => peers[to].negotiation.handle(JSON.parse(wire)), 0);
    if (released) deliver();
    else held.push(deliver);
    if (!released && offerers.size === 2) {
      released = true;
      for (const d of held.splice(0)) d();
    }
  };
  for (const [self, other] of [['alice', 'bob'], ['bob', 'alice']]) {
    const pc = new RTCPeerConnection();
    const negotiation = new client.PerfectNegotiation(pc, {
      selfId: self,
      peerId: other,
      send: transport(self, other),
      onError: (error) => errors.push(self + ': ' + error),
    });
    peers[self] = { pc, negotiation };
  }
  // Both sides add a data channel at once: each fires negotiationneeded and offers.
  peers.alice.channel = peers.alice.pc.createDataChannel('chat', { negotiated: true, id: 0 });
  peers.bob.channel = peers.bob.pc.createDataChannel('chat', { negotiated: true, id: 0 });
  window.pair = { peers, log, errors };
  const state = (p) => [p.pc.signalingState, p.pc.iceGatheringState, p.pc.iceConnectionState, p.pc.connectionState, p.channel.readyState];
  await until(
    () => [peers.alice, peers.bob].every((p) => p.pc.connectionState === 'connected' && p.channel.readyState === 'open'),
    () => 'both sides to connect: ' + JSON.stringify({ alice: state(peers.alice), bob: state(peers.bob), log, errors }),
  );
  return {
    polite: { alice: peers.alice.negotiation.polite, bob: peers.bob.negotiation.polite },
    states: [peers.alice.pc.connectionState, peers.bob.pc.connectionState],
  };
};

/** Sends one message each way over the data channel and returns what each side received. */
window.exchange = async (text) => {
  const { alice, bob } = window.pair.peers;
  const toBob = nextMessage(bob.channel);
  const toAlice = nextMessage(alice.channel);
  alice.channel.send(text + ' from alice');
  bob.channel.send(text + ' from bob');
  return { bob: await toBob, alice: await toAlice };
};

/** Makes alice's ICE agent look failed, and waits until the ICE restart it triggers has completed. */
window.failIce = async () => {
  const { alice, bob } = window.pair.peers;
  const from = window.pair.log.length;
  const before = ufragOf(alice.pc.localDescription.sdp);
  Object.defineProperty(alice.pc, 'iceConnectionState', { configurable: true, get: () => 'failed' });
  alice.pc.dispatchEvent(new Event('iceconnectionstatechange'));
  delete alice.pc.iceConnectionState;
  await until(
    () =>
      alice.pc.signalingState === 'stable' &&
      bob.pc.signalingState === 'stable' &&
      ufragOf(alice.pc.localDescription.sdp) !== before &&
      ufragOf(bob.pc.remoteDescription.sdp) !== before,
    'the ICE restart to complete',
  );
  await until(() => alice.pc.iceConnectionState === 'connected' || alice.pc.iceConnectionState === 'completed', 'ICE to reconnect');
  return { before, after: ufragOf(alice.pc.localDescription.sdp), log: window.pair.log.slice(from) };
};

/** Subscribes from the page with a token provider, publishes from the page, returns what arrived. */
window.roundTrip = async (topic, subscriberToken, publisherToken) => {
  const hub = new URL('/.well-known/mercure', location.href).href;
  const subscription = client.subscribe(hub, { match: topic, token: () => subscriberToken });
  const messages = [];
  subscription.on('*', (m) => messages.push(m));
  const open = await new Promise((resolve) => subscription.on('open', resolve));
  window.pageSubscription = { subscription, messages };
  const id = await client.publish(hub, { topics: topic, data: 'from the page' }, { token: publisherToken });
  await until(() => messages.length >= 1, 'the page to receive its own update');
  return { id, open: { status: open.status, reconnected: open.reconnected }, messages: messages.map((m) => ({ ...m })) };
};

/** Waits for the page's subscription to have received n messages and returns them. */
window.pageMessages = async (n) => {
  await until(() => window.pageSubscription.messages.length >= n, n + ' messages');
  return window.pageSubscription.messages.map((m) => ({ ...m }));
};

window.harnessReady = true;
`;
