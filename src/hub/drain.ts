/**
 * Draining without a stampede: when an instance stops, its subscribers must reconnect somewhere else.
 * Ending every stream at once makes them all reconnect at once (after the same `retry:`), onto the
 * instances that are left. Instead the streams end one after the other, evenly over the drain window,
 * and each gets a `retry:` of its own, so that the reconnects spread out as well. Subscribers resume
 * with `Last-Event-ID`, so nothing is lost.
 */
import { type EventStream, encodeRetry, utf8 } from '../sse/index.ts';

/** Streams are ended in steps this far apart. */
const STEP_MS = 50;
/** Longest extra reconnection delay a drained stream is given. */
const MAX_RETRY_SPREAD_MS = 10_000;

export interface DrainOptions {
  /** The window to spread the ends over, in ms. */
  durationMs: number;
  /** The hub's usual reconnection delay (ms): drained streams get this plus a random part. */
  retryMs: number;
  /** Progress, about once a second and at the end. */
  onProgress?: (left: number, total: number, msLeft: number) => void;
  /** Called for each stream ended. */
  onClose?: () => void;
}

/**
 * A reconnection delay for one drained stream: the usual one plus a random part as long as the
 * window (up to 10 s), so that the streams ended in one step do not come back together.
 */
export function drainRetry(retryMs: number, durationMs: number): number {
  return retryMs + Math.floor(Math.random() * Math.min(durationMs, MAX_RETRY_SPREAD_MS));
}

/** Ends `stream` cleanly after a `retry:` field. */
export function endWithRetry(stream: EventStream, retry: number): void {
  stream.write(utf8.encode(encodeRetry(retry)));
  stream.close('server');
}

/**
 * Ends `streams` evenly over `durationMs`; resolves once the last one is ended. Streams that end by
 * themselves meanwhile are skipped.
 */
export async function drainStreams(streams: readonly EventStream[], options: DrainOptions): Promise<void> {
  const total = streams.length;
  const started = Date.now();
  const duration = Math.max(0, options.durationMs);
  let next = 0;
  let reported = started;
  const left = () => streams.length - next;
  while (next < total) {
    const elapsed = Date.now() - started;
    const due = duration === 0 ? total : Math.min(total, Math.ceil((total * (elapsed + STEP_MS)) / duration));
    for (; next < due; next++) {
      const stream = streams[next]!;
      if (stream.closed) continue;
      endWithRetry(stream, drainRetry(options.retryMs, duration));
      options.onClose?.();
    }
    if (next >= total) break;
    if (Date.now() - reported >= 1000) {
      reported = Date.now();
      options.onProgress?.(left(), total, Math.max(0, duration - (reported - started)));
    }
    await new Promise((resolve) => setTimeout(resolve, STEP_MS));
  }
  options.onProgress?.(0, total, 0);
}
