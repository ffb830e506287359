/**
 * The tallies of one run, shared by all its subscribers: deliveries, duplicates, ordering, latency,
 * connections the server closed. Events are keyed by the sequence number in their data
 * (payload.ts), never by a server's ids, so that every server is counted alike.
 */
import { Samples } from './stats.ts';

/** Tallies shared by every subscriber of a run. */
export class Ledger {
  /** Data events received, duplicates included. */
  delivered = 0;
  /** Receipts of a sequence number the subscriber already had. */
  duplicates = 0;
  /**
   * First receipts of seq s after some m > s although m was published only after s had been
   * answered: an ordering violation no server may commit.
   */
  outOfOrder = 0;
  /** Like `outOfOrder`, but s and m were in flight at the same time, so either order is fine. */
  reordered = 0;
  /** `data:` values that were not one of our payloads of the expected size. */
  malformed = 0;
  /** Subscriber connections that ended without us closing them. */
  serverClosed = 0;
  /** Distinct (subscriber, seq) receipts with seq in the measured range. */
  uniqueInWindow = 0;
  /** Publish→receive latency in ms of first receipts with seq in the measured range. */
  readonly latencyMs = new Samples();
  /** First few protocol or socket errors, for the report. */
  readonly errors: string[] = [];
  windowFrom = Number.POSITIVE_INFINITY;
  windowTo = Number.NEGATIVE_INFINITY;
  /** The publisher's clocks (µs), to tell reordering of concurrent publishes from violations. */
  publishTimes: { sentMicros: Float64Array; answeredMicros: Float64Array } | undefined;

  readonly payloadBytes: number;

  constructor(payloadBytes: number) {
    this.payloadBytes = payloadBytes;
  }

  error(message: string): void {
    if (this.errors.length < 10) this.errors.push(message);
  }
}
