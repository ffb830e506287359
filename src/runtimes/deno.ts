/**
 * `npm run start:deno`: the hub on Deno (`Deno.serve`) with the memory broker and the same settings as
 * the Node CLI (flags and environment variables, `PORT` included).
 */
import { createApp } from '../app.ts';
import { banner, prepare } from './startup.ts';

/** The slice of Deno's API this entry uses (typed here so the project needs no Deno type package). */
interface DenoApi {
  readonly args: string[];
  env: { toObject(): Record<string, string> };
  serve(
    options: { port: number; hostname?: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { readonly finished: Promise<void>; shutdown(): Promise<void> };
  addSignalListener(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void;
  exit(code: number): never;
}

const Deno: DenoApi = (globalThis as unknown as { Deno: DenoApi }).Deno;

const start = await prepare(Deno.args, Deno.env.toObject(), 'ssehub-deno');
if (!start.run) {
  const write = start.code === 0 ? console.log : console.error;
  write(start.message.trimEnd());
  Deno.exit(start.code);
}
const { config, devToken } = start;
const { app, hub } = createApp({ config });
const server = Deno.serve(
  {
    port: config.port,
    hostname: config.host,
    onListen: ({ port }) => console.log(banner('deno', port, config, devToken)),
  },
  (request) => app.fetch(request),
);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`ssehub: ${signal} received, closing streams`);
  // Streams end first with a clean end of body (clients reconnect at once); shutdown() then waits for
  // the remaining in-flight requests before the process exits.
  await hub.shutdown();
  await hub.broker.close();
  await server.shutdown();
  Deno.exit(0);
}
Deno.addSignalListener('SIGTERM', () => void stop('SIGTERM'));
Deno.addSignalListener('SIGINT', () => void stop('SIGINT'));
