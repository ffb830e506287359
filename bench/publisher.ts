/**
 * A paced publisher: POSTs events (a Mercure form of `topic` and `data`, or what the server's wire
 * wants, wire.ts) over a small pool of keep-alive HTTP/1.1
 * connections (raw sockets, one request in flight per connection); with several targets (instances
 * of one hub), event i goes to target i mod n, over a pool per target. Event i is due at
 * `t0 + i / rate` on an absolute clock, so timer jitter never accumulates into drift; when the
 * pool is busy, due events wait and the wait is reported as publisher lag.
 */
import { connect, type Socket } from 'node:net';
import { ChunkedDecoder, HeadReader, isChunked } from './http1.ts';
import { makePayload, nowMicros } from './payload.ts';
import { type Target, targetList } from './subscriber.ts';
import { MERCURE, type Wire } from './wire.ts';

/** Node's http server closes keep-alive connections idle for 5 s; never reuse one near that. */
const MAX_IDLE_MS = 4_000;

class Connection {
  busy = false;
  dead = false;
  lastUsed = performance.now();
  private readonly socket: Socket;
  private head = new HeadReader();
  private bodyLeft = 0;
  private decoder: ChunkedDecoder | undefined;
  private done: ((status: number) => void) | undefined;
  private status = 0;

  private readonly onGone: (c: Connection) => void;

  constructor(target: Target, onGone: (c: Connection) => void) {
    this.onGone = onGone;
    this.socket = connect({ host: target.host, port: target.port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    this.socket.on('error', () => {});
    this.socket.on('close', () => this.fail());
  }

  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('close', () => reject(new Error('publisher connection failed')));
    });
  }

  /** Sends one request; `done` gets the status, or 0 if the connection died first. */
  send(request: string, done: (status: number) => void): void {
    this.busy = true;
    this.done = done;
    this.socket.write(request);
  }

  close(): void {
    this.dead = true;
    this.socket.destroy();
  }

  private onBytes(chunk: Buffer): void {
    let pos = 0;
    if (!this.head.head) {
      pos = this.head.push(chunk, 0, chunk.length);
      if (pos < 0) return;
      const head = this.head.head!;
      this.status = head.status;
      if (isChunked(head)) {
        this.decoder = new ChunkedDecoder(() => {});
      } else {
        this.bodyLeft = Number(head.headers.get('content-length') ?? 0);
      }
      if (head.headers.get('connection')?.toLowerCase() === 'close') this.dead = true;
    }
    if (this.decoder) {
      this.decoder.push(chunk, pos, chunk.length);
      if (this.decoder.done) this.finish();
    } else {
      this.bodyLeft -= chunk.length - pos;
      if (this.bodyLeft <= 0) this.finish();
    }
  }

  private finish(): void {
    const done = this.done;
    this.head = new HeadReader();
    this.decoder = undefined;
    this.done = undefined;
    this.busy = false;
    this.lastUsed = performance.now();
    if (this.dead) this.close();
    done?.(this.status);
  }

  private fail(): void {
    this.dead = true;
    const done = this.done;
    this.done = undefined;
    this.busy = false;
    this.onGone(this);
    done?.(0);
  }
}

/** What to publish. */
export interface PublishPlan {
  target: Target | readonly Target[];
  topic: string;
  /** Events per second. */
  rate: number;
  /** Number of events (sequence numbers 0 … count-1). */
  count: number;
  payloadBytes: number;
  /** Upper bound on concurrent requests (= connections), split evenly among targets; 16 unless set. */
  maxConnections?: number;
  /** The server's dialect (default: Mercure). */
  wire?: Wire;
  /** Extra request header lines, each ending in CRLF (the publisher's token). */
  headers?: string;
}

/**
 * @example
 * const pub = new Publisher({ target, topic: 'bench', rate: 100, count: 500, payloadBytes: 512 });
 * await pub.open();
 * await pub.run(performance.now() + 10);
 */
export class Publisher {
  /** sentMicros[seq]: when the request was written. */
  readonly sentMicros: Float64Array;
  /** answeredMicros[seq]: when the response was read (0 = not yet). */
  readonly answeredMicros: Float64Array;
  /** status[seq]: 0 = not sent or not answered, 1 = accepted (200 on Mercure), 2 = failed. */
  readonly status: Uint8Array;
  ok = 0;
  failed = 0;
  maxLagMs = 0;
  /** Events written so far (sequence numbers 0 … sent-1). */
  sent = 0;
  private lagSumMs = 0;
  private stopped = false;
  private readonly targets: readonly Target[];
  /** Per target: its connections, how many are being opened, its request-head prefix. */
  private readonly pools: Connection[][];
  private readonly connecting: number[];
  private readonly prefixes: string[];
  private readonly perTarget: number;
  private readonly bodyPrefix: string;
  private readonly wire: Wire;

  private readonly plan: PublishPlan;

