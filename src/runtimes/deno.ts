/**
 * `npm run start:deno`: the hub on Deno (`Deno.serve`), with the same settings and start-up as the
 * Node CLI (flags and environment variables, `PORT` included; see `src/runtimes/startup.ts`).
 */
import { runHub } from './startup.ts';

/** The slice of Deno's API this entry uses (typed here so the project needs no Deno type package). */
interface DenoApi {
  readonly args: string[];
  env: { toObject(): Record<string, string> };
  serve(
    options: { port: number; hostname?: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request, info: { remoteAddr: { hostname?: string } }) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
  addSignalListener(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void;
  exit(code: number): never;
}

const Deno: DenoApi = (globalThis as unknown as { Deno: DenoApi }).Deno;

/** What the handler passes to the app as Hono's `c.env`. */
interface Peer {
  address?: string;
}

runHub(Deno.args, Deno.env.toObject(), {
  name: 'deno',
  serve: (fetch, { port, host }) =>
    new Promise((resolve) => {
      const server = Deno.serve(
        // shutdown() stops accepting, then waits for in-flight requests.
        {
          port,
          hostname: host,
          onListen: (addr) => resolve({ port: addr.port, close: () => server.shutdown() }),
        },
        (request, info) => fetch(request, { address: info.remoteAddr.hostname } satisfies Peer),
      );
    }),
  clientAddress: (c) => (c.env as Peer | undefined)?.address,
  onSignal: (signal, handler) => Deno.addSignalListener(signal, handler),
  exit: (code) => Deno.exit(code),
}).then(
  (code) => Deno.exit(code),
  (error) => {
    console.error('ssehub:', error instanceof Error ? error.message : error);
    Deno.exit(1);
  },
);
