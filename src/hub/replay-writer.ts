import type { EventStream } from '../sse/index.ts';
import { concat } from '../sse/index.ts';
import type { Metrics } from './metrics.ts';

/** Most bytes of history written to a stream in one write. */
const MAX_REPLAY_WRITE = 64 * 1024;

/** Writes history (a replay or a rewind) to one subscriber's stream, at its pace. */
export interface ReplayWriter {
  /** Adds one event's frame; waits while the stream's backlog is too high to take the batch. */
  add(frame: Uint8Array): Promise<void>;
  /** Writes what was added and not written yet. */
  flush(): Promise<void>;
}

/**
 * Batches frames into writes of at most 64 KiB and writes them under the same backlog bound as live
 * updates: it pauses at half the bound (live updates kept aside meanwhile have the other half) and
 * goes on once the backlog is below a quarter. A subscriber that stops reading thus holds at most one
 * batch and its bound of bytes, however much history it asked for.
 */
export function replayWriter(stream: EventStream, metrics: Metrics): ReplayWriter {
  const high = stream.limit / 2;
  const low = stream.limit / 4;
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    // A batch too big to share the bound waits for an empty queue (one update may exceed the bound).
    if (stream.buffered > 0 && stream.buffered + batchBytes > high) {
      await stream.drained(batchBytes > high - low ? 0 : low);
    }
    if (stream.write(batch.length === 1 ? batch[0]! : concat(batch))) metrics.eventsDelivered += batch.length;
    batch = [];
    batchBytes = 0;
  };
  return {
    async add(frame) {
      if (batchBytes > 0 && batchBytes + frame.byteLength > Math.min(MAX_REPLAY_WRITE, high)) await flush();
      batch.push(frame);
      batchBytes += frame.byteLength;
    },
    flush,
  };
}
