import { bearerKey } from './bearer-key.ts';
import { HubError } from './errors.ts';

/**
 * Who may read `/metrics`: anyone without a key (`SSEHUB_METRICS_KEY`); with one, its holders only.
 * Returns the refusal (401 with a `Bearer` challenge), or undefined to serve the request.
 */
export function metricsGuard(key: string | undefined): (request: Request) => Promise<Response | undefined> {
  if (!key) return async () => undefined;
  const holds = bearerKey(key);
  return async (request) => {
    const authorization = request.headers.get('authorization');
    if (await holds(authorization)) return undefined;
    const challenge =
      authorization === null ? 'Bearer realm="metrics"' : 'Bearer realm="metrics", error="invalid_token"';
    return new HubError('unauthorized', '/metrics needs the metrics key', {
      'www-authenticate': challenge,
    }).toResponse();
  };
}

/** Counters and gauges of one hub instance, rendered in the Prometheus text format. */
export class Metrics {
  /** Open subscriber streams. */
  connections = 0;
  /** Active topic matchers across all streams. */
  subscriptions = 0;
  updatesPublished = 0;
  eventsDelivered = 0;
  slowSubscribersClosed = 0;
  /** Requests refused with a 4xx or 503, by `HubError` code. */
  readonly rejected = new Map<string, number>();
  /** Requests refused by a rate limit, by limit. */
  readonly rateLimited = { publish: 0, subscribe: 0, room: 0 };
  /** Webhook deliveries by result (see `webhooks.ts`). */
  readonly webhooks = { delivered: 0, retried: 0, failed: 0, dropped: 0 };
  /** Webhook events waiting for delivery. */
  webhookQueue = 0;
  /** Streams closed by the admin API, revocations and `SSEHUB_MAX_CONNECTION_AGE`, by reason. */
  readonly closedBy = { admin: 0, revoked: 0, age: 0, drain: 0 };
  /** Seconds from a publish request's arrival to the write to the last local subscriber. */
  readonly publishLatency = new Histogram([
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
  ]);
  /** Seconds from a subscription's start to the end of its history replay. */
  readonly replayDuration = new Histogram([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30]);

  /**
   * Prometheus exposition (text format 0.0.4). `historyLength` comes from the broker when it knows it;
   * `loopDelay` (seconds) and the process's `stats` from the runtime when it can measure them.
   */
  render(historyLength?: number, loopDelay?: LoopDelay, stats?: ProcessStats): string {
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
    lines.push(
      labelled(
        'ssehub_rejected_requests_total',
        'counter',
        'Requests refused, by reason (the error code).',
        'reason',
        this.rejected,
      ),
      labelled(
        'ssehub_rate_limited_total',
        'counter',
        'Requests refused by a rate limit, by limit.',
        'limit',
        Object.entries(this.rateLimited),
      ),
      labelled(
        'ssehub_webhook_deliveries_total',
        'counter',
        'Webhook delivery attempts and events, by result: delivered, retried (an attempt failed), failed (attempts exhausted), dropped (queue full).',
        'result',
        Object.entries(this.webhooks),
      ),
      metric('ssehub_webhook_queue', 'gauge', 'Webhook events waiting for delivery.', this.webhookQueue),
      labelled(
        'ssehub_streams_closed_total',
        'counter',
        'Streams the hub ended on purpose, by reason: admin (disconnect), revoked, age (SSEHUB_MAX_CONNECTION_AGE), drain.',
        'reason',
        Object.entries(this.closedBy),
      ),
      this.publishLatency.render(
        'ssehub_publish_latency_seconds',
        'Seconds from a publish request to the write to the last local subscriber of the update.',
      ),
      this.replayDuration.render(
        'ssehub_replay_duration_seconds',
        'Seconds a subscription took to replay history (from its first read to going live).',
      ),
    );
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
    if (stats) lines.push(renderProcess(stats));
    return lines.join('');
  }
}

/**
 * The process running the hub, where the runtime can tell (see `HubOptions.processStats`): the
 * `process_*` names are those of Prometheus' client libraries, so that existing dashboards and alerts
 * read them.
 */
export interface ProcessStats {
  /** User and system CPU time since the process started. */
  readonly cpuSeconds: number;
  readonly residentBytes: number;
  /** Unix time the process started. */
  readonly startTimeSeconds: number;
  /** Open file descriptors: one per connection, plus a few. */
  readonly openFiles?: number;
  /** The soft open-file limit: connections past it are refused by the system. */
  readonly maxFiles?: number;
  /** The JavaScript heap: in use, and reserved. */
  readonly heapUsedBytes?: number;
  readonly heapTotalBytes?: number;
}

function renderProcess(p: ProcessStats): string {
  let out =
    metric(
      'process_cpu_seconds_total',
      'counter',
      'User and system CPU time spent, in seconds.',
      p.cpuSeconds,
    ) +
    metric('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', p.residentBytes) +
    metric(
      'process_start_time_seconds',
      'gauge',
      'Start time of the process since the Unix epoch, in seconds.',
      p.startTimeSeconds,
    );
  if (p.openFiles !== undefined) {
    out += metric(
      'process_open_fds',
      'gauge',
      'Open file descriptors (one per connection, plus a few).',
      p.openFiles,
    );
  }
  if (p.maxFiles !== undefined) {
    out += metric(
      'process_max_fds',
      'gauge',
      'The open-file limit: connections past it are refused by the system.',
      p.maxFiles,
    );
  }
  if (p.heapUsedBytes !== undefined) {
    out += metric('ssehub_heap_used_bytes', 'gauge', 'JavaScript heap in use, in bytes.', p.heapUsedBytes);
  }
  if (p.heapTotalBytes !== undefined) {
    out += metric(
      'ssehub_heap_total_bytes',
      'gauge',
      'JavaScript heap reserved, in bytes.',
      p.heapTotalBytes,
    );
  }
  return out;
}

/** Event-loop delay since the previous reading, in seconds (see `HubOptions.loopDelay`). */
export interface LoopDelay {
  readonly p99: number;
  readonly max: number;
  /** The part of the longest delay the process spent running, where the runtime can tell. */
  readonly busy?: number;
}

/** A Prometheus histogram with fixed upper bounds, in seconds. */
export class Histogram {
  readonly bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.#counts = bounds.map(() => 0);
  }

  /** Records one observation, in seconds. */
  observe(seconds: number): void {
    this.#sum += seconds;
    this.#count++;
    for (let i = 0; i < this.bounds.length; i++) {
      if (seconds <= this.bounds[i]!) {
        this.#counts[i]!++;
        return;
      }
    }
  }

  /** Observations so far. */
  get count(): number {
    return this.#count;
  }

  render(name: string, help: string): string {
    let cumulative = 0;
    let out = `# HELP ${name} ${help}\n# TYPE ${name} histogram\n`;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.#counts[i]!;
      out += `${name}_bucket{le="${this.bounds[i]}"} ${cumulative}\n`;
    }
    out += `${name}_bucket{le="+Inf"} ${this.#count}\n${name}_sum ${this.#sum}\n${name}_count ${this.#count}\n`;
    return out;
  }
}

function labelled(
  name: string,
  type: string,
  help: string,
  label: string,
  values: Iterable<[string, number]>,
): string {
  let out = `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
  for (const [key, value] of values) out += `${name}{${label}="${key}"} ${value}\n`;
  return out;
}

function metric(name: string, type: string, help: string, value: number): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`;
}
