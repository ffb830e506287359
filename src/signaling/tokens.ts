/**
 * Peer tokens: short-lived access tokens the hub mints for one peer of one room, with exactly the
 * grants that peer needs and nothing else.
 *
 * - subscribe: the room's broadcasts, the room's state log, the peer's own inbox, and the presence of
 *   the room (subscription events of the room's inboxes) — never another peer's inbox, so private
 *   messages to another peer never reach it, whatever it subscribes to;
 * - publish: the room's broadcasts and the inboxes of the room — never the state log (the hub writes
 *   it), never another room.
 */
import { mintToken, type TopicGrant } from '../hub/index.ts';
import {
  inboxPattern,
  inboxTopic,
  type PeerPayload,
  presencePattern,
  roomTopic,
  stateTopic,
} from '../room-protocol/index.ts';

/** The grants of peer `peer` in `room`, for a hub at `hubPath`. */
export function peerGrants(hubPath: string, room: string, peer: string) {
  const subscribe: TopicGrant[] = [
    { match: roomTopic(room) },
    { match: stateTopic(room) },
    { match: inboxTopic(room, peer) },
    { match: presencePattern(hubPath, room), match_type: 'urlpattern' },
  ];
  const publish: TopicGrant[] = [
    { match: roomTopic(room) },
    { match: inboxPattern(room), match_type: 'urlpattern' },
  ];
  return { subscribe, publish };
}

export interface PeerTokenOptions {
  /** HS256 secret the hub trusts for its own issuer. */
  key: string;
  /** `iss`: the hub's own issuer (the `--jwt-key` issuer). */
  issuer: string;
  /** `aud`: the hub's resource identifier. */
  audience: string;
  hubPath: string;
  /** Lifetime in seconds. */
  ttl: number;
  payload: PeerPayload;
}

/** Signs a peer token; resolves with it and its expiry (ms since the epoch). */
export async function mintPeerToken(
  options: PeerTokenOptions,
): Promise<{ token: string; expiresAt: number }> {
  const { room, peer } = options.payload;
  // Rounded down like `exp` itself, so the client's schedule matches what the hub enforces.
  const expiresAt = (Math.floor(Date.now() / 1000) + options.ttl) * 1000;
  const token = await mintToken({
    key: options.key,
    ttl: options.ttl,
    issuer: options.issuer,
    audience: options.audience,
    // Per-client connection limits count by subject: one peer, one client.
    subject: `${roomTopic(room)}/peers/${peer}`,
    ...peerGrants(options.hubPath, room, peer),
    payload: options.payload,
  });
  return { token, expiresAt };
}

/** A fresh peer id: 96 random bits, base64url (16 characters). */
export function newPeerId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_');
}
