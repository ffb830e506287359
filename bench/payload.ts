/**
 * Event payloads: exactly `size` bytes of URL-safe ASCII, `<seq>-<sentMicros>-xxxx…`, so that the
 * form-encoded body needs no escaping and subscribers can read the sequence number and the
 * publisher's `performance.now()` (same process, so the same clock) without allocating.
 */

const MINUS = 0x2d;

/** Smallest payload that fits any sequence number and timestamp we produce. */
export const MIN_PAYLOAD_BYTES = 40;

let padding = '';

/**
 * @example
 * makePayload(7, 1234567, 64); // '7-1234567-xxxxxxxx…' (64 bytes)
 */
export function makePayload(seq: number, sentMicros: number, size: number): string {
  const prefix = `${seq}-${sentMicros}-`;
  const pad = size - prefix.length;
  if (pad < 0) throw new Error(`payload size ${size} too small for prefix ${prefix}`);
  if (padding.length < pad) padding = 'x'.repeat(Math.max(pad, 1024));
  return prefix + padding.slice(0, pad);
}

/** What a subscriber reads back from a payload; `seq` is -1 when the bytes are not ours. */
export interface DecodedPayload {
  seq: number;
  sentMicros: number;
}

/**
 * Reads `<seq>-<sentMicros>-` from buf[start, end) into `out` (reused to avoid allocation).
 * Returns false when the bytes do not have that shape.
 */
export function readPayload(buf: Uint8Array, start: number, end: number, out: DecodedPayload): boolean {
  let i = start;
  let seq = 0;
  let digits = 0;
  while (i < end && buf[i] !== MINUS) {
    const d = buf[i++]! - 0x30;
    if (d < 0 || d > 9) return false;
    seq = seq * 10 + d;
    digits++;
  }
  if (digits === 0 || i >= end) return false;
  i++;
  let sent = 0;
  digits = 0;
  while (i < end && buf[i] !== MINUS) {
    const d = buf[i++]! - 0x30;
    if (d < 0 || d > 9) return false;
    sent = sent * 10 + d;
    digits++;
  }
  if (digits === 0 || i >= end) return false;
  out.seq = seq;
  out.sentMicros = sent;
  return true;
}

/** Microseconds on the shared `performance.now()` clock, as an integer. */
export function nowMicros(): number {
  return Math.round(performance.now() * 1000);
}
