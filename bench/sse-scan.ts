/**
 * A deliberately minimal SSE scanner for the load generator: it finds event boundaries (`\n\n`)
 * and hands over the value of the first `data:` line of each event as a byte range. `id:`,
 * `event:`, `retry:` and `:` comment lines are skipped. The servers under test end lines with LF
 * only (hono's `writeSSE` and ssehub both do); a CR-only stream would show up as zero deliveries
 * and a "no event boundary" error, never as silently wrong numbers.
 *
 * Full WHATWG parsing is left to `eventsource-parser` in the real tests; this one has to keep up
 * with a few hundred thousand events per second on one core.
 */

const LF = 10;
const EVENT_END = Buffer.from('\n\n');
/** An event larger than this without a boundary means the stream is not what we expect. */
const MAX_PENDING = 1 << 20;

/** Called with the value of an event's first `data:` line, as buf[start, end). */
export type DataHandler = (buf: Buffer, start: number, end: number) => void;

/**
 * @example
 * const scan = new SseScanner((buf, s, e) => console.log(buf.toString('utf8', s, e)));
 * scan.push(Buffer.from('id: 1\ndata: hi\n\n'), 0, 16);
 */
export class SseScanner {
  private carry: Buffer | undefined;
  /** Events that carried no `data:` line (heartbeat comments, `retry:` only, …). */
  emptyEvents = 0;

  constructor(private readonly onData: DataHandler) {}

  /** Feeds buf[start, end). The buffer may be reused by the caller afterwards. */
  push(input: Uint8Array, start: number, end: number): void {
    let buf: Buffer;
    if (this.carry) {
      buf = Buffer.concat([this.carry, input.subarray(start, end)]);
      this.carry = undefined;
    } else {
      buf = Buffer.from(input.buffer, input.byteOffset + start, end - start);
    }
    let pos = 0;
    for (;;) {
      const boundary = buf.indexOf(EVENT_END, pos);
      if (boundary < 0) break;
      this.event(buf, pos, boundary);
      pos = boundary + 2;
    }
    if (pos < buf.length) {
      if (buf.length - pos > MAX_PENDING) throw new Error('no SSE event boundary within 1 MiB');
      // Copy: the caller's buffer is about to be overwritten by the next read.
      this.carry = Buffer.from(buf.subarray(pos));
    }
  }

  private event(buf: Buffer, start: number, end: number): void {
    // Find a line that starts with "data:" inside [start, end).
    let line = start;
    while (line < end) {
      let eol = buf.indexOf(LF, line);
      if (eol < 0 || eol > end) eol = end;
      // "data:" compared byte by byte: Buffer#compare costs a native call per line.
      if (
        eol - line >= 5 &&
        buf[line] === 0x64 &&
        buf[line + 1] === 0x61 &&
        buf[line + 2] === 0x74 &&
        buf[line + 3] === 0x61 &&
        buf[line + 4] === 0x3a
      ) {
        let valueStart = line + 5;
        if (buf[valueStart] === 0x20) valueStart++;
        this.onData(buf, valueStart, eol);
        return;
      }
      line = eol + 1;
    }
    this.emptyEvents++;
  }
}
