/**
 * The Node fast path for event-stream requests (src/runtimes/node-http1.ts), on the wire: what it
 * takes and answers itself, what it hands to Node's server untouched, and how a connection goes on
 * afterwards. The handler below stands for any app; the conformance suite runs the hub through it.
 */
import { createServer } from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeServer, serveNode } from '../../src/runtimes/node.ts';
import { installHttp1FastPath, parseHead } from '../../src/runtimes/node-http1.ts';
import { EventStream } from '../../src/sse/index.ts';

/** What the handler saw of each request, and the streams it opened. */
const seen: { url: string; method: string; isRequest: boolean; headers: [string, string][]; env: unknown }[] =
  [];
const streams: { stream: EventStream; closed: Promise<string> }[] = [];

async function handler(request: Request, env?: unknown): Promise<Response> {
  const url = new URL(request.url);
  seen.push({
    url: request.url,
    method: request.method,
    isRequest: request instanceof Request,
    headers: [...request.headers],
    env,
  });
  if (url.pathname === '/events') {
    let closed!: (reason: string) => void;
    const stream = new EventStream({ request, retry: 1000, onClose: (reason) => closed(reason) });
    streams.push({ stream, closed: new Promise((resolve) => (closed = resolve)) });
    return stream.response({ headers: { 'x-stream': 'yes', Vary: 'Origin', 'Content-Type': 'text/html' } });
  }
  if (url.pathname === '/chunks') {
    const parts = ['one,', 'two,', 'three'];
    return new Response(
      new ReadableStream({
        pull(controller) {
          const part = parts.shift();
          if (part === undefined) controller.close();
          else controller.enqueue(new TextEncoder().encode(part));
        },
      }),
    );
  }
  if (url.pathname === '/echo-body') return new Response(`body:${await request.text()}`);
  if (url.pathname === '/signal') {
    const aborted = new Promise<string>((resolve) =>
      request.signal.addEventListener('abort', () => resolve('aborted')),
    );
    streams.push({ stream: new EventStream(), closed: aborted });
    return new Response(null, { status: 204 });
  }
  return Response.json(
    { path: url.pathname, query: url.search },
    { status: url.pathname === '/bad' ? 400 : 200 },
  );
}

