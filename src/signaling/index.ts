/**
 * WebRTC rooms on the hub: the join endpoint and its policies, peer tokens, seats, and the shared
 * room state. The wire protocol is `src/room-protocol/`, shared with the browser client.
 */
export { POLICIES, type RoomsPolicy, type UpstreamIdentity } from './policy.ts';
export { createRooms, type Rooms, type RoomsSettings } from './rooms.ts';
export { mintPeerToken, newPeerId, type PeerTokenOptions, peerGrants } from './tokens.ts';
