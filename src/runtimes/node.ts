import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { eventStreamOf, type StreamSink } from '../sse/stream.ts';

type FetchHandler = (request: Request, env?: unknown) => Response | Promise<Response>;

export interface NodeServer {
  readonly server: Server;
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** Stops accepting connections, then closes the remaining ones after `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Serves a fetch handler (a Hono app's `fetch`) on Node's HTTP server through `@hono/node-server`.
 * Event streams take a fast path: their frames go straight to the `ServerResponse` (no
 * `ReadableStream` read loop per subscriber), with `res.writableLength` as the backlog the queue bound
 * applies to. Headers are flushed at once so `EventSource` fires `open` without waiting for an event.
 */
export function serveNode(
  fetch: FetchHandler,
  options: { port: number; host?: string },
): Promise<NodeServer> {
  const listener = getRequestListener(async (request, env) => {
    const response = await fetch(request, env);
    const stream = eventStreamOf(response.body);
    if (!stream) return response;
    const { outgoing } = env as { outgoing: ServerResponse };
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    outgoing.writeHead(response.status, headers);
    outgoing.flushHeaders();
    stream.attach(responseSink(outgoing));
    // A socket that closes without a goodbye: node-server aborts request.signal, which ends the stream.
    return RESPONSE_ALREADY_SENT;
  });
  const server = createServer(listener);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        close: (graceMs = 2000) =>
          new Promise<void>((done) => {
            const force = setTimeout(() => server.closeAllConnections(), graceMs);
            server.close(() => {
              clearTimeout(force);
              done();
            });
            server.closeIdleConnections();
          }),
      });
    });
  });
}

function responseSink(res: ServerResponse): StreamSink {
  return {
    write(chunk) {
      if (!res.destroyed) res.write(chunk);
    },
    get buffered() {
      return res.writableLength;
    },
    end() {
      res.end();
    },
    abort() {
      res.destroy();
    },
  };
}