let server: NodeServer;
beforeAll(async () => {
  server = await serveNode(handler, { port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await server.close(100);
});

/** A raw connection that collects what it receives. */
function connect(port = server.port) {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  let closed = false;
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  socket.on('data', (d) => {
    received += d.toString('latin1');
    wake();
  });
  socket.on('close', () => {
    closed = true;
    wake();
  });
  socket.on('error', () => {});
  const until = (test: () => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(received)}`)),
        5000,
      );
      const check = () => {
        if (test()) {
          clearTimeout(timer);
          resolve();
        } else if (closed) {
          clearTimeout(timer);
          reject(new Error(`closed while waiting for ${what}; got ${JSON.stringify(received)}`));
        } else waiters.push(check);
      };
      check();
    });
  return {
    socket,
    write: (text: string) => socket.write(Buffer.from(text, 'latin1')),
    get received() {
      return received;
    },
    get closed() {
      return closed;
    },
    until,
    closedNow: () => until(() => closed, 'the connection to close'),
  };
}

const sse = (path: string, extra = '') =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n${extra}\r\n`;

describe('parseHead', () => {
  const head = (text: string) => parseHead(Buffer.from(text, 'latin1'));

  it('takes a plain event-stream GET, with its fields in order', () => {
    const parsed = head(
      'GET /.well-known/mercure?match=%2Fa HTTP/1.1\r\nHost: hub.test:3000\r\nAccept: text/event-stream\r\nLast-Event-ID:  x y \r\nCookie: a=1\r\nCookie: b=2\r\n\r\n',
    );
    expect(parsed).toEqual({
      target: '/.well-known/mercure?match=%2Fa',
      host: 'hub.test:3000',
      close: false,
      fields: [
        'host',
        'hub.test:3000',
        'accept',
        'text/event-stream',
        'last-event-id',
        'x y',
        'cookie',
        'a=1',
        'cookie',
        'b=2',
      ],
    });
    expect(head(sse('/e', 'Connection: close\r\n'))?.close).toBe(true);
    // Header values are bytes, one char each, as Node's server gives them.
    expect(head(sse('/e', 'Last-Event-ID: \xc3\xa9\r\n'))?.fields).toContain('\xc3\xa9');
  });

  it("leaves everything else to Node's server", () => {
    const refused = [
      'GET /e HTTP/1.1\r\nHost: h\r\n\r\n', // not an event-stream request
      'get /e HTTP/1.1\r\nHost: h\r\nAccept: text/event-stream\r\n\r\n',
      'POST /e HTTP/1.1\r\nHost: h\r\nAccept: text/event-stream\r\nContent-Length: 0\r\n\r\n',
      'GET /e HTTP/1.0\r\nHost: h\r\nAccept: text/event-stream\r\n\r\n',
      'GET http://h/e HTTP/1.1\r\nHost: h\r\nAccept: text/event-stream\r\n\r\n',
      'GET /e HTTP/1.1\r\nAccept: text/event-stream\r\n\r\n', // no Host
      sse('/e', 'Host: other\r\n'), // two Hosts
      'GET /e HTTP/1.1\r\nHost: h/x\r\nAccept: text/event-stream\r\n\r\n',
      sse('/e', 'Content-Length: 0\r\n'),
      sse('/e', 'Transfer-Encoding: chunked\r\n'),
      sse('/e', 'Upgrade: websocket\r\nConnection: Upgrade\r\n'),
      sse('/e', 'Expect: 100-continue\r\n'),
      sse('/e', 'X-Folded: a\r\n b\r\n'), // obsolete line folding
      sse('/e', 'Bad Name: x\r\n'),
      sse('/e', 'Name : x\r\n'),
      sse('/e', 'X: a\x00b\r\n'),
      sse('/e', 'X: a\nb\r\n'),
      'GET /e#frag HTTP/1.1\r\nHost: h\r\nAccept: text/event-stream\r\n\r\n',
      'GET /\xe9 HTTP/1.1\r\nHost: h\r\nAccept: text/event-stream\r\n\r\n',
      'GET /a b HTTP/1.1\r\nHost: h\r\nAccept: text/event-stream\r\n\r\n',
      'GET /e HTTP/1.1\r\nHost: h\r\nAccept: text/event-stream\r\n', // incomplete
      `${sse('/e')}GET /f HTTP/1.1\r\n\r\n`, // something after the head
    ];
    for (const text of refused) expect(head(text), JSON.stringify(text)).toBeUndefined();
  });
});

describe('the fast path on the wire', () => {
  it('answers an event-stream request itself: head, chunked frames, and the Request the app sees', async () => {
    const c = connect();
    c.write(sse('/events?x=1', 'Last-Event-ID: abc\r\n'));
    await c.until(() => c.received.includes('retry: 1000'), 'the retry hint');
    const [head] = c.received.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    // The stream's own headers as given (names in lower case), its content type over theirs, each once.
    const lines = head!.split('\r\n').slice(1);
    expect(lines.filter((l) => /^content-type:/i.test(l))).toEqual(['content-type: text/event-stream']);
    expect(lines.filter((l) => /^x-stream:/i.test(l))).toEqual(['x-stream: yes']);
    expect(lines.filter((l) => /^vary:/i.test(l))).toEqual(['vary: Origin']);
    expect(lines.filter((l) => /^cache-control:/i.test(l))).toEqual(['cache-control: no-cache']);
    expect(head).toContain('\r\nTransfer-Encoding: chunked');
    expect(head).toContain('\r\nConnection: keep-alive');
    expect(head).toMatch(/\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT/);
    const request = seen.at(-1)!;
    expect(request).toMatchObject({ url: 'http://127.0.0.1/events?x=1', method: 'GET', isRequest: true });
    expect(request.headers).toContainEqual(['last-event-id', 'abc']);
    // The fast path's env: the socket (what the glue reads the client address from).
    expect((request.env as { socket?: net.Socket }).socket?.remoteAddress).toBe('127.0.0.1');
    const { stream, closed } = streams.at(-1)!;
    stream.send({ id: '1', data: 'hello' });
    await c.until(() => c.received.includes('data: hello'), 'the event');
    const frame = 'id: 1\ndata: hello\n\n';
    expect(c.received).toContain(`\r\n${frame.length.toString(16)}\r\n${frame}\r\n`);
    // The client leaves: the stream learns at once.
    c.socket.destroy();
    expect(await closed).toBe('client');
  });

  it('keeps the connection for the next request once a stream ends, and ends it on Connection: close', async () => {
    const c = connect();
    c.write(sse('/events'));
    await c.until(() => c.received.includes('retry: 1000'), 'the stream');
    streams.at(-1)!.stream.close('server');
    await c.until(() => c.received.endsWith('\r\n0\r\n\r\n'), 'the last chunk');
    // Node's server takes the next request on the same connection.
    c.write('GET /after HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await c.until(() => c.received.includes('"path":"/after"'), 'the second answer');
    expect(c.closed).toBe(false);
    c.socket.destroy();

    const d = connect();
    d.write(sse('/events', 'Connection: close\r\n'));
    await d.until(() => d.received.includes('retry: 1000'), 'the stream');
    expect(d.received).toContain('\r\nConnection: close\r\n');
    streams.at(-1)!.stream.close('server');
    await d.closedNow();
    expect(d.received.endsWith('\r\n0\r\n\r\n')).toBe(true);
  });

  it('answers what is not a stream with its length, then goes on with the next request', async () => {
    const c = connect();
    c.write(sse('/bad?q=1'));
    await c.until(() => c.received.includes('"query":"?q=1"'), 'the error answer');
    expect(c.received).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    const body = '{"path":"/bad","query":"?q=1"}';
    expect(c.received).toContain(`\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    // A second event-stream request on the connection: Node's server answers it, and the bytes agree.
    c.write(sse('/bad?q=2'));
    await c.until(() => c.received.includes('"query":"?q=2"'), 'the second answer');
    expect(c.received.match(/HTTP\/1\.1 400 Bad Request/g)).toHaveLength(2);
    c.socket.destroy();

    const d = connect();
    d.write(sse('/chunks'));
    await d.until(() => d.received.endsWith('\r\n0\r\n\r\n'), 'the chunked body');
    expect(d.received).toContain(
      'Transfer-Encoding: chunked\r\n\r\n4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n',
    );
    d.socket.destroy();
  });

  it("hands Node's server what it does not take: split heads, pipelined requests, bodies", async () => {
    const split = connect();
    split.write('GET /split HTTP/1.1\r\nHost: 127.0.0.1\r\nAcc');
    await new Promise((resolve) => setImmediate(resolve));
    split.write('ept: text/event-stream\r\n\r\n');
    await split.until(() => split.received.includes('"path":"/split"'), 'the answer');
    split.socket.destroy();

    const pipelined = connect();
    pipelined.write(`${sse('/first')}${sse('/second')}`);
    await pipelined.until(() => pipelined.received.includes('"path":"/second"'), 'both answers');
    expect(pipelined.received.indexOf('/first')).toBeLessThan(pipelined.received.indexOf('/second'));
    pipelined.socket.destroy();

    const body = connect();
    body.write(
      'POST /echo-body HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nContent-Length: 5\r\n\r\nhello',
    );
    await body.until(() => body.received.includes('body:hello'), 'the echoed body');
    body.socket.destroy();
  });

  it('gives the app a Request whose signal aborts when the client leaves, and whose body reads empty', async () => {
    const c = connect();
    c.write(sse('/signal'));
    await c.until(() => c.received.includes('204 No Content'), 'the answer');
    expect(c.received).not.toMatch(/Content-Length|Transfer-Encoding/);
    const { closed } = streams.at(-1)!;
    c.socket.destroy();
    expect(await closed).toBe('aborted');
  });

  it('drops a connection that sends nothing within the headers timeout', async () => {
    const http = createServer(() => {});
    installHttp1FastPath(http, handler, 2000);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const port = (http.address() as net.AddressInfo).port;
    const started = performance.now();
    const silent = connect(port);
    await silent.closedNow();
    const after = performance.now() - started;
    // One to two sweep periods of half the timeout each.
    expect(after).toBeGreaterThan(900);
    expect(after).toBeLessThan(4000);
    await new Promise((resolve) => http.close(resolve));
  });

  it('closes at once a connection its client ended before sending a byte', async () => {
    // The hub's server waits 60 s for a head: its sweep is no part of this. Under Node's half-open
    // default the server end would stay open, one descriptor each, until then.
    const quiet = Array.from({ length: 20 }, () => connect());
    await Promise.all(
      quiet.map((c) => new Promise<void>((resolve) => c.socket.once('connect', () => resolve()))),
    );
    for (const c of quiet) c.socket.end();
    await Promise.all(quiet.map((c) => c.closedNow()));
    expect(quiet.every((c) => c.received === '')).toBe(true);
    // The server still answers on a fresh connection.
    const next = connect();
    next.write(sse('/events'));
    await next.until(() => next.received.includes('x-stream: yes'), 'the head');
    next.socket.destroy();
  });

  it('goes on when the listening server cannot accept a connection (out of files), and says so', async () => {
    const logged: string[] = [];
    const error = console.error;
    console.error = (line: string) => logged.push(line);
    try {
      // What Node does when accepting fails: an 'error' on the server, which ends a process that
      // does not listen for it.
      const refusal = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' });
      expect(() => server.server.emit('error', refusal)).not.toThrow();
    } finally {
      console.error = error;
    }
    expect(logged.join('\n')).toMatch(
      /could not accept 1 connection\(s\) \(accept EMFILE\): the open-file limit/,
    );
    const next = connect();
    next.write(sse('/events'));
    await next.until(() => next.received.includes('x-stream: yes'), 'the head');
    next.socket.destroy();
  });

  it('closes without waiting out its grace: connections kept after a stream, or silent, are ended', async () => {
    const own = await serveNode(handler, { port: 0, host: '127.0.0.1' });
    // One connection whose stream ended (kept for another request), one that has sent nothing.
    const kept = connect(own.port);
    kept.write(sse('/events'));
    await kept.until(() => kept.received.includes('x-stream: yes'), 'the head');
    const { stream, closed } = streams.at(-1)!;
    stream.close();
    await closed;
    await kept.until(() => kept.received.endsWith('0\r\n\r\n'), 'the last chunk');
    const silent = connect(own.port);
    await new Promise<void>((resolve) => silent.socket.once('connect', () => resolve()));
    const started = performance.now();
    await own.close(20_000);
    // Well inside the grace: nothing was left to wait for.
    expect(performance.now() - started).toBeLessThan(10_000);
    await kept.closedNow();
    await silent.closedNow();
  });
});
