/**
 * The Node fast path for event-stream requests: a strict reader of one HTTP/1.1 request head in front
 * of Node's HTTP server. A subscription is one plain `GET` whose head arrives in one piece; parsing it
 * here and writing the answer straight to the socket spares each one the `IncomingMessage`,
 * `ServerResponse` and parser state Node's server keeps for the life of the connection — the bulk of
 * what a subscription costs in CPU and memory besides the hub itself.
 *
 * Only what is plainly such a request takes this path: `GET`, origin-form target, `HTTP/1.1`, a `Host`,
 * `Accept: text/event-stream`, no body, no upgrade or expectation, every byte of the head well formed,
 * the head complete in the connection's first read and nothing after it. Anything else — and every
 * later request on a kept-alive connection — is handed, bytes unread, to Node's server as if it had
 * just been accepted. The fetch handler sees the same `Request` either way, and the bytes it answers
 * with go out the same, so the path is invisible to applications.
 */
import { type Server, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { type EventStream, eventStreamOf, type StreamSink, writeStreamsDirectly } from '../sse/index.ts';
import { FieldHeaders } from './field-headers.ts';

/** What the fast path needs of the fetch handler: the app's `fetch`, with the socket as `env`. */
export type Http1Fetch = (request: Request, env: { socket: Socket }) => Response | Promise<Response>;

/** Longest first read considered: Node reads at most 64 KiB at once anyway. */
const MAX_HEAD = 64 * 1024;

/** What the Node glue needs of the fast path when its server closes. */
export interface Http1FastPath {
  /**
   * The server is closing: connections whose stream ends from now on are closed rather than kept,
   * and those kept after an earlier stream (idle, waiting for another request that Node's server
   * would read) or still silent are ended now, so that the server does not wait for them.
   */
  closing(): void;
  /** Ends every connection the fast path still holds (a forced shutdown). */
  drop(): void;
}

/**
 * Puts the fast path in front of `server`: its `connection` listener (Node's HTTP machinery) then
 * only sees what the fast path hands over.
 * @param headersTimeout ms a new connection may take to send its first bytes before it is dropped
 *   (what Node's server enforces on the connections it holds).
 */
export function installHttp1FastPath(
  server: Server,
  fetch: Http1Fetch,
  headersTimeout: number,
): Http1FastPath {
  const [httpConnection] = server.listeners('connection') as ((socket: Socket) => void)[];
  if (!httpConnection) throw new Error('ssehub: node:http server without a connection listener');
  server.removeAllListeners('connection');
  const handOver = (socket: Socket) => httpConnection.call(server, socket);
  /** Connections handed to Node's server after a stream of ours: idle until their next request. */
  const kept = new Set<Socket>();
  const forget = function (this: Socket) {
    kept.delete(this);
  };
  let closing = false;
  const keep = (socket: Socket) => {
    if (closing) {
      socket.end();
      return;
    }
    kept.add(socket);
    socket.once('close', forget);
    handOver(socket);
  };
  const held = new Set<Socket>();
  const waiting = new Waiting(headersTimeout);

  server.on('connection', (socket: Socket) => {
    // Until its first read, a connection costs one set entry; a silent one is dropped by the sweep.
    waiting.add(socket);
    socket.on('error', ignore);
    socket.once('data', (chunk: Buffer) => {
      waiting.delete(socket);
      socket.off('error', ignore);
      const head = chunk.byteLength <= MAX_HEAD ? parseHead(chunk) : undefined;
      if (!head) {
        // Not ours: Node's server reads it from the start, with its own limits and error answers.
        socket.pause();
        socket.unshift(chunk);
        handOver(socket);
        socket.resume();
        return;
      }
      void answer(socket, head, fetch, keep, held);
    });
  });
  return {
    closing() {
      closing = true;
      // A kept connection with a response in progress belongs to Node's server, which ends it after.
      for (const socket of kept) {
        if (!(socket as Socket & { _httpMessage?: unknown })._httpMessage) socket.end();
      }
      waiting.clear();
    },
    drop() {
      for (const socket of held) socket.destroy();
      waiting.clear();
    },
  };
}

const ignore = () => {};

/**
 * A connection whose client ended it before sending a byte has nothing to answer: close it now. Node's
 * server allows half-open connections, so without this its descriptor would stay open until the sweep
 * (up to twice `headersTimeout`) — a stranger who connects and hangs up, over and over, could fill
 * the process's open-file limit without holding a single socket.
 */
function endedSilent(this: Socket): void {
  this.destroy();
}

/**
 * Connections waiting for their first bytes, in two generations swept by one timer: each is dropped
 * between one and two periods after it was accepted, whatever their number.
 */
class Waiting {
  #current = new Set<Socket>();
  #previous = new Set<Socket>();
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #period: number;

  constructor(timeout: number) {
    this.#period = Math.max(1000, Math.floor(timeout / 2));
  }

  /** One listener for every waiting socket (`this` is the socket): no closure per connection. */
  readonly #closed = (() => {
    const waiting = this;
    return function (this: Socket) {
      waiting.delete(this);
    };
  })();

  add(socket: Socket): void {
    this.#current.add(socket);
    socket.on('close', this.#closed);
    socket.on('end', endedSilent);
    this.#timer ??= setInterval(() => this.#sweep(), this.#period).unref();
  }

  delete(socket: Socket): void {
    socket.off('close', this.#closed);
    socket.off('end', endedSilent);
    if (!this.#current.delete(socket)) this.#previous.delete(socket);
  }

  clear(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const socket of [...this.#current, ...this.#previous]) socket.destroy();
  }

  #sweep(): void {
    for (const socket of this.#previous) socket.destroy();
    this.#previous = this.#current;
    this.#current = new Set();
    if (this.#previous.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

/** A request head the fast path takes: its target and its header fields in order. */
interface Head {
  readonly target: string;
  readonly host: string;
  /** The client asked to close the connection after this request (`Connection: close`). */
  readonly close: boolean;
  /** Names (lower case) and values, alternating. */
  readonly fields: string[];
}

/** tchar of RFC 9110, as a table over ASCII. */
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  TOKEN[c.charCodeAt(0)] = 1;
}

/** Fields whose presence means a body, a protocol switch or an interim answer: Node's server handles those. */
const NOT_OURS = new Set(['content-length', 'transfer-encoding', 'upgrade', 'expect', 'te', 'trailer']);

/**
 * Parses `chunk` as exactly one request head the fast path takes, or returns undefined. Strict by
 * design: whatever it refuses goes to Node's server, which accepts or rejects it as it always did.
 */
export function parseHead(chunk: Buffer): Head | undefined {
  // Latin-1: one char per byte, as Node's server hands header values to applications.
  const text = chunk.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1 || end !== text.length - 4 || !text.startsWith('GET /')) return undefined;
  const lineEnd = text.indexOf('\r\n');
  const requestLine = text.slice(0, lineEnd);
  if (!requestLine.endsWith(' HTTP/1.1')) return undefined;
  const target = requestLine.slice(4, requestLine.length - 9);
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    // Visible ASCII only, and no fragment: a target with anything else is not one a client sends.
    if (c <= 0x20 || c >= 0x7f || c === 0x23) return undefined;
  }
  const fields: string[] = [];
  let host: string | undefined;
  let accepts = false;
  let close = false;
  let at = lineEnd + 2;
  while (at < end) {
    const next = text.indexOf('\r\n', at);
    const colon = text.indexOf(':', at);
    if (colon <= at || colon > next) return undefined;
    for (let i = at; i < colon; i++) {
      const c = text.charCodeAt(i);
      if (c >= 128 || TOKEN[c] === 0) return undefined;
    }
    let from = colon + 1;
    let to = next;
    while (from < to && (text.charCodeAt(from) === 0x20 || text.charCodeAt(from) === 0x09)) from++;
    while (to > from && (text.charCodeAt(to - 1) === 0x20 || text.charCodeAt(to - 1) === 0x09)) to--;
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) return undefined;
    }
    const name = text.slice(at, colon).toLowerCase();
    // Copied from the bytes, not sliced from `text`: a slice would keep the whole head alive for as
    // long as the value lives (a token in the verified-token cache, for one).
    const value = chunk.toString('latin1', from, to);
    if (NOT_OURS.has(name)) return undefined;
    if (name === 'host') {
      if (host !== undefined || !isHost(value)) return undefined;
      host = value;
    } else if (name === 'accept') {
      if (value.includes('text/event-stream')) accepts = true;
    } else if (name === 'connection') {
      // Keep-alive is HTTP/1.1's default; anything but it or close (upgrade…) is Node's to handle.
      const option = value.toLowerCase();
      if (option === 'close') close = true;
      else if (option !== 'keep-alive') return undefined;
    }
    fields.push(name, value);
    at = next + 2;
  }
  if (host === undefined || !accepts) return undefined;
  return { target, host, close, fields };
}

/** A `Host` value: a registered name, IPv4 or bracketed IPv6 address, and an optional port. */
function isHost(value: string): boolean {
  if (value.length === 0 || value.length > 255) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x3a) || // 0-9 :
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      c === 0x2d || // -
      c === 0x2e || // .
      c === 0x5b || // [
      c === 0x5d || // ]
      c === 0x5f; // _
    if (!ok) return false;
  }
  return true;
}

