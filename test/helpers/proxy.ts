/**
 * A TCP proxy in front of a hub, to break connections the way networks do: cut them (RST), refuse
 * new ones, or freeze them (open but silent). It records when each connection arrived and the HTTP
 * request head it carried, so tests can see reconnect timing and the headers a client sent.
 */
import { connect, createServer, type Socket } from 'node:net';
import { freePort } from './hub.ts';

export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  /** Arrival time (`Date.now()`) and head of every request forwarded, in order. */
  readonly requests: Array<{ at: number; head: string }>;
  /** Arrival time of every TCP connection, refused ones included. */
  readonly arrivals: number[];
  /** Resets every open connection. */
  cut(): void;
  /** While true, new connections are reset at once (the hub looks down). */
  refuse(on: boolean): void;
  /** Stops forwarding hub → client on open connections, keeping them open (a dead link with no FIN). */
  freeze(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<TcpProxy> {
  const port = await freePort();
  const open = new Set<{ client: Socket; upstream: Socket }>();
  const requests: Array<{ at: number; head: string }> = [];
  const arrivals: number[] = [];
  let refusing = false;

  const server = createServer((client) => {
    arrivals.push(Date.now());
    if (refusing) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    const pair = { client, upstream };
    open.add(pair);
    // Requests through the proxy are bodiless GETs, so each head is followed by the next one; a
    // keep-alive connection may carry several.
    let buffer = '';
    client.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (let end = buffer.indexOf('\r\n\r\n'); end !== -1; end = buffer.indexOf('\r\n\r\n')) {
        requests.push({ at: Date.now(), head: buffer.slice(0, end) });
        buffer = buffer.slice(end + 4);
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const drop = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('error', drop);
    upstream.on('error', drop);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    arrivals,
    cut() {
      for (const { client, upstream } of open) {
        client.resetAndDestroy();
        upstream.destroy();
      }
      open.clear();
    },
    refuse(on) {
      refusing = on;
    },
    freeze() {
      for (const { upstream } of open) {
        upstream.removeAllListeners('data');
        upstream.pause();
      }
    },
    close() {
      for (const { client, upstream } of open) {
        client.destroy();
        upstream.destroy();
      }
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
