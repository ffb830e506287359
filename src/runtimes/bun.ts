/**
 * `npm run start:bun`: the hub on Bun (`Bun.serve`), with the same settings and start-up as the Node
 * CLI (flags and environment variables, `PORT` included; see `src/runtimes/startup.ts`).
 */
import { runHub } from './startup.ts';

/** The slice of Bun's API this entry uses (typed here so the project needs no Bun type package). */
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

const Bun = (globalThis as unknown as { Bun: BunApi }).Bun;

/** What the handler passes to the app as Hono's `c.env`. */
interface Peer {
  address?: string;
}

runHub(process.argv.slice(2), process.env, {
  name: 'bun',
  async serve(fetch, { port, host }) {
    const server = Bun.serve({
      port,
      hostname: host,
      // Bun closes connections idle for 10 s by default (Bun 1.1+): an event stream between two
      // heartbeats is idle, so turn it off; the heartbeat still keeps proxies in between awake.
      idleTimeout: 0,
      fetch: (request, server) =>
        fetch(request, { address: server.requestIP(request)?.address } satisfies Peer),
    });
    return { port: server.port, close: () => server.stop() };
  },
  clientAddress: (c) => (c.env as Peer | undefined)?.address,
  onSignal: (signal, handler) => process.on(signal, handler),
  exit: (code) => process.exit(code),
}).then(
  (code) => process.exit(code),
  (error) => {
    console.error('ssehub:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
