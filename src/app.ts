import { Hono } from 'hono';
import { createMemoryBroker } from './brokers/memory.ts';
import type { Broker } from './brokers/types.ts';
import type { Config } from './config.ts';
import { createHub, type Hub, type HubOptions } from './hub/app.ts';
import { consolePage } from './web/console.ts';

export interface AppOptions {
  config: Config;
  /** Defaults to the memory broker sized by `config.historySize`. */
  broker?: Broker;
  /** Runtime-provided hub options: issuers read from a file, a shared registry, the client address. */
  hub?: Pick<HubOptions, 'issuers' | 'registry' | 'clientAddress'>;
}

/**
 * The whole ssehub application — the Mercure hub, health and metrics, and the browser console at
 * `/` — as one Hono app that every runtime entry serves.
 */
export function createApp(options: AppOptions): { app: Hono; hub: Hub } {
  const broker = options.broker ?? createMemoryBroker({ historySize: options.config.historySize });
  const hub = createHub({ ...options.hub, broker, settings: options.config });
  const app = new Hono();
  app.route('/', hub.app);
  app.get('/', (c) => c.html(consolePage));
  return { app, hub };
}
