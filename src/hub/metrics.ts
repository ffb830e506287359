/** Counters and gauges of one hub instance, rendered in the Prometheus text format. */
export class Metrics {
  /** Open subscriber streams. */
  connections = 0;
  /** Active topic matchers across all streams. */
  subscriptions = 0;
  updatesPublished = 0;
  eventsDelivered = 0;
  slowSubscribersClosed = 0;

  /**
   * Prometheus exposition (text format 0.0.4). `historyLength` comes from the broker when it knows it;
   * `loopDelay` (seconds) from the runtime when it can measure it.
   */
  render(historyLength?: number, loopDelay?: LoopDelay): string {
    const lines = [
      metric('ssehub_connections', 'gauge', 'Open subscriber streams.', this.connections),
      metric(
        'ssehub_subscriptions',
        'gauge',
        'Active topic matchers across all streams.',
        this.subscriptions,
      ),
      metric(
        'ssehub_updates_published_total',
        'counter',
        'Updates accepted by this instance.',
        this.updatesPublished,
      ),
      metric(
        'ssehub_events_delivered_total',
        'counter',
        'Events written to subscriber streams.',
        this.eventsDelivered,
      ),
      metric(
        'ssehub_slow_subscribers_closed_total',
        'counter',
        'Subscribers closed for falling too far behind.',
        this.slowSubscribersClosed,
      ),
    ];
    if (historyLength !== undefined) {
      lines.push(metric('ssehub_history_length', 'gauge', 'Updates retained for replay.', historyLength));
    }
    if (loopDelay) {
      const name = 'ssehub_event_loop_delay_seconds';
      lines.push(
        `# HELP ${name} How late the event loop ran timers since the previous scrape: the longest anything held it.\n`,
        `# TYPE ${name} gauge\n`,
        `${name}{quantile="0.99"} ${loopDelay.p99}\n${name}{quantile="1"} ${loopDelay.max}\n`,
      );
      if (loopDelay.busy !== undefined) {
        lines.push(
          metric(
            'ssehub_event_loop_busy_seconds',
            'gauge',
            'Longest delay of the event loop since the previous scrape that the process spent running (its own work, not waiting for a core).',
            loopDelay.busy,
          ),
        );
      }
    }
    return lines.join('');
  }
}

/** Event-loop delay since the previous reading, in seconds (see `HubOptions.loopDelay`). */
export interface LoopDelay {
  readonly p99: number;
  readonly max: number;
  /** The part of the longest delay the process spent running, where the runtime can tell. */
  readonly busy?: number;
}

function metric(name: string, type: string, help: string, value: number): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`;
}
