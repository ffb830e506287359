/**
 * Just enough HTTP/1.1 for the load generator: a response-head parser and a streaming
 * `Transfer-Encoding: chunked` decoder. Both work on byte ranges of a (possibly shared and reused)
 * buffer so that the hot path allocates nothing; callers must copy what they keep.
 */

const CR = 13;
const LF = 10;
const HEAD_END = Buffer.from('\r\n\r\n');

/** A parsed status line plus headers (names lower-cased). */
export interface ResponseHead {
  status: number;
  headers: Map<string, string>;
}

/**
 * Accumulates bytes until the end of a response head (`\r\n\r\n`).
 *
 * @example
 * const head = new HeadReader();
 * const rest = head.push(buf, 0, n); // -1 while incomplete, else the offset of the body in buf
 */
export class HeadReader {
  private pending: Buffer = Buffer.alloc(0);
  head: ResponseHead | undefined;

  /** Feeds buf[start, end); returns the offset in buf where the body starts, or -1 if not there yet. */
  push(buf: Uint8Array, start: number, end: number): number {
    const before = this.pending.length;
    this.pending = Buffer.concat([this.pending, buf.subarray(start, end)]);
    if (this.pending.length > 64 * 1024) throw new Error('response head larger than 64 KiB');
    // The terminator may straddle the previous push.
    const idx = this.pending.indexOf(HEAD_END, Math.max(0, before - 3));
    if (idx < 0) return -1;
    this.head = parseHead(this.pending.toString('latin1', 0, idx));
    this.pending = Buffer.alloc(0);
    return start + (idx + 4 - before);
  }
}

function parseHead(text: string): ResponseHead {
  const lines = text.split('\r\n');
  const statusLine = lines[0] ?? '';
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!match) throw new Error(`bad status line: ${JSON.stringify(statusLine.slice(0, 100))}`);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prev = headers.get(name);
    headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
  }
  return { status: Number(match[1]), headers };
}

/** True when the head announces a chunked body (RFC 9112 §6.1: chunked is the final coding). */
export function isChunked(head: ResponseHead): boolean {
  const te = head.headers.get('transfer-encoding');
  return te !== undefined && /(?:^|,)\s*chunked\s*$/i.test(te);
}

// Decoder states (plain numbers: the switch below is the hot path of every subscriber).
const SIZE = 0;
const EXTENSION = 1;
const DATA = 2;
const DATA_END = 3;
const TRAILER = 4;
const DONE = 5;

/**
 * Streaming decoder for `Transfer-Encoding: chunked` (RFC 9112 §7.1). Emits payload ranges of the
 * input buffer as they arrive; chunk boundaries are not preserved (SSE does not care).
 */
export class ChunkedDecoder {
  private state: number = SIZE;
  private remaining = 0;
  private sizeDigits = 0;
  private trailerLineLength = 0;

  private readonly onData: (buf: Buffer, start: number, end: number) => void;
  private readonly onEnd: () => void;

  constructor(onData: (buf: Buffer, start: number, end: number) => void, onEnd: () => void = () => {}) {
    this.onData = onData;
    this.onEnd = onEnd;
  }

  get done(): boolean {
    return this.state === DONE;
  }

  push(buf: Buffer, start: number, end: number): void {
    let i = start;
    while (i < end) {
      switch (this.state) {
        case SIZE: {
          const c = buf[i++]!;
          const digit = hexValue(c);
          if (digit >= 0) {
            this.remaining = this.remaining * 16 + digit;
            if (++this.sizeDigits > 12) throw new Error('chunk size too large');
          } else if (c === LF) {
            this.endSizeLine();
          } else if (c === CR || c === 0x3b /* ; */ || c === 0x20 || c === 0x09) {
            this.state = EXTENSION;
          } else {
            throw new Error(`bad byte 0x${c.toString(16)} in chunk size`);
          }
          break;
        }
        case EXTENSION: {
          if (buf[i++] === LF) this.endSizeLine();
          break;
        }
        case DATA: {
          const n = Math.min(this.remaining, end - i);
          this.onData(buf, i, i + n);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = DATA_END;
          break;
        }
        case DATA_END: {
          // Expect CRLF after the chunk data; tolerate a bare LF.
          const c = buf[i++];
          if (c === LF) this.state = SIZE;
          else if (c !== CR) throw new Error('missing CRLF after chunk data');
          break;
        }
        case TRAILER: {
          const c = buf[i++];
          if (c === LF) {
            if (this.trailerLineLength === 0) {
              this.state = DONE;
              this.onEnd();
            }
            this.trailerLineLength = 0;
          } else if (c !== CR) {
            this.trailerLineLength++;
          }
          break;
        }
        case DONE:
          return;
      }
    }
  }

  private endSizeLine(): void {
    if (this.sizeDigits === 0) throw new Error('empty chunk size');
    this.sizeDigits = 0;
    if (this.remaining === 0) {
      this.state = TRAILER;
      this.trailerLineLength = 0;
    } else {
      this.state = DATA;
    }
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