/**
 * What the fast path holds for one connection while it answers the request on it. The socket points to
 * it, and its listeners are shared functions that find it there: no closure per connection.
 */
class Exchange {
  /** The client sent more bytes after the head: the connection cannot be kept. */
  extra = false;
  stream: EventStream | undefined;

  readonly socket: ExchangeSocket;
  /** The client asked to close the connection after this request (`Connection: close`). */
  readonly close: boolean;
  /** Hands a connection that goes on to Node's server. */
  readonly #keep: (socket: Socket) => void;
  /** Every connection the fast path is answering. */
  readonly #held: Set<Socket>;

  constructor(socket: ExchangeSocket, close: boolean, keep: (socket: Socket) => void, held: Set<Socket>) {
    this.socket = socket;
    this.close = close;
    this.#keep = keep;
    this.#held = held;
  }

  /** The answer is written (or abandoned): the connection is no longer the fast path's. */
  release(): void {
    const socket = this.socket;
    this.#held.delete(socket);
    socket.off('data', extraBytes);
    socket.off('error', ignore);
    socket[EXCHANGE] = undefined;
  }

  /**
   * After an answer: the connection goes on with Node's server, or ends — gracefully when the client
   * asked for it and `closeFirst` (a whole response is still being flushed), else at once if the client
   * sent more meanwhile or left.
   */
  next(closeFirst: boolean): void {
    const socket = this.socket;
    if (closeFirst && this.close) socket.end();
    else if (this.extra || socket.destroyed) socket.destroy();
    else if (this.close) socket.end();
    else this.#keep(socket);
  }