  constructor(plan: PublishPlan) {
    this.plan = plan;
    this.sentMicros = new Float64Array(plan.count);
    this.answeredMicros = new Float64Array(plan.count);
    this.status = new Uint8Array(plan.count);
    this.targets = targetList(plan.target);
    this.pools = this.targets.map(() => []);
    this.connecting = this.targets.map(() => 0);
    this.perTarget = Math.max(1, Math.floor((plan.maxConnections ?? 16) / this.targets.length));
    this.wire = plan.wire ?? MERCURE;
    const request = this.wire.publish(plan.topic);
    this.bodyPrefix = request.bodyPrefix;
    this.prefixes = this.targets.map(
      (t) =>
        `POST ${request.path} HTTP/1.1\r\nHost: ${t.host}:${t.port}\r\n${plan.headers ?? ''}` +
        `Content-Type: ${request.contentType}\r\nContent-Length: `,
    );
  }

  /** Mean wait between an event's due time and its write, in ms. */
  get meanLagMs(): number {
    return this.sent === 0 ? 0 : this.lagSumMs / this.sent;
  }

  /** Pre-opens `n` connections per target so the measured run does not pay for handshakes. */
  async open(n = 2): Promise<void> {
    await Promise.all(this.targets.flatMap((_, t) => Array.from({ length: n }, () => this.addConnection(t))));
  }

  /**
   * Publishes every event on schedule from `t0` (ms, `performance.now()` clock); resolves when all
   * are answered, or after `stop()` once those already written are answered.
   */
  run(t0: number): Promise<void> {
    const { rate, count } = this.plan;
    const due = (seq: number) => t0 + (seq * 1000) / rate;
    let released = 0;
    return new Promise((resolve) => {
      const finished = () => this.ok + this.failed === (this.stopped ? this.sent : count);
      this.onAnswered = () => {
        if (finished()) resolve();
        else this.pump(released, due);
      };
      this.onStop = () => {
        if (finished()) resolve();
      };
      const tick = () => {
        if (this.stopped) return;
        const now = performance.now();
        while (released < count && due(released) <= now) released++;
        this.pump(released, due);
        if (released < count) setTimeout(tick, Math.max(0, due(released) - performance.now()));
      };
      if (count === 0) resolve();
      else setTimeout(tick, Math.max(0, t0 - performance.now()));
    });
  }

  /**
   * Sends nothing more. A server slower than the offered rate makes due events queue here (closed
   * loop: at most `maxConnections` requests in flight); at the end of the window they are dropped
   * unsent rather than turned into minutes of backlog.
   */
  stop(): void {
    this.stopped = true;
    this.onStop();
  }

  close(): void {
    for (const pool of this.pools) for (const c of pool) c.close();
  }

  private onAnswered: () => void = () => {};
  private onStop: () => void = () => {};

  private pump(released: number, due: (seq: number) => number): void {
    while (this.sent < released && !this.stopped) {
      // Strictly in sequence order: event seq waits for its own target's pool.
      const t = this.sent % this.targets.length;
      const conn = this.idleConnection(t);
      if (!conn) {
        if (this.pools[t]!.length + this.connecting[t]! < this.perTarget) {
          this.addConnection(t).then(
            () => this.pump(released, due),
            () => {},
          );
        }
        return;
      }
      const seq = this.sent++;
      const sentMicros = nowMicros();
      const lag = sentMicros / 1000 - due(seq);
      this.lagSumMs += lag;
      if (lag > this.maxLagMs) this.maxLagMs = lag;
      this.sentMicros[seq] = sentMicros;
      const body = this.bodyPrefix + makePayload(seq, sentMicros, this.plan.payloadBytes);
      conn.send(`${this.prefixes[t]}${body.length}\r\n\r\n${body}`, (status) => {
        this.answeredMicros[seq] = nowMicros();
        if (this.wire.accepted(status)) {
          this.status[seq] = 1;
          this.ok++;
        } else {
          this.status[seq] = 2;
          this.failed++;
        }
        this.onAnswered();
      });
    }
  }

  private idleConnection(t: number): Connection | undefined {
    const pool = this.pools[t]!;
    const now = performance.now();
    // Most recently used first, so spare connections go idle and are retired cleanly.
    for (let i = pool.length - 1; i >= 0; i--) {
      const c = pool[i]!;
      if (c.busy || c.dead) continue;
      if (now - c.lastUsed > MAX_IDLE_MS) {
        pool.splice(i, 1);
        c.close();
        continue;
      }
      pool.splice(i, 1);
      pool.push(c);
      return c;
    }
    return undefined;
  }

  private async addConnection(t: number): Promise<void> {
    const pool = this.pools[t]!;
    this.connecting[t] = this.connecting[t]! + 1;
    const conn = new Connection(this.targets[t]!, (gone) => {
      const i = pool.indexOf(gone);
      if (i >= 0) pool.splice(i, 1);
    });
    try {
      await conn.ready();
      pool.push(conn);
    } finally {
      this.connecting[t] = this.connecting[t]! - 1;
    }
  }
}
