/**
 * The ssehub client: subscribe to a Mercure hub with resume and backoff, publish, join rooms (peers,
 * messages, shared state), and call the peers of a room over WebRTC. Web APIs only and no dependencies: it runs in
 * browsers, workers, Node 20+, Deno, Bun and Cloudflare Workers. Every hub serves it as an ES module
 * at `/client.js`.
 *
 * @example
 * // In a page, straight from the hub:
 * import { subscribe, publish } from 'https://hub.example.com/client.js';
 * const hub = 'https://hub.example.com/.well-known/mercure';
 * const events = subscribe(hub, { match: '/chat', token: () => getToken() });
 * events.on('message', (m) => show(JSON.parse(m.data)));
 * events.on('gap', () => reloadHistory()); // the hub could not replay everything we missed
 * await publish(hub, { topics: '/chat', data: JSON.stringify({ text: 'hi' }) }, { token: await getToken() });
 *
 * // A room with a video call (see docs/rooms.md):
 * const room = await joinRoom('https://hub.example.com', 'standup', { name: 'Ada' });
 * const call = startCall(room, { stream: await navigator.mediaDevices.getUserMedia({ video: true, audio: true }) });
 *
 * @module
 */

export {
  isPeerId,
  isRoomName,
  type Json,
  type JsonObject,
  mergePatch,
  type PeerInfo,
} from '../room-protocol/index.ts';
export { backoffDelay, type ReconnectOptions } from './backoff.ts';
export { Call, type CallEvents, type CallOptions, type CallPeer, startCall } from './call.ts';
export { ClientError, type ClientErrorCode } from './errors.ts';
export {
  type CloseInfo,
  type ErrorInfo,
  type GapInfo,
  type OpenInfo,
  type ReconnectInfo,
  type SubscribeOptions,
  Subscription,
  type SubscriptionEvents,
  type SubscriptionState,
  subscribe,
  type TokenProvider,
} from './events.ts';
export {
  createEventStreamParser,
  type EventStreamParser,
  type ParserCallbacks,
  type SseMessage,
} from './parser.ts';
export { type PublishOptions, type PublishUpdate, publish } from './publisher.ts';
export {
  type JoinOptions,
  joinRoom,
  Room,
  type RoomEvents,
  type RoomMessage,
  type RoomStatus,
} from './room.ts';
export { RoomState, type RoomStateEvents, type StateChange } from './room-state.ts';
export {
  isPolite,
  PerfectNegotiation,
  type PerfectNegotiationOptions,
  parseSignal,
  type SignalMessage,
} from './webrtc.ts';
