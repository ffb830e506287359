/**
 * In-page code for the TURN and ICE restart tests (a module script in a page of the hub's origin): a
 * peer that joins a room and calls everyone over relayed candidates only, with the ICE servers of
 * its join answer, as `window.peer`; and small readers of what WebRTC reports (`getStats`).
 */
export const turnHarness = /* js */ `
import * as client from '/client.js';

window.startPeer = async (roomName, name) => {
  const room = await client.joinRoom(location.origin, roomName, { name });
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 180 }, audio: false });
  const log = { candidateErrors: [], ice: [], states: [], errors: [] };
  room.on('ice', (servers) => log.ice.push(servers));
  // Relayed candidates only: the call works through the TURN server or not at all.
  const call = client.startCall(room, { stream, rtc: { iceTransportPolicy: 'relay' }, disconnectedTimeout: 1000 });
  call.on('peer', ({ pc }) =>
    pc.addEventListener('icecandidateerror', (e) => log.candidateErrors.push({ code: e.errorCode, url: e.url })),
  );
  call.on('state', ({ state }) => log.states.push(state));
  call.on('error', ({ error }) => log.errors.push(String(error)));
  const received = [];
  call.on('data', ({ data }) => received.push(data));
  window.peer = { room, call, log, received };
  return room.self.id;
};

/** The selected candidate pair of the connection to \`id\`: type and address of each candidate. */
window.selectedPair = async (id) => {
  const pc = window.peer.call.peers.get(id)?.pc;
  if (!pc) return undefined;
  const stats = await pc.getStats();
  const candidate = (id) => {
    const c = stats.get(id);
    return { type: c?.candidateType, address: c?.address + ':' + c?.port };
  };
  for (const report of stats.values()) {
    if (report.type !== 'transport' || !report.selectedCandidatePairId) continue;
    const pair = stats.get(report.selectedCandidatePairId);
    return { local: candidate(pair.localCandidateId), remote: candidate(pair.remoteCandidateId) };
  }
  return undefined;
};

/** Video frames decoded from \`id\` so far. */
window.framesFrom = async (id) => {
  const pc = window.peer.call.peers.get(id)?.pc;
  if (!pc) return 0;
  let frames = 0;
  for (const report of (await pc.getStats()).values()) {
    if (report.type === 'inbound-rtp' && report.kind === 'video') frames += report.framesDecoded ?? 0;
  }
  return frames;
};

/** What the connection to \`id\` reports about video both ways: to tell why frames stop. */
window.videoReport = async (id) => {
  const pc = window.peer.call.peers.get(id)?.pc;
  if (!pc) return { pc: 'none' };
  const report = { connection: pc.connectionState, ice: pc.iceConnectionState, states: window.peer.log.states };
  for (const r of (await pc.getStats()).values()) {
    if (r.kind !== 'video') continue;
    if (r.type === 'inbound-rtp') {
      report.inbound = { packets: r.packetsReceived, frames: r.framesReceived, decoded: r.framesDecoded,
        keyFrames: r.keyFramesDecoded, dropped: r.framesDropped, pli: r.pliCount, nack: r.nackCount };
    } else if (r.type === 'outbound-rtp') {
      report.outbound = { packets: r.packetsSent, encoded: r.framesEncoded, sent: r.framesSent,
        keyFrames: r.keyFramesEncoded, limitation: r.qualityLimitationReason, active: r.active, pli: r.pliCount };
    }
  }
  return report;
};

/** The ICE username fragment of a description: it changes with every ICE restart. */
window.ufragOf = (sdp) => /a=ice-ufrag:(\\S+)/.exec(sdp ?? '')?.[1];

window.harnessReady = true;
`;
