/**
 * `ssehub/bun`: the hub's glue for Bun (`Bun.serve`). Importing it starts nothing: `bun-cli.ts` (what
 * `npm run start:bun` runs) and the single-file executable (`binary.ts`) start the hub with it, and so
 * can an application:
 *
 * @example
 * import { bunGlue, runHub } from 'ssehub/bun';
 * process.exit(await runHub(process.argv.slice(2), process.env, bunGlue()));
 */

import { openFileLimit, processStats } from './process-stats.ts';
import { nodeSignatures } from './signatures.ts';
import { openBunSqlite } from './sqlite.ts';
import type { FetchHandler, RuntimeGlue } from './startup.ts';

export { openBunSqlite } from './sqlite.ts';
export { type FetchHandler, type RuntimeGlue, runHub } from './startup.ts';

/** The slice of Bun's API this module uses (typed here so the project needs no Bun type package). */
interface BunServer {
  readonly port: number;
  requestIP(request: Request): { address: string } | null;
  /** Without `true`, waits for in-flight requests. */
  stop(closeActiveConnections?: boolean): Promise<void>;
}
interface BunApi {
  serve(options: {
    port: number;
    hostname?: string;
    /** Seconds a connection may sit without traffic; 0 = never close. */
    idleTimeout?: number;
    fetch(request: Request, server: BunServer): Response | Promise<Response>;
  }): BunServer;
}

/** Bun's global, read when a server starts (so that importing this module elsewhere is harmless). */
function bun(): BunApi {
  const api = (globalThis as unknown as { Bun?: BunApi }).Bun;
  if (!api) throw new Error('ssehub/bun needs the Bun runtime');
  return api;
}

/** What the handler passes to the app as Hono's `c.env`. */
interface Peer {
  address?: string;
}

/**
 * Serves a fetch handler (a Hono app's `fetch`) with `Bun.serve`, passing the client address along
 * as `c.env.address`. Resolves once it listens; `close()` waits for in-flight requests.
 */
export async function serveBun(
  fetch: FetchHandler,
  options: { port: number; host?: string },
): Promise<{ port: number; close(): Promise<void> }> {
  const server = bun().serve({
    port: options.port,
    hostname: options.host,
    // Bun closes connections idle for 10 s by default (Bun 1.1+): an event stream between two
    // heartbeats is idle, so turn it off; the heartbeat still keeps proxies in between awake.
    idleTimeout: 0,
    fetch: (request, server) =>
      fetch(request, { address: server.requestIP(request)?.address } satisfies Peer),
  });
  return { port: server.port, close: () => server.stop() };
}

/** Bun's glue for `runHub`: `Bun.serve`, the client address, signals and exit through `process`. */
export function bunGlue(): RuntimeGlue {
  return {
    name: 'bun',
    command: 'ssehub-bun',
    // Fan out once per event-loop turn, as on Node: publishes handled in one turn share one write per subscriber.
    defer: setImmediate,
    openHistory: openBunSqlite,
    processStats: processStats(),
    openFileLimit,
    serve: serveBun,
    clientAddress: (c) => (c.env as Peer | undefined)?.address,
    signatures: nodeSignatures,
    onSignal: (signal, handler) => process.on(signal, handler),
    exit: (code) => process.exit(code),
  };
}
