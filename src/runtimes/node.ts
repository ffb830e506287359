/**
 * `ssehub/node`: the hub's glue for Node (`node:http` through `@hono/node-server`, with a direct
 * path for event streams). Importing it starts nothing: `cli.ts` (the `ssehub` command) starts the
 * hub with it, and so can an application:
 *
 * @example
 * import { nodeGlue, runHub } from 'ssehub/node';
 * process.exit(await runHub(process.argv.slice(2), process.env, nodeGlue()));
 *
 * @example
 * // Or serve your own app (e.g. `createApp` from 'ssehub' mounted in it):
 * const server = await serveNode(app.fetch, { port: 3000 });
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { eventStreamOf, type StreamSink, writeStreamsDirectly } from '../sse/index.ts';
import { acceptFailed } from './accept-errors.ts';
import { loopDelayMonitor } from './loop-delay.ts';
import { chunkOf, installHttp1FastPath } from './node-http1.ts';
import { openFileLimit, processStats } from './process-stats.ts';
import { nodeSignatures } from './signatures.ts';
import { openBetterSqlite } from './sqlite.ts';
import type { FetchHandler, RuntimeGlue } from './startup.ts';

export { type LoopDelayOptions, loopDelayMonitor } from './loop-delay.ts';
export { openBetterSqlite } from './sqlite.ts';
export { type FetchHandler, type RuntimeGlue, runHub } from './startup.ts';

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
    // Event streams need no ReadableStream: this adapter writes them itself.
    writeStreamsDirectly(request);
    const response = await fetch(request, env);
    const stream = eventStreamOf(response);
    if (!stream) {
      if (response.headers.get('content-type') === 'text/event-stream' && response.body === null) {
        // A middleware replaced a direct event-stream response: it would go out empty.
        console.error(
          `ssehub: an event stream for ${request.url} was lost by a middleware that replaced the response`,
        );
      }
      return response;
    }
    const { outgoing } = env as { outgoing: ServerResponse };
    outgoing.writeHead(response.status, headersOf(response));
    // Sends the headers now. Not `flushHeaders()`: Node writes the header block in the encoding of the
    // first write, and that one writes a string, as UTF-8, which would encode a second time the bytes
    // above 0x7F of a header value (an id's UTF-8 bytes in Mercure-Last-Event-ID). A first write of
    // bytes sends the header block as Latin-1, one byte per char, as the Fetch API holds it (Node 20).
    outgoing.write(NO_BYTES);
    // The app built a direct stream without `request.signal`: the response's close is the disconnect.
    // (`close` fires once; `on` spares the wrapper `once` would keep for the stream's lifetime.)
    if (outgoing.destroyed) stream.abort('client');
    else outgoing.on('close', () => stream.abort('client'));
    stream.attach(new ResponseSink(outgoing));
    return RESPONSE_ALREADY_SENT;
  });
  // Subscribe URLs carry every matcher in the query: allow 64 KiB of headers (Node's default is 16 KiB)
  // so that a request with too many matchers gets the hub's clear 400 rather than a bare 431.
  const server = createServer({ maxHeaderSize: 64 * 1024 }, listener);
  // Event-stream requests skip Node's HTTP machinery (see node-http1.ts); everything else goes through it.
  const fastPath = installHttp1FastPath(server, fetch, server.headersTimeout);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // A reconnect storm (every client of a restarted hub at once) overflows Node's default accept
    // queue of 511, and each dropped SYN costs its client a retransmit after 1 s, then 3 s, 7 s…: a
    // queue of 4096 (the kernel caps it at net.core.somaxconn) holds them while the hub works through.
    server.listen({ port: options.port, host: options.host, backlog: 4096 }, () => {
      server.off('error', reject);
      // A connection it could not accept (out of files): reset by the system; without a listener
      // Node would throw the error and end the process.
      server.on('error', acceptFailed);
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        close: (graceMs = 2000) =>
          new Promise<void>((done) => {
            const force = setTimeout(() => {
              server.closeAllConnections();
              fastPath.drop();
            }, graceMs);
            server.close(() => {
              clearTimeout(force);
              done();
            });
            server.closeIdleConnections();
            fastPath.closing();
          }),
      });
    });
  });
}

const NO_BYTES = new Uint8Array(0);

/** Node's glue for `runHub`: `serveNode`, the socket's address, the event-loop delay, `process`. */
export function nodeGlue(): RuntimeGlue {
  return {
    name: 'node',
    command: 'ssehub',
    async serve(fetch, options) {
      const server = await serveNode(fetch, options);
      return { port: server.port, close: () => server.close(2000) };
    },
    clientAddress: (c) => {
      const env = c.env as { incoming?: IncomingMessage; socket?: Socket } | undefined;
      return (env?.socket ?? env?.incoming?.socket)?.remoteAddress;
    },
    signatures: nodeSignatures,
    // Fan out once per event-loop turn: every publish handled in the turn shares one write per subscriber.
    defer: setImmediate,
    // History in SQLite through better-sqlite3 (Node 20 has no node:sqlite).
    openHistory: openBetterSqlite,
    loopDelay: loopDelayMonitor(),
    processStats: processStats(),
    openFileLimit,
    onSignal: (signal, handler) => process.on(signal, handler),
    exit: (code) => process.exit(code),
  };
}

/** The response's headers as a plain object, built outside the listener so no closure keeps it. */
function headersOf(response: Response): Record<string, string> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return headers;
}

/**
 * Writes frames for one subscriber. Once the headers are on the socket, frames go to the socket
 * directly, already framed as HTTP/1.1 chunks (the framing is built once per frame and shared by
 * every subscriber): one `socket.write` per subscriber per batch, instead of `res.write`'s three
 * corked writes and a `nextTick` each. The bytes on the wire are the same; `res.end()` still writes
 * the closing chunk. Anything unusual (no socket yet, HTTP/1.0 without chunking) goes through `res`.
 */
class ResponseSink implements StreamSink {
  readonly #socket: Socket | null;
  readonly res: ServerResponse;

  constructor(res: ServerResponse) {
    this.res = res;
    const direct =
      res.headersSent &&
      res.chunkedEncoding &&
      res.socket !== null &&
      res.writableLength === res.socket.writableLength;
    this.#socket = direct ? res.socket : null;
  }

  write(chunk: Uint8Array): void {
    const socket = this.#socket;
    if (socket) {
      if (!socket.destroyed) socket.write(chunkOf(chunk));
    } else if (!this.res.destroyed) this.res.write(chunk);
  }

  get buffered(): number {
    return this.res.writableLength;
  }

  end(): void {
    this.res.end();
  }

  abort(): void {
    this.res.destroy();
  }

  onDrain(listener: () => void): void {
    const socket = this.res.socket;
    if (this.res.destroyed || !socket || socket.destroyed || this.buffered === 0) listener();
    // 'drain' only follows a write that returned false; otherwise the callback of an empty write
    // runs once everything queued before it has been handed to the kernel.
    else if (socket.writableNeedDrain) socket.once('drain', listener);
    else socket.write(NO_BYTES, () => listener());
  }
}
