/**
 * SSE subscribers on raw `node:net` sockets: one HTTP/1.1 GET each, then the (usually chunked)
 * body is scanned for events. Reads land in one shared buffer through `onread`, which skips the
 * stream machinery and allocates nothing per read (Node 12+); everything a subscriber keeps is
 * copied out before the next read.
 */
import { connect, type Socket } from 'node:net';
import { ChunkedDecoder, HeadReader, isChunked } from './http1.ts';
import { type DecodedPayload, nowMicros, readPayload } from './payload.ts';
import { SseScanner } from './sse-scan.ts';
import { Samples } from './stats.ts';

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

/** Tallies shared by every subscriber of a run. */
export class Ledger {
  /** Data events received, duplicates included. */
  delivered = 0;
  /** Receipts of a sequence number the subscriber already had. */
  duplicates = 0;
  /**
   * First receipts of seq s after some m > s although m was published only after s had been
   * answered: an ordering violation no server may commit.
   */
  outOfOrder = 0;
  /** Like `outOfOrder`, but s and m were in flight at the same time, so either order is fine. */
  reordered = 0;
  /** `data:` values that were not one of our payloads of the expected size. */
  malformed = 0;
  /** Subscriber connections that ended without us closing them. */
  serverClosed = 0;
  /** Distinct (subscriber, seq) receipts with seq in the measured range. */
  uniqueInWindow = 0;
  /** Publish→receive latency in ms of first receipts with seq in the measured range. */
  readonly latencyMs = new Samples();
  /** First few protocol or socket errors, for the report. */
  readonly errors: string[] = [];
  windowFrom = Number.POSITIVE_INFINITY;
  windowTo = Number.NEGATIVE_INFINITY;
  /** The publisher's clocks (µs), to tell reordering of concurrent publishes from violations. */
  publishTimes: { sentMicros: Float64Array; answeredMicros: Float64Array } | undefined;

  readonly payloadBytes: number;

  constructor(payloadBytes: number) {
    this.payloadBytes = payloadBytes;
  }

  error(message: string): void {
    if (this.errors.length < 10) this.errors.push(message);
  }
}

const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
/** Receive time of the read being processed; every event in one read shares it. */
let readMicros = 0;
const decoded: DecodedPayload = { seq: -1, sentMicros: 0 };

/** One subscriber connection and its per-sequence receipt record. */
export class Subscriber {
  /** received[seq] = how many times seq arrived (saturating at 255). */
  received = new Uint8Array(64);
  private maxSeq = -1;
  private socket: Socket | undefined;
  private closedByUs = false;
  private open = false;
  private readonly head = new HeadReader();
  private body: ((buf: Buffer, start: number, end: number) => void) | undefined;
  private readonly scanner: SseScanner;

  private readonly ledger: Ledger;

  constructor(ledger: Ledger) {
    this.ledger = ledger;
    this.scanner = new SseScanner((buf, start, end) => this.onData(buf, start, end));
  }

  /** True once the server ended this connection on its own. */
  closedByServer = false;
  /** Distinct sequence numbers received in the ledger's measured range. */
  windowReceived = 0;

  /** Sends the GET and resolves once a 200 `text/event-stream` head has arrived. */
  connect(target: Target, path: string, timeoutMs = 15_000): Promise<void> {
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
        if (!settled) fail(`connection closed before the response head${lastError ? `: ${lastError}` : ''}`);
        else if (this.open && !this.closedByUs) {
          this.closedByServer = true;
          this.ledger.serverClosed++;
          if (lastError) this.ledger.error(`subscriber closed: ${lastError}`);
        }
        this.open = false;
      });
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\nAccept: text/event-stream\r\n` +
          'Cache-Control: no-cache\r\n\r\n',
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
    const bodyStart = this.head.push(buf, 0, n);
    if (bodyStart < 0) return;
    const head = this.head.head!;
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
  concurrency = 200,
): Promise<Subscriber[]> {
  const targets = targetList(target);
  const subscribers: Subscriber[] = [];
  let next = 0;
  let failure: Error | undefined;
  const worker = async () => {
    while (next < count && !failure) {
      const i = next++;
      const sub = new Subscriber(ledger);
      try {
        await sub.connect(targets[i % targets.length]!, path);
        subscribers.push(sub);
      } catch (e) {
        failure ??= e as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (failure) {
    for (const sub of subscribers) sub.close();
    throw new Error(`opened ${subscribers.length}/${count} subscribers: ${failure.message}`);
  }
  return subscribers;
}
