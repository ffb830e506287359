import { Hono } from 'hono';
import type { Broker } from './brokers/index.ts';
import { createMemoryBroker } from './brokers/index.ts';
import type { Config } from './config/index.ts';
import {
  createHub,
  errorResponse,
  HUB_PATH,
  type Hub,
  HubError,
  type HubOptions,
  notFound,
  retentionOf,
} from './hub/index.ts';
import { createRooms } from './signaling/index.ts';
import { servePages } from './web/index.ts';

export interface AppOptions {
  config: Config;
  /** Defaults to the memory broker, bounded by `config.historySize` and `config.historyBytes`. */
  broker?: Broker;
  /** Runtime-provided hub options: issuers read from a file, a shared registry, the client address. */
  hub?: Pick<
    HubOptions,
    | 'issuers'
    | 'registry'
    | 'clientAddress'
    | 'signatures'
    | 'defer'
    | 'loopDelay'
    | 'processStats'
    | 'operations'
  >;
}

/**
 * The whole ssehub application — the Mercure hub, health and metrics, WebRTC rooms, the browser
 * console at `/` and the demo at `/demo` — as one Hono app that every runtime entry serves.
 * @throws {ConfigError} for invalid settings (issuers, CORS origins, rooms).
 */
export function createApp(options: AppOptions): { app: Hono; hub: Hub } {
  const broker = options.broker ?? createMemoryBroker({ retention: retentionOf(options.config, HUB_PATH) });
  const rooms = createRooms(options.config, HUB_PATH);
  const base = createHub({
    ...options.hub,
    issuers: [...(options.hub?.issuers ?? []), ...rooms.issuers],
    broker,
    settings: options.config,
    guard: rooms.guard,
    admit: rooms.admit,
  });
  const mounted = rooms.attach(base);
  // The rooms' keys and rebuilt state are part of being ready; shutting down stops following the broker.
  const hub: Hub = {
    ...base,
    ready: Promise.all([base.ready, mounted.ready]).then(() => {}),
    async shutdown() {
      await base.shutdown();
      mounted.close();
    },
  };
  const app = new Hono();
  // Every refusal is counted by reason (`ssehub_rejected_requests_total`).
  app.onError((error) => {
    if (error instanceof HubError) {
      hub.metrics.rejected.set(error.code, (hub.metrics.rejected.get(error.code) ?? 0) + 1);
    }
    return errorResponse(error);
  });
  app.notFound(notFound);
  app.route('/', hub.app);
  app.route('/', mounted.app);
  // Valid by now: createHub checked it.
  const publicUrl = options.config.publicUrl;
  servePages(app, { publicOrigin: publicUrl === undefined ? undefined : new URL(publicUrl).origin });
  return { app, hub };
}
