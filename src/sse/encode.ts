/**
 * Server-Sent Events frame encoder, strict to the WHATWG `text/event-stream` format
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).
 * Zero dependencies: Web APIs only.
 */
import { SseError } from './errors.ts';

/** One event as the client will see it. Every field is optional, but an event needs `data` to be dispatched. */
export interface SseEvent {
  /** Payload. Split into one `data:` line per CR, LF or CRLF; the client joins them back with LF. */
  data?: string;
  /** Event type (`event:` field). Must not contain CR, LF or NUL. */
  event?: string;
  /** Event id (`id:` field); the client sends it back as `Last-Event-ID`. Must not contain CR, LF or NUL. */
  id?: string;
  /** Reconnection delay in milliseconds (`retry:` field): a non-negative integer. */
  retry?: number;
  /** A comment line (`:`), ignored by clients; handy for padding and keep-alives. */
  comment?: string;
}

const LINE_BREAK = /\r\n|\r|\n/;
const FORBIDDEN_IN_FIELD = /[\r\n\0]/;

/** Shared encoder: `TextEncoder` always produces UTF-8, as the event-stream format requires. */
export const utf8 = new TextEncoder();

/**
 * Encodes one event to its text form, ending with the blank line that dispatches it.
 *
 * @example
 * encodeEvent({ id: '1', event: 'greeting', data: 'hello\nworld' })
 * // 'id: 1\nevent: greeting\ndata: hello\ndata: world\n\n'
 * @throws {SseError} `invalid_field` when `id`/`event` contain CR, LF or NUL, or `retry` is not a non-negative integer.
 */
export function encodeEvent(event: SseEvent): string {
  let out = '';
  if (event.comment !== undefined) out += encodeComment(event.comment);
  if (event.id !== undefined) out += `id: ${checkField('id', event.id)}\n`;
  if (event.event !== undefined) out += `event: ${checkField('event', event.event)}\n`;
  if (event.retry !== undefined) out += `retry: ${checkRetry(event.retry)}\n`;
  if (event.data !== undefined) {
    // The parser strips exactly one space after the colon, so `data: ` keeps a leading space in the payload.
    for (const line of event.data.split(LINE_BREAK)) out += `data: ${line}\n`;
  }
  return `${out}\n`;
}

/** Encodes one event straight to UTF-8 bytes (see {@link encodeEvent}). */
export function encodeEventBytes(event: SseEvent): Uint8Array {
  return utf8.encode(encodeEvent(event));
}

/**
 * Encodes a comment: one `:` line per line of `text`. Clients ignore comments; they keep idle
 * connections alive through proxies. Not followed by a blank line, so it never dispatches an event.
 */
export function encodeComment(text: string): string {
  let out = '';
  for (const line of text.split(LINE_BREAK)) out += line === '' ? ':\n' : `: ${line}\n`;
  return out;
}

/** Encodes a bare `retry:` field followed by a blank line (no event is dispatched: there is no data). */
export function encodeRetry(ms: number): string {
  return `retry: ${checkRetry(ms)}\n\n`;
}

function checkField(name: 'id' | 'event', value: string): string {
  // A line break would end the field early and let the rest inject other fields; the parser ignores
  // an `id` that contains NUL. Refuse both instead of silently emitting something else.
  if (FORBIDDEN_IN_FIELD.test(value)) {
    throw new SseError('invalid_field', `SSE ${name} must not contain CR, LF or NUL`);
  }
  return value;
}

function checkRetry(ms: number): number {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new SseError('invalid_field', 'SSE retry must be a non-negative integer');
  }
  return ms;
}