  /** The event stream ended; a clean end keeps the connection for another request. */
  streamEnded(): void {
    const socket = this.socket;
    socket.off('close', clientGone);
    socket.off('end', clientGone);
    this.stream = undefined;
    this.release();
    this.next(false);
  }
}

const EXCHANGE = Symbol('ssehub.exchange');
type ExchangeSocket = Socket & { [EXCHANGE]?: Exchange | undefined };

/** Reading goes on (a client that leaves must be seen at once), but nothing more is expected. */
function extraBytes(this: ExchangeSocket): void {
  const exchange = this[EXCHANGE];
  if (exchange) exchange.extra = true;
}

/** A client that closes, or half-closes its side, is gone: event streams have nothing more to read. */
function clientGone(this: ExchangeSocket): void {
  this[EXCHANGE]?.stream?.abort('client');
}

/** Calls the app and writes its answer; the connection goes on (or not) as the answer says. */
async function answer(
  socket: ExchangeSocket,
  head: Head,
  fetch: Http1Fetch,
  keep: (socket: Socket) => void,
  held: Set<Socket>,
): Promise<void> {
  const exchange = new Exchange(socket, head.close, keep, held);
  socket[EXCHANGE] = exchange;
  socket.on('data', extraBytes);
  socket.on('error', ignore);
  held.add(socket);
  let response: Response;
  try {
    const request = new Http1Request(head, socket) as unknown as Request;
    writeStreamsDirectly(request, FieldHeaders.of);
    response = await fetch(request, { socket });
  } catch (error) {
    console.error('ssehub: request failed', error);
    response = new Response(null, { status: 500 });
  }
  if (socket.destroyed) {
    exchange.release();
    eventStreamOf(response)?.abort('client');
    return;
  }
  const stream = eventStreamOf(response);
  if (stream) {
    streamOn(exchange, response, stream);
    return;
  }
  try {
    await writeResponse(socket, response, exchange.close);
  } catch {
    socket.destroy();
  }
  exchange.release();
  exchange.next(true);
}

