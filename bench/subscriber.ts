/**
 * SSE subscribers on raw `node:net` sockets: one HTTP/1.1 GET each, then the (usually chunked)
 * body is scanned for events. Reads land in one shared buffer through `onread`, which skips the
 * stream machinery and allocates nothing per read (Node 12+); everything a subscriber keeps is
 * copied out before the next read.
 */
import { connect, type Socket } from 'node:net';
import { ChunkedDecoder, HeadReader, isChunked } from './http1.ts';
import type { Ledger } from './ledger.ts';
import { type DecodedPayload, nowMicros, readPayload } from './payload.ts';
import { SseScanner } from './sse-scan.ts';

/** Where the server under test listens. */
export interface Target {
  host: string;
  port: number;
}

/** One target, or the instances of one server as a list. */
export function targetList(target: Target | readonly Target[]): readonly Target[] {
  const list = Array.isArray(target) ? (target as readonly Target[]) : [target as Target];
  if (list.length === 0) throw new Error('no target');
  return list;
}

const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
/** Receive time of the read being processed; every event in one read shares it. */
let readMicros = 0;
const decoded: DecodedPayload = { seq: -1, sentMicros: 0 };

/** How a subscriber connects, beyond where. */
export interface ConnectOptions {
  /** Extra request header lines, each ending in CRLF (a token, `Last-Event-ID`). */
  headers?: string;
  /** Local address to connect from (127.0.0.2, …): each has its own ephemeral ports. */
  localAddress?: string;
  /** Give up when no response head has arrived by then (default 15 s). */
  timeoutMs?: number;
}

/**
 * One subscriber connection and its per-sequence receipt record. A resumable one also keeps what
 * EventSource keeps to reconnect (the last event id, the server's `retry`) and may `connect` again
 * once the server has closed it; its record spans all its connections, so an event replayed twice
 * is a duplicate and one never received is lost, whichever connection it was due on.
 */
export class Subscriber {
  /** received[seq] = how many times seq arrived (saturating at 255). */
  received = new Uint8Array(64);
  /** The id of the last event dispatched (resumable subscribers only). */
  lastEventId: string | undefined;
  /** The reconnection delay the server asked for with `retry:` (resumable subscribers only). */
  retryMs: number | undefined;
  /** Called when the server ends the connection (not when we close it). */
  onServerClose: (() => void) | undefined;
  private maxSeq = -1;
  private socket: Socket | undefined;
  private closedByUs = false;
  private open = false;
  /** Only while the response head is being read: an idle crowd keeps no parsed heads. */
  private head: HeadReader | undefined;
  private body: ((buf: Buffer, start: number, end: number) => void) | undefined;
  private readonly scanner: SseScanner;

  private readonly ledger: Ledger;

  constructor(ledger: Ledger, opts: { resumable?: boolean } = {}) {
    this.ledger = ledger;
    this.scanner = new SseScanner(
      (buf, start, end) => this.onData(buf, start, end),
      opts.resumable
        ? (name, value) => {
            if (name === 'id') this.lastEventId = value;
            else if (/^\d+$/.test(value)) this.retryMs = Number(value);
          }
        : undefined,
    );
  }

  /** True once the server ended this connection on its own (until it connects again). */
  closedByServer = false;
  /** Distinct sequence numbers received in the ledger's measured range. */
  windowReceived = 0;

  /** Keep-alives received so far (see {@link SseScanner.keepAlives}), over all connections. */
  get keepAlives(): number {
    return this.scanner.keepAlives;
  }

  /** Whether a stream is open: the response head arrived and nobody closed it since. */
  get isOpen(): boolean {
    return this.open;
  }

