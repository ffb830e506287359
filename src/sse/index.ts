/**
 * The SSE engine on its own: encode frames, stream them with heartbeats and a bounded backlog.
 * Usable in any Hono (or plain `fetch`-handler) app; see the README.
 */
export { concat } from './bytes.ts';
export { encodeComment, encodeEvent, encodeEventBytes, encodeRetry, type SseEvent, utf8 } from './encode.ts';
export { SseError, type SseErrorCode } from './errors.ts';
export { Heartbeat } from './heartbeat.ts';
export {
  type CloseReason,
  type DirectHeaders,
  EventStream,
  type EventStreamOptions,
  eventStreamHeaders,
  eventStreamOf,
  type StreamSink,
  writeStreamsDirectly,
} from './stream.ts';
