/** The room API's options and events (see `room.ts`). Types only. */

import type { PeerInfo } from '../room-protocol/index.ts';
import type { ReconnectOptions } from './backoff.ts';
import type { TokenProvider } from './subscription-types.ts';

export type { PeerInfo } from '../room-protocol/index.ts';

export interface JoinOptions {
  /** The name the other peers see (1–64 characters). Rooms gated by tokens take it from the token. */
  name?: string;
  /**
   * The application's token, for hubs that gate rooms with them (`SSEHUB_ROOMS=token`): a string, or a
   * function called before every join and renewal. Not needed for open rooms.
   */
  token?: string | TokenProvider;
  /** Delay before a peer whose connection ended is reported gone, in ms (a reconnection within it goes unnoticed). Default 3000. */
  leaveGrace?: number;
  /** The same delay right after our own connection to the hub came back, in ms (the others reconnect too). Default 15 000. */
  resyncGrace?: number;
  /** Backoff of the event stream's reconnections. */
  reconnect?: ReconnectOptions;
  /** Aborting it leaves the room, like {@link Room.leave}. */
  signal?: AbortSignal;
  /** The `fetch` to use. Default: the global one. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
}

/** A message from another peer. */
export interface RoomMessage {
  readonly from: string;
  readonly data: unknown;
  /** True when it was sent to the whole room, false when to this peer only. */
  readonly broadcast: boolean;
}

/** `connecting` until the event stream opens, `reconnecting` while it is down, `closed` for good. */
export type RoomStatus = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Events of a {@link Room}. */
export interface RoomEvents {
  /** A peer arrived (the ones present at join time are in `peers` from the start). */
  join: PeerInfo;
  /** A peer left (its connection ended and did not come back within the grace period). */
  leave: PeerInfo;
  message: RoomMessage;
  /** A WebRTC signaling message (for the call helper). */
  signal: { readonly from: string; readonly data: unknown };
  status: RoomStatus;
  /**
   * This peer got a new id: its token could not be renewed (e.g. the hub's key changed) and it joined
   * again. Connections to the others must be made again (the call helper does it).
   */
  self: { readonly previous: string; readonly id: string };
  /** @internal A Yjs document update from the room's log (for the Yjs provider, `ssehub/client/yjs`). */
  doc: { readonly doc: string; readonly update: Uint8Array; readonly from: string | null };
  /** The hub handed out new ICE servers (fresh TURN credentials), now in {@link Room.iceServers}. */
  ice: readonly RTCIceServer[];
  /** The room state and the peers were reloaded after the hub could not replay what we missed. */
  resync: { readonly reason: 'gap' | 'token' };
  /** Something failed that the room works around (a renewal, a resynchronization). */
  error: { readonly error: unknown };
  /** The room is left for good: `left` by {@link Room.leave}, `aborted` by the signal, `error` when it cannot go on. */
  close: { readonly reason: 'left' | 'aborted' | 'error'; readonly error?: unknown };
}