/** `Date` header values, formatted once per second. */
let dateSecond = -1;
let dateValue = '';
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}

/**
 * The status line and header block of `response`, as Node's server would write them. `ours`: an event
 * stream's own response (`EventStream.response`), which has no status text — not reading it spares
 * building the full `Response` that @hono/node-server's lightweight one stands for.
 */
function headBlock(response: Response, framing: string, close: boolean, ours = false): string {
  const reason = (!ours && response.statusText) || STATUS_CODES[response.status] || '';
  let block = `HTTP/1.1 ${response.status} ${reason}\r\n`;
  const headers = response.headers;
  if (headers instanceof FieldHeaders) block += headers.lines();
  else {
    headers.forEach((value, name) => {
      block += `${name}: ${value}\r\n`;
    });
  }
  const connection = close ? 'Connection: close\r\n' : 'Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n';
  return `${block}Date: ${httpDate()}\r\n${connection}${framing}\r\n`;
}

const EMPTY = Buffer.alloc(0);
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');

/** Chunked-encoding framing of each frame, built once: the same frame goes to many sockets. */
const framed = new WeakMap<Uint8Array, Buffer>();
export function chunkOf(frame: Uint8Array): Buffer {
  let chunk = framed.get(frame);
  if (!chunk) {
    chunk = Buffer.concat([Buffer.from(`${frame.byteLength.toString(16)}\r\n`, 'latin1'), frame, CRLF]);
    framed.set(frame, chunk);
  }
  return chunk;
}

/** Sends the head of an event stream, then its frames as they come, straight to the socket. */
function streamOn(exchange: Exchange, response: Response, stream: EventStream): void {
  const socket = exchange.socket;
  exchange.stream = stream;
  socket.on('close', clientGone);
  socket.on('end', clientGone);
  socket.cork();
  // Latin-1: header values are byte strings (an id's UTF-8 bytes in Mercure-Last-Event-ID).
  socket.write(
    Buffer.from(headBlock(response, 'Transfer-Encoding: chunked\r\n', exchange.close, true), 'latin1'),
  );
  stream.attach(new SocketSink(exchange));
  process.nextTick(uncork, socket);
}

const uncork = (socket: Socket) => socket.uncork();

/** Writes a whole response that is not an event stream: length-delimited when it fits one read. */
async function writeResponse(socket: Socket, response: Response, close: boolean): Promise<void> {
  if (response.status === 204 || response.status === 304) {
    void response.body?.cancel();
    socket.write(Buffer.from(headBlock(response, '', close), 'latin1'));
    return;
  }
  if (response.body === null) {
    socket.write(Buffer.from(headBlock(response, 'Content-Length: 0\r\n', close), 'latin1'));
    return;
  }
  const reader = response.body!.getReader();
  const first = await reader.read();
  const second = first.done ? first : await reader.read();
  if (second.done) {
    const body = first.done
      ? EMPTY
      : Buffer.from(first.value.buffer, first.value.byteOffset, first.value.byteLength);
    socket.cork();
    socket.write(Buffer.from(headBlock(response, `Content-Length: ${body.byteLength}\r\n`, close), 'latin1'));
    if (body.byteLength > 0) socket.write(body);
    socket.uncork();
    return;
  }
  // A longer body goes out as it comes, chunked, at the client's pace.
  socket.write(Buffer.from(headBlock(response, 'Transfer-Encoding: chunked\r\n', close), 'latin1'));
  let part: ReadableStreamReadResult<Uint8Array> = first;
  let following: ReadableStreamReadResult<Uint8Array> | undefined = second;
  while (!part.done) {
    if (part.value.byteLength > 0 && !socket.write(chunkOf(part.value))) {
      await new Promise<void>((resolve) => {
        socket.once('drain', resolve);
        socket.once('close', resolve);
      });
    }
    if (socket.destroyed) {
      await reader.cancel();
      return;
    }
    part = following ?? (await reader.read());
    following = undefined;
  }
  socket.write(LAST_CHUNK);
}

