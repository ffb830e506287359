/**
 * A test subscriber: opens an event stream with `fetch`, keeps the raw text it received, and parses it
 * with the independent `eventsource-parser` package, so tests assert both bytes and events.
 */
import { get as httpGet } from 'node:http';
import { Readable } from 'node:stream';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface SseStream {
  readonly status: number;
  readonly headers: Headers;
  /** Every event received so far, in order. */
  readonly events: EventSourceMessage[];
  /** Every `retry:` value received. */
  readonly retries: number[];
  /** Every comment received (a heartbeat is an empty comment). */
  readonly comments: string[];
  /** All text received so far. */
  text(): string;
  /** Resolves with the first `count` events once they have arrived (rejects after `timeoutMs`). */
  waitForEvents(count: number, timeoutMs?: number): Promise<EventSourceMessage[]>;
  /** Resolves when `predicate` holds for what has arrived. */
  waitFor(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Resolves when the server ends the stream (cleanly or not). */
  readonly ended: Promise<void>;
  /** True once the stream has ended. */
  readonly isEnded: boolean;
  /** True when the server ended the stream cleanly (end of body, not a cut connection). */
  readonly endedCleanly: boolean;
  /** Drops the connection (the client goes away). */
  close(): void;
}

/** Opens `url` as an event stream. Non-2xx responses resolve too: check `status` (and `text()`). */
export async function openStream(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  return readStream(response.status, response.headers, response.body, () => controller.abort());
}

/**
 * Opens `url` as an event stream over `node:http`, which (unlike `fetch`) sends the `Host` header it
 * is given: for requests that claim to be for another host than the one they reach.
 */
export function openStreamAs(
  url: string,
  host: string,
  headers: Record<string, string> = {},
): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { headers: { accept: 'text/event-stream', ...headers, host } }, (res) => {
      const responseHeaders = new Headers();
      for (const [name, value] of Object.entries(res.headers)) {
        for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
          responseHeaders.append(name, v);
        }
      }
      const body = Readable.toWeb(res) as ReadableStream<Uint8Array>;
      resolve(readStream(res.statusCode ?? 0, responseHeaders, body, () => request.destroy()));
    });
    request.on('error', reject);
  });
}

let idView: ((id: string) => string) | undefined;

/**
 * Makes every stream opened from now on expose its events' ids through `view` (undefined: as sent),
 * e.g. the update id of a composite id; `text()` keeps the bytes as they came.
 */
export function setEventIdView(view: ((id: string) => string) | undefined): void {
  idView = view;
}

function readStream(
  status: number,
  headers: Headers,
  body: ReadableStream<Uint8Array> | null,
  abort: () => void,
): SseStream {
  const events: EventSourceMessage[] = [];
  const view = idView;
  const retries: number[] = [];
  const comments: string[] = [];
  let raw = '';
  let ended = false;
  let clean = false;
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of waiters) w();
  };
  const parser = createParser({
    onEvent: (event) =>
      events.push(view && event.id !== undefined ? { ...event, id: view(event.id) } : event),
    onRetry: (retry) => retries.push(retry),
    onComment: (comment) => comments.push(comment),
  });
  const endedPromise = (async () => {
    if (!body) return;
    const decoder = new TextDecoder();
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          clean = true;
          break;
        }
        const text = decoder.decode(value, { stream: true });
        raw += text;
        parser.feed(text);
        notify();
      }
    } catch {
      // Aborted by close() or cut by the server: either way the stream is over.
    } finally {
      ended = true;
      notify();
    }
  })();

  const waitFor = (predicate: () => boolean, what: string, timeoutMs = 5000) =>
    new Promise<void>((resolve, reject) => {
      if (predicate()) return resolve();
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received:\n${raw.slice(-2000)}`),
        );
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
    });

  return {
    status,
    headers,
    events,
    retries,
    comments,
    text: () => raw,
    async waitForEvents(count, timeoutMs) {
      await waitFor(() => events.length >= count, `${count} events (have ${events.length})`, timeoutMs);
      return events.slice(0, count);
    },
    waitFor,
    ended: endedPromise,
    get isEnded() {
      return ended;
    },
    get endedCleanly() {
      return clean;
    },
    close: abort,
  };
}

/** Polls `probe` until it returns true (for state only visible by asking, like metrics). */
export async function eventually(
  probe: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
