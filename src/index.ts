/**
 * `ssehub`: the whole application as one Hono app (the Mercure hub, health and metrics, WebRTC rooms,
 * the console and the demo) and the settings it runs with. Serve it with a runtime's glue
 * (`ssehub/node`, `ssehub/bun`, `ssehub/deno`) or mount it in an app of your own; the layers below
 * have entry points of their own (`ssehub/sse`, `ssehub/hub`, `ssehub/brokers`, `ssehub/redis`,
 * `ssehub/client`).
 *
 * @example
 * import { createApp, parseConfig } from 'ssehub';
 * import { serveNode } from 'ssehub/node';
 *
 * const parsed = parseConfig(process.argv.slice(2), process.env);
 * if (parsed.help) throw new Error('no help here');
 * const { app, hub } = createApp({ config: parsed.config });
 * await hub.ready;
 * await serveNode(app.fetch, { port: parsed.config.port });
 *
 * @module
 */
export { type AppOptions, createApp } from './app.ts';
export {
  type Config,
  ConfigError,
  defaults,
  helpText,
  type Kind,
  type ParsedArgs,
  parseConfig,
  type Setting,
  settings,
  settingsMarkdown,
} from './config/index.ts';
