/**
 * An incremental `text/event-stream` parser that follows the WHATWG interpretation rules
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).
 * Zero dependencies: it ships in the browser bundle. Feed it decoded text in chunks of any size.
 */

/** One dispatched event, with the fields a browser `MessageEvent` from `EventSource` carries. */
export interface SseMessage {
  /** The `event:` field, or `message` when the event had none (or an empty one). */
  readonly type: string;
  /** The `data:` lines joined with LF. */
  readonly data: string;
  /**
   * The last event id set by the stream so far (it persists across events that carry no `id:`), as
   * `EventSource` reports it; `''` when none was set. This is what a reconnect sends back.
   */
  readonly lastEventId: string;
}

export interface ParserCallbacks {
  /** A complete event (a blank line after at least one `data:` field). */
  onEvent(message: SseMessage): void;
  /** A valid `retry:` field: the new reconnection delay in milliseconds. */
  onRetry?(ms: number): void;
  /** A comment line (`:`), without the colon and one following space. Heartbeats are empty comments. */
  onComment?(text: string): void;
}

export interface EventStreamParser {
  /** Parses the next chunk of text. Lines may be split anywhere, including between CR and LF. */
  feed(chunk: string): void;
  /**
   * The last event id string: updated at every blank line from the `id:` fields seen so far, whether
   * or not an event was dispatched (WHATWG "dispatch the event", step 1).
   */
  readonly lastEventId: string;
}

const DIGITS = /^[0-9]+$/;

/**
 * Creates a parser. `lastEventId` seeds the id that events without an `id:` field report, as a
 * reconnected `EventSource` keeps the id of the previous connection.
 *
 * @example
 * const parser = createEventStreamParser({ onEvent: (m) => console.log(m.type, m.data) });
 * parser.feed('event: greeting\ndata: hel');
 * parser.feed('lo\n\n'); // logs "greeting hello"
 */
export function createEventStreamParser(callbacks: ParserCallbacks, lastEventId = ''): EventStreamParser {
  /** Text of the line being read, when a chunk ended before its line did. */
  let partial = '';
  /** The previous chunk ended with CR: an LF at the start of the next one belongs to it (CRLF). */
  let afterCR = false;
  let data = '';
  let type = '';
  let idBuffer = lastEventId;
  let committedId = lastEventId;
  // One per parser: a global regex's lastIndex would be shared with parsers fed from our callbacks.
  const lineEnd = /[\r\n]/g;

  function dispatch(): void {
    committedId = idBuffer;
    if (data === '') {
      type = '';
      return;
    }
    // The data buffer always ends with the LF appended after its last line: drop it.
    const message: SseMessage = { type: type || 'message', data: data.slice(0, -1), lastEventId: idBuffer };
    data = '';
    type = '';
    callbacks.onEvent(message);
  }

  function line(text: string): void {
    if (text === '') {
      dispatch();
      return;
    }
    const colon = text.indexOf(':');
    if (colon === 0) {
      callbacks.onComment?.(text.charCodeAt(1) === 0x20 ? text.slice(2) : text.slice(1));
      return;
    }
    let field = text;
    let value = '';
    if (colon > 0) {
      field = text.slice(0, colon);
      value = text.slice(text.charCodeAt(colon + 1) === 0x20 ? colon + 2 : colon + 1);
    }
    switch (field) {
      case 'data':
        data += `${value}\n`;
        break;
      case 'event':
        type = value;
        break;
      case 'id':
        // An id with NUL is ignored (the spec's guard against ids that cannot round-trip as a header).
        if (!value.includes('\0')) idBuffer = value;
        break;
      case 'retry':
        if (DIGITS.test(value)) callbacks.onRetry?.(Number(value));
        break;
      default:
      // Unknown fields are ignored.
    }
  }

  return {
    feed(chunk: string) {
      let start = 0;
      if (afterCR && chunk.length > 0) {
        afterCR = false;
        if (chunk.charCodeAt(0) === 0x0a) start = 1;
      }
      lineEnd.lastIndex = start;
      for (let match = lineEnd.exec(chunk); match !== null; match = lineEnd.exec(chunk)) {
        const end = match.index;
        const text = partial === '' ? chunk.slice(start, end) : partial + chunk.slice(start, end);
        partial = '';
        start = end + 1;
        if (chunk.charCodeAt(end) === 0x0d) {
          if (start === chunk.length) afterCR = true;
          else if (chunk.charCodeAt(start) === 0x0a) start++;
        }
        lineEnd.lastIndex = start;
        line(text);
      }
      if (start < chunk.length) partial += chunk.slice(start);
    },
    get lastEventId() {
      return committedId;
    },
  };
}
