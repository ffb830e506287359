/**
 * Which instance sends the webhooks of a subscription event, and how many subscriptions each topic has
 * across instances. Every instance reads every subscription event from the broker; the ledger lets
 * exactly one of them claim it, and counts for that one, so "topic occupied" and "topic vacated" are
 * decided once for the whole hub. A backend contract: memory here (one instance or the Durable
 * Object), Redis in `./redis/operations.ts`.
 */
export interface WebhookLedger {
  /**
   * Claims subscription event `eventId` for this instance and adds `delta` to the count of each of
   * `counters` (e.g. the topic's subscriptions). Resolves with the new counts, in order, when this
   * instance claimed the event; undefined when another one already had.
   */
  claim(eventId: string, counters: readonly string[], delta: 1 | -1): Promise<number[] | undefined>;
  close(): Promise<void>;
}

/** The in-process ledger: this instance claims every event. Entries exist only for occupied topics. */
export function createMemoryLedger(): WebhookLedger {
  const counts = new Map<string, number>();
  return {
    async claim(_eventId, counters, delta) {
      return counters.map((counter) => {
        const count = (counts.get(counter) ?? 0) + delta;
        if (count <= 0) counts.delete(counter);
        else counts.set(counter, count);
        return Math.max(0, count);
      });
    },
    async close() {
      counts.clear();
    },
  };
}
