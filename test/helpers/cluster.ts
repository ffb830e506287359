/**
 * Several hub processes on one Redis, and a subscriber that behaves like `EventSource` across them:
 * when its stream ends it reconnects (to the next instance) with `Last-Event-ID`.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { fixtureEnv } from '../conformance/target.ts';
import { startNodeHub } from './hub.ts';

/** One running hub instance. */
export type HubInstance = Awaited<ReturnType<typeof startNodeHub>>;

/** Starts `count` Node hubs sharing `redisUrl` (fixture settings: key, heartbeat 1 s, history 200). */
export async function startHubs(
  count: number,
  redisUrl: string,
  env: Record<string, string> = {},
): Promise<HubInstance[]> {
  return Promise.all(
    Array.from({ length: count }, () => startNodeHub({ ...fixtureEnv, SSEHUB_REDIS_URL: redisUrl, ...env })),
  );
}

/** GET /healthz status of a hub (0 when it cannot be reached). */
export async function health(url: string): Promise<number> {
  try {
    const response = await fetch(`${url}/healthz`);
    await response.body?.cancel();
    return response.status;
  } catch {
    return 0;
  }
}

/** One connection a {@link ResumingSubscriber} made. */
export interface Connection {
  url: string;
  /** The `Last-Event-ID` it sent, if any. */
  sent?: string;
  status: number;
  /** The `Mercure-Last-Event-ID` response header. */
  reconciled: string | null;
  /** Events received on this connection. */
  events: number;
}

/** A subscriber that survives instance failures, as `EventSource` does. */
export interface ResumingSubscriber {
  /** Every event received, across connections, in arrival order. */
  readonly events: EventSourceMessage[];
  readonly connections: Connection[];
  /** Resolves when `predicate` holds (rejects after `timeoutMs`). */
  waitFor(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /**
   * Cuts the current connection (as a network fault would); the subscriber reconnects at once, or
   * with `hold` only when {@link resume} is called.
   */
  cut(hold?: boolean): void;
  /** Lets a held subscriber reconnect. */
  resume(): void;
  /** Stops for good. */
  stop(): Promise<void>;
}

/**
 * Subscribes to `${urls[0]}/.well-known/mercure?${query}`; whenever the stream ends or a connection
 * fails, reconnects to the next URL in the list after `retryMs`, sending the last id seen.
 */
export function resumingSubscriber(
  urls: readonly string[],
  query: string,
  retryMs = 100,
): ResumingSubscriber {
  const events: EventSourceMessage[] = [];
  const connections: Connection[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of waiters) w();
  };
  let stopped = false;
  let controller = new AbortController();
  let next = 0;
  let held: Promise<void> | undefined;
  let release = () => {};

  const run = (async () => {
    while (!stopped) {
      const url = urls[next++ % urls.length]!;
      controller = new AbortController();
      const sent = events.at(-1)?.id;
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (sent !== undefined) headers['last-event-id'] = sent;
      try {
        const response = await fetch(`${url}/.well-known/mercure?${query}`, {
          headers,
          signal: controller.signal,
        });
        const connection: Connection = {
          url,
          sent,
          status: response.status,
          reconciled: response.headers.get('mercure-last-event-id'),
          events: 0,
        };
        connections.push(connection);
        notify();
        if (response.status === 200 && response.body) {
          const parser = createParser({
            onEvent: (event) => {
              events.push(event);
              connection.events++;
            },
          });
          const decoder = new TextDecoder();
          const reader = response.body.getReader();
          for (let r = await reader.read(); !r.done; r = await reader.read()) {
            parser.feed(decoder.decode(r.value, { stream: true }));
            notify();
          }
        } else await response.body?.cancel();
      } catch {
        // Refused, reset or cut: reconnect below, as EventSource does.
      }
      if (held) await held;
      if (!stopped) await new Promise((r) => setTimeout(r, retryMs));
    }
  })();

  return {
    events,
    connections,
    waitFor(predicate, what, timeoutMs = 10_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!predicate()) return false;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${events.length} events)`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    cut(hold = false) {
      if (hold) {
        held = new Promise<void>((resolve) => {
          release = () => {
            held = undefined;
            resolve();
          };
        });
      }
      controller.abort();
    },
    resume: () => release(),
    async stop() {
      stopped = true;
      release();
      controller.abort();
      await run;
    },
  };
}
