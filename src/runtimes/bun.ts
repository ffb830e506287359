/**
 * `npm run start:bun`: the hub on Bun (`Bun.serve`) with the memory broker and the same settings as the
 * Node CLI (flags and environment variables, `PORT` included).
 */
import { createApp } from '../app.ts';
import { banner, prepare } from './startup.ts';

/** The slice of Bun's API this entry uses (typed here so the project needs no Bun type package). */
interface BunApi {
  serve(options: {
    port: number;
    hostname?: string;
    /** Seconds a connection may sit without traffic; 0 = never close. */
    idleTimeout?: number;
    fetch(request: Request): Response | Promise<Response>;
  }): { readonly port: number; stop(closeActiveConnections?: boolean): Promise<void> };
}

const Bun = (globalThis as unknown as { Bun: BunApi }).Bun;

const start = await prepare(process.argv.slice(2), process.env);
if (!start.run) {
  (start.code === 0 ? process.stdout : process.stderr).write(start.message);
  process.exit(start.code);
}
const { config, devToken } = start;
const { app, hub } = createApp({ config });
const server = Bun.serve({
  port: config.port,
  hostname: config.host,
  // Bun closes connections idle for 10 s by default (Bun 1.1+): an event stream between heartbeats is
  // idle, so turn it off; the hub's heartbeat still keeps proxies in between from cutting the stream.
  idleTimeout: 0,
  fetch: (request) => app.fetch(request),
});
console.log(banner('bun', server.port, config, devToken));

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`ssehub: ${signal} received, closing streams`);
  // Ends every stream with a clean end of body first, so clients reconnect at once; then waits for
  // the other in-flight requests (Bun's stop() without force is graceful).
  await hub.shutdown();
  await hub.broker.close();
  await server.stop();
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