/**
 * Writes one event stream's frames to its socket, framed as HTTP/1.1 chunks shared by every
 * subscriber of the same frame. The socket's own buffer is the backlog the stream's bound applies to.
 */
class SocketSink implements StreamSink {
  readonly #socket: Socket;
  readonly #exchange: Exchange;

  constructor(exchange: Exchange) {
    this.#socket = exchange.socket;
    this.#exchange = exchange;
  }

  write(chunk: Uint8Array): void {
    if (!this.#socket.destroyed) this.#socket.write(chunkOf(chunk));
  }

  get buffered(): number {
    return this.#socket.writableLength;
  }

  end(): void {
    const socket = this.#socket;
    if (socket.destroyed) {
      this.#exchange.streamEnded();
      return;
    }
    // The connection goes on once the last chunk is handed to the kernel.
    socket.write(LAST_CHUNK, () => this.#exchange.streamEnded());
  }

  abort(): void {
    this.#socket.destroy();
    this.#exchange.streamEnded();
  }

  onDrain(listener: () => void): void {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableLength === 0) listener();
    // 'drain' only follows a write that returned false; otherwise the callback of an empty write
    // runs once everything queued before it has been handed to the kernel.
    else if (socket.writableNeedDrain) socket.once('drain', listener);
    else socket.write(EMPTY, () => listener());
  }
}

/** Request members that need a complete `Request`: built on first use (never, on the hub's paths). */
const DELEGATED = [
  'cache',
  'credentials',
  'destination',
  'duplex',
  'integrity',
  'keepalive',
  'mode',
  'redirect',
  'referrer',
  'referrerPolicy',
] as const;
const DELEGATED_METHODS = ['arrayBuffer', 'blob', 'bytes', 'clone', 'formData', 'json', 'text'] as const;

/**
 * The `Request` of a fast-path request: `method`, `url` and `headers` (built on first use) of its own;
 * any other member is answered by a complete `Request` built on first use. `instanceof Request` holds.
 */
class Http1Request {
  readonly #head: Head;
  readonly #socket: Socket;
  #url: string | undefined;
  #headers: Headers | undefined;
  #signal: AbortSignal | undefined;
  #full: Request | undefined;

  constructor(head: Head, socket: Socket) {
    this.#head = head;
    this.#socket = socket;
  }

  get method(): string {
    return 'GET';
  }

  get url(): string {
    this.#url ??= `http://${this.#head.host}${this.#head.target}`;
    return this.#url;
  }

  get headers(): Headers {
    // The parsed fields are valid as they are: kept, not copied into undici's Headers.
    this.#headers ??= new FieldHeaders(this.#head.fields);
    return this.#headers;
  }

  /** Aborts when the client goes away. */
  get signal(): AbortSignal {
    if (!this.#signal) {
      const controller = new AbortController();
      const socket = this.#socket;
      if (socket.destroyed) controller.abort();
      else socket.once('close', () => controller.abort());
      this.#signal = controller.signal;
    }
    return this.#signal;
  }

  get body(): null {
    return null;
  }

  get bodyUsed(): boolean {
    return false;
  }

  full(): Request {
    this.#full ??= new Request(this.url, { headers: this.headers, signal: this.signal });
    return this.#full;
  }
}
for (const name of DELEGATED) {
  Object.defineProperty(Http1Request.prototype, name, {
    get(this: Http1Request) {
      return (this.full() as unknown as Record<string, unknown>)[name];
    },
  });
}
for (const name of DELEGATED_METHODS) {
  Object.defineProperty(Http1Request.prototype, name, {
    value(this: Http1Request) {
      return (this.full()[name] as () => unknown)();
    },
  });
}
Object.setPrototypeOf(Http1Request.prototype, Request.prototype);