  /** Sends the GET and resolves once a 200 `text/event-stream` head has arrived. */
  connect(target: Target, path: string, opts: ConnectOptions = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? 15_000;
    this.head = new HeadReader();
    this.body = undefined;
    this.scanner.reset();
    this.closedByUs = false;
    this.closedByServer = false;
    return new Promise((resolve, reject) => {
      let lastError = '';
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.closedByUs = true;
        socket.destroy();
        reject(new Error(why));
      };
      const timer = setTimeout(() => fail(`no response head within ${timeoutMs} ms`), timeoutMs);
      const socket = connect({
        host: target.host,
        port: target.port,
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
        onread: {
          buffer: READ_BUFFER,
          callback: (n: number) => {
            readMicros = nowMicros();
            const buf = READ_BUFFER;
            try {
              if (this.body) this.body(buf, 0, n);
              else
                this.onHeadBytes(
                  buf,
                  n,
                  () => {
                    settled = true;
                    clearTimeout(timer);
                    resolve();
                  },
                  fail,
                );
            } catch (e) {
              // A protocol error: stop reading this stream; its missing events show up as loss.
              this.ledger.error(`subscriber: ${(e as Error).message}`);
              if (settled) this.close();
              else fail((e as Error).message);
            }
            return true;
          },
        },
      });
      this.socket = socket;
      socket.on('error', (e) => {
        lastError = e.message;
      });
      socket.on('close', () => {
        if (!settled) {
          fail(`connection closed before the response head${lastError ? `: ${lastError}` : ''}`);
          return;
        }
        // A resumable subscriber's earlier connection has nothing more to say.
        if (this.socket !== socket) return;
        const byServer = this.open && !this.closedByUs;
        this.open = false;
        if (!byServer) return;
        this.closedByServer = true;
        this.ledger.serverClosed++;
        if (lastError) this.ledger.error(`subscriber closed: ${lastError}`);
        this.onServerClose?.();
      });
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\nAccept: text/event-stream\r\n` +
          `Cache-Control: no-cache\r\n${opts.headers ?? ''}\r\n`,
      );
    });
  }

  /** Closes the connection; not counted as a server close. */
  close(): void {
    this.closedByUs = true;
    this.open = false;
    this.socket?.destroy();
  }

  /** How many of the sequence numbers flagged in `expected` this subscriber never received. */
  missing(expected: Uint8Array, from: number, to: number): number {
    let lost = 0;
    for (let seq = from; seq < to; seq++) {
      if (expected[seq] === 1 && !(this.received[seq]! > 0)) lost++;
    }
    return lost;
  }

  private onHeadBytes(buf: Buffer, n: number, ok: () => void, fail: (why: string) => void): void {
    const reader = this.head!;
    const bodyStart = reader.push(buf, 0, n);
    if (bodyStart < 0) return;
    const head = reader.head!;
    this.head = undefined;
    const type = head.headers.get('content-type') ?? '';
    if (head.status !== 200 || !type.startsWith('text/event-stream')) {
      fail(`subscribe answered ${head.status} ${type}`);
      return;
    }
    if (isChunked(head)) {
      const decoder = new ChunkedDecoder((b, s, e) => this.scanner.push(b, s, e));
      this.body = (b, s, e) => decoder.push(b, s, e);
    } else {
      // No framing: the event stream runs until the connection closes.
      this.body = (b, s, e) => this.scanner.push(b, s, e);
    }
    this.open = true;
    ok();
    if (bodyStart < n) this.body(buf, bodyStart, n);
  }

  private onData(buf: Buffer, start: number, end: number): void {
    const ledger = this.ledger;
    ledger.delivered++;
    if (end - start !== ledger.payloadBytes || !readPayload(buf, start, end, decoded)) {
      ledger.malformed++;
      return;
    }
    const seq = decoded.seq;
    if (seq >= this.received.length) {
      if (seq > 100_000_000) {
        ledger.malformed++;
        return;
      }
      const bigger = new Uint8Array(Math.max(seq + 1, this.received.length * 2));
      bigger.set(this.received);
      this.received = bigger;
    }
    const seen = this.received[seq]!;
    if (seen > 0) {
      ledger.duplicates++;
      if (seen < 255) this.received[seq] = seen + 1;
      return;
    }
    this.received[seq] = 1;
    if (seq < this.maxSeq) {
      // Not yet answered when it arrives → it was still in flight when maxSeq was sent.
      const answered = ledger.publishTimes?.answeredMicros[seq] ?? 0;
      const laterSent = ledger.publishTimes?.sentMicros[this.maxSeq] ?? 0;
      if (answered > 0 && answered <= laterSent) ledger.outOfOrder++;
      else ledger.reordered++;
    } else {
      this.maxSeq = seq;
    }
    if (seq >= ledger.windowFrom && seq < ledger.windowTo) {
      this.windowReceived++;
      ledger.uniqueInWindow++;
      ledger.latencyMs.add((readMicros - decoded.sentMicros) / 1000);
    }
  }
}

/** How {@link openSubscribers} opens its subscribers. */
export interface OpenOptions {
  /** Handshakes in flight at most (default 200). */
  concurrency?: number;
  /** Subscribers that keep what they need to resume (see {@link Subscriber}). */
  resumable?: boolean;
  /** Per subscriber (by index): its headers, source address, timeout. */
  connect?: (i: number) => ConnectOptions;
}

/**
 * Opens `count` subscribers to `path`, at most `concurrency` handshakes at a time (a burst of
 * thousands of SYNs overflows the listen backlog and turns into 1 s retransmits). With several
 * targets, subscriber i goes to target i mod n: an even split.
 */
export async function openSubscribers(
  ledger: Ledger,
  target: Target | readonly Target[],
  path: string,
  count: number,
  opts: OpenOptions = {},
): Promise<Subscriber[]> {
  const targets = targetList(target);
  const subscribers: Subscriber[] = [];
  let next = 0;
  let failure: Error | undefined;
  const worker = async () => {
    while (next < count && !failure) {
      const i = next++;
      const sub = new Subscriber(ledger, { resumable: opts.resumable ?? false });
      try {
        await sub.connect(targets[i % targets.length]!, path, opts.connect?.(i));
        subscribers.push(sub);
      } catch (e) {
        failure ??= e as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 200, count) }, worker));
  if (failure) {
    for (const sub of subscribers) sub.close();
    throw new Error(`opened ${subscribers.length}/${count} subscribers: ${failure.message}`);
  }
  return subscribers;
}
