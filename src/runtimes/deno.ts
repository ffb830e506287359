/**
 * `ssehub/deno`: the hub's glue for Deno (`Deno.serve`). Importing it starts nothing: `deno-cli.ts`
 * (what `npm run start:deno` runs) starts the hub with it, and so can an application:
 *
 * @example
 * import { denoGlue, runHub } from 'ssehub/deno';
 * Deno.exit(await runHub(Deno.args, Deno.env.toObject(), denoGlue()));
 */
import { acceptFailed } from './accept-errors.ts';
import { openFileLimit, processStats } from './process-stats.ts';
import { nodeSignatures } from './signatures.ts';
import { openNodeSqlite } from './sqlite.ts';
import type { FetchHandler, RuntimeGlue } from './startup.ts';

export { openNodeSqlite } from './sqlite.ts';
export { type FetchHandler, type RuntimeGlue, runHub } from './startup.ts';

/** The slice of Deno's API this module uses (typed here so the project needs no Deno type package). */
interface DenoApi {
  serve(
    options: { port: number; hostname?: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request, info: { remoteAddr: { hostname?: string } }) => Response | Promise<Response>,
  ): { shutdown(): Promise<void>; readonly finished: Promise<void> };
  addSignalListener(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void;
  exit(code: number): never;
}

/** Deno's global, read when a glue or server is made (so that importing this module elsewhere is harmless). */
function deno(): DenoApi {
  const api = (globalThis as unknown as { Deno?: DenoApi }).Deno;
  if (!api) throw new Error('ssehub/deno needs the Deno runtime');
  return api;
}

/** What the handler passes to the app as Hono's `c.env`. */
interface Peer {
  address?: string;
}

/**
 * Serves a fetch handler (a Hono app's `fetch`) with `Deno.serve`, passing the client address along
 * as `c.env.address`. Resolves once it listens; `close()` stops accepting, then waits for in-flight
 * requests.
 *
 * Deno's server stops for good when it cannot accept a connection (out of file descriptors): its
 * `finished` rejects, and with nothing else to do the process would end. The hub logs it and listens
 * again on the same port, while the connections it holds go on.
 */
export function serveDeno(
  fetch: FetchHandler,
  options: { port: number; host?: string },
): Promise<{ port: number; close(): Promise<void> }> {
  const handler = (request: Request, info: { remoteAddr: { hostname?: string } }) =>
    fetch(request, { address: info.remoteAddr.hostname } satisfies Peer);
  let closing = false;
  let server: { shutdown(): Promise<void> };
  return new Promise((resolve) => {
    const listen = (port: number, onListen?: (addr: { port: number }) => void) => {
      const current = deno().serve(
        { port, hostname: options.host, onListen: onListen ?? (() => {}) },
        handler,
      );
      server = current;
      current.finished.catch((error: unknown) => {
        if (closing) return;
        acceptFailed(error);
        setTimeout(again, RELISTEN_MS, port, RELISTEN_MS);
      });
    };
    /** Listens again, retrying (twice as long each time, up to 5 s) while the port cannot be had. */
    const again = (port: number, wait: number) => {
      if (closing) return;
      try {
        listen(port);
      } catch (error) {
        acceptFailed(error);
        const next = Math.min(wait * 2, 5000);
        setTimeout(again, next, port, next);
      }
    };
    listen(options.port, (addr) =>
      resolve({
        port: addr.port,
        close: () => {
          closing = true;
          return server.shutdown();
        },
      }),
    );
  });
}

/** How long after its server stopped the hub listens again. */
const RELISTEN_MS = 100;

/** Deno's glue for `runHub`: `Deno.serve`, the client address, signals and exit through `Deno`. */
export function denoGlue(): RuntimeGlue {
  const api = deno();
  return {
    name: 'deno',
    command: 'ssehub-deno',
    // Fan out once per event-loop turn, as on Node: publishes handled in one turn share one write per subscriber.
    defer: setImmediate,
    // node:sqlite is built into Deno 2 (it needs --allow-read and --allow-write for the file).
    openHistory: openNodeSqlite,
    processStats: processStats(),
    openFileLimit,
    serve: serveDeno,
    clientAddress: (c) => (c.env as Peer | undefined)?.address,
    signatures: nodeSignatures,
    onSignal: (signal, handler) => api.addSignalListener(signal, handler),
    exit: (code) => api.exit(code),
  };
}
