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
/** An event larger than this without a boundary means the stream is not what we expect. */
const MAX_PENDING = 1 << 20;

/** Called with the value of an event's first `data:` line, as buf[start, end). */
export type DataHandler = (buf: Buffer, start: number, end: number) => void;

/**
 * Called with the value of an `id:` or `retry:` line, for subscribers that resume as EventSource
 * does (the last id goes back in `Last-Event-ID`, `retry` sets the reconnection delay). An id is
 * handed over when its event is dispatched (the blank line), as EventSource commits it (WHATWG HTML
 * §9.2.6): the id of an event cut off by a dropped connection never counts. Values are decoded as
 * latin1: ids the bench sees are ASCII (the hub's UUIDs, Nchan's `<time>:<n>`).
 */
export type FieldHandler = (name: 'id' | 'retry', value: string) => void;

const FIELDS = [
  ['id', Buffer.from('id:')],
  ['retry', Buffer.from('retry:')],
] as const;

/**
 * @example
 * const scan = new SseScanner((buf, s, e) => console.log(buf.toString('utf8', s, e)));
 * scan.push(Buffer.from('id: 1\ndata: hi\n\n'), 0, 16);
 */
export class SseScanner {
  private carry: Buffer | undefined;
  /** Bytes at the start of `carry` whose lines were already scanned (and counted). */
  private carryScanned = 0;
  /** Events that carried no `data:` line (heartbeat comments, `retry:` only, …). */
  emptyEvents = 0;
  /**
   * Keep-alives: comment lines (`:…`), and events with neither data nor a comment (Nchan's ping is
   * `event: ping` and a blank line). Comments count by themselves because a server may send a bare
   * `:\n` that ends no event (the hub does).
   */
  keepAlives = 0;
  /** Whether the event being read has a comment line. */
  private commented = false;

  private readonly onData: DataHandler;
  private readonly onField: FieldHandler | undefined;
  /** The `id:` of the event being read, until its blank line. */
  private pendingId: string | undefined;

  constructor(onData: DataHandler, onField?: FieldHandler) {
    this.onData = onData;
    this.onField = onField;
  }

  /** Forgets a partial event: the stream it belonged to is gone (a subscriber reconnects). */
  reset(): void {
    this.carry = undefined;
    this.carryScanned = 0;
    this.commented = false;
    this.pendingId = undefined;
  }

  /**
   * Feeds buf[start, end). The buffer may be reused by the caller afterwards, and bytes past `end`
   * may be stale: nothing beyond it is trusted.
   */
  push(input: Buffer, start: number, end: number): void {
    let buf = input;
    let pos = start;
    let limit = end;
    // Lines before this offset were scanned by the previous push (an event left incomplete).
    let scanned = start;
    if (this.carry) {
      buf = Buffer.concat([this.carry, input.subarray(start, end)]);
      scanned = this.carryScanned;
      this.carry = undefined;
      pos = 0;
      limit = buf.length;
    }
    // Walk line by line; most bytes are in the one `data:` line, found with one native indexOf,
    // while the short `id:`/`event:`/comment lines are stepped over in JS (no native call, no
    // allocation per event: this runs a few hundred thousand times a second).
    let eventStart = pos;
    let dataStart = -1;
    let dataEnd = -1;
    while (pos < limit) {
      if (buf[pos] === LF) {
        // A blank line ends the event.
        if (this.pendingId !== undefined) {
          this.onField!('id', this.pendingId);
          this.pendingId = undefined;
        }
        if (dataStart >= 0) this.onData(buf, dataStart, dataEnd);
        else {
          this.emptyEvents++;
          if (!this.commented) this.keepAlives++;
        }
        this.commented = false;
        dataStart = -1;
        eventStart = ++pos;
        continue;
      }
      let eol: number;
      if (
        pos + 5 <= limit &&
        buf[pos] === 0x64 &&
        buf[pos + 1] === 0x61 &&
        buf[pos + 2] === 0x74 &&
        buf[pos + 3] === 0x61 &&
        buf[pos + 4] === 0x3a
      ) {
        let valueStart = pos + 5;
        if (valueStart < limit && buf[valueStart] === 0x20) valueStart++;
        eol = buf.indexOf(LF, valueStart);
        if (eol < 0 || eol >= limit) break;
        if (dataStart < 0) {
          dataStart = valueStart;
          dataEnd = eol;
        }
      } else {
        eol = pos;
        while (eol < limit && buf[eol] !== LF) eol++;
        if (eol >= limit) break;
        if (buf[pos] === 0x3a) {
          this.commented = true;
          if (pos >= scanned) this.keepAlives++;
        }
        if (this.onField) this.field(buf, pos, eol);
      }
      pos = eol + 1;
    }
    if (eventStart < limit) {
      if (limit - eventStart > MAX_PENDING) throw new Error('no SSE event boundary within 1 MiB');
      // Copy: the caller's buffer is about to be overwritten by the next read.
      this.carry = Buffer.from(buf.subarray(eventStart, limit));
      this.carryScanned = pos - eventStart;
    }
  }

  /** Hands an `id:` or `retry:` line in buf[start, eol) to the field handler. */
  private field(buf: Buffer, start: number, eol: number): void {
    for (const [name, prefix] of FIELDS) {
      if (
        eol - start < prefix.length ||
        buf.compare(prefix, 0, prefix.length, start, start + prefix.length) !== 0
      )
        continue;
      let value = start + prefix.length;
      if (value < eol && buf[value] === 0x20) value++;
      const text = buf.toString('latin1', value, eol);
      if (name === 'id') this.pendingId = text;
      else this.onField!(name, text);
      return;
    }
  }
}
