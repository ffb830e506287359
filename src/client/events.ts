/**
 * A Mercure subscriber on `fetch`: like `EventSource`, but it can send `Authorization: Bearer`, it
 * refreshes its token on every reconnect, backs off with jitter, tells the application when a resume
 * may have missed updates (`Mercure-Last-Event-ID`), and stops on `close()` or an `AbortSignal`.
 * Web APIs only: runs in browsers, workers, Node, Deno, Bun and Cloudflare Workers.
 */
import { backoffDelay, type ReconnectOptions, reconnectDefaults, retryAfter, sleep } from './backoff.ts';
import { bearer, ClientError, httpError, isAbort, protocolError, report } from './errors.ts';
import { fitsHeader, utf8Header } from './headers.ts';
import { createEventStreamParser, type SseMessage } from './parser.ts';
import type {
  CloseInfo,
  OneOrMany,
  SubscribeOptions,
  SubscriptionEvents,
  SubscriptionState,
} from './subscription-types.ts';

export type * from './subscription-types.ts';

type Lifecycle = keyof SubscriptionEvents;
const LIFECYCLE = new Set<string>(['open', 'gap', 'reconnecting', 'error', 'close']);

/** The outcome of one connection: reconnect (after at least `minDelay`) or stop. */
type Outcome = { retry: true; opened: boolean; minDelay: number } | { retry: false; close: CloseInfo };

/**
 * Subscribes to a Mercure hub and keeps the subscription alive until closed.
 *
 * @example
 * const events = subscribe('https://example.com/.well-known/mercure', {
 *   match: '/chat',
 *   token: () => fetch('/token').then((r) => r.text()),
 * });
 * events.on('message', (m) => console.log(m.data));
 * events.on('gap', () => reloadEverything());
 */
export function subscribe(hubUrl: string | URL, options: SubscribeOptions): Subscription {
  return new Subscription(hubUrl, options);
}

/** A live subscription; see {@link subscribe}. */
export class Subscription {
  /** The subscribe URL (hub URL plus matchers). */
  readonly url: string;
  #state: SubscriptionState = 'connecting';
  #lastEventId: string;
  #retry: number;
  #connections = 0;
  readonly #options: SubscribeOptions;
  readonly #reconnect: Required<ReconnectOptions> | undefined;
  readonly #stop = new AbortController();
  readonly #lifecycle = new Map<string, Set<(info: never) => void>>();
  readonly #messages = new Map<string, Set<(message: SseMessage) => void>>();

  constructor(hubUrl: string | URL, options: SubscribeOptions) {
    const base = (globalThis as { location?: { href: string } }).location?.href;
    const url = new URL(hubUrl, base);
    const params: Array<[string, OneOrMany | undefined]> = [
      ['match', options.match],
      ['match_exact', options.matchExact],
      ['match_urlpattern', options.matchUrlPattern],
    ];
    for (const [name, values] of params) {
      for (const value of typeof values === 'string' ? [values] : (values ?? [])) {
        url.searchParams.append(name, value);
      }
    }
    if (!/[?&]match/.test(url.search)) throw new TypeError('subscribe: at least one matcher is required');
    const rewind = options.rewind;
    if (rewind !== undefined && !(Number.isSafeInteger(rewind) && rewind >= 1)) {
      throw new TypeError('subscribe: rewind must be a whole number from 1');
    }
    this.url = url.href;
    this.#options = options;
    this.#reconnect =
      options.reconnect === false ? undefined : { ...reconnectDefaults, ...options.reconnect };
    this.#retry = this.#reconnect?.delay ?? reconnectDefaults.delay;
    this.#lastEventId = options.lastEventId ?? '';
    const signal = options.signal;
    if (signal?.aborted) {
      this.#state = 'closed';
      queueMicrotask(() => this.#emit('close', { reason: 'aborted' }));
      return;
    }
    const onAbort = () => this.#finish({ reason: 'aborted' });
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#stop.signal.addEventListener('abort', () => signal?.removeEventListener('abort', onAbort), {
      once: true,
    });
    // Next microtask: the caller attaches its listeners right after `subscribe()` returns, and a
    // token provider that throws at once must not report before they are there.
    queueMicrotask(() => void this.#run());
  }

  /** Where the subscription is. */
  get state(): SubscriptionState {
    return this.#state;
  }

  /** The cursor the next reconnect sends: the last event id received (or the one given), `''` for none. */
  get lastEventId(): string {
    return this.#lastEventId;
  }

  /**
   * Listens to a lifecycle event (`open`, `gap`, `reconnecting`, `error`, `close`) or to SSE events of
   * a type (`message` for events without `event:`, as `EventSource`), or to every event with `*`.
   * Returns a function that removes the listener.
   */
  on<K extends Lifecycle>(type: K, listener: (info: SubscriptionEvents[K]) => void): () => void;
  on(type: string, listener: (message: SseMessage) => void): () => void;
  on(type: string, listener: (value: never) => void): () => void {
    const map = LIFECYCLE.has(type) ? this.#lifecycle : this.#messages;
    const set = map.get(type) ?? new Set();
    map.set(type, set);
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Closes the connection and stops reconnecting. Idempotent. */
  close(): void {
    this.#finish({ reason: 'closed' });
  }

  /** A method, not a comparison, so TypeScript does not narrow the state across awaits and callbacks. */
  #is(state: SubscriptionState): boolean {
    return this.#state === state;
  }

  #finish(info: CloseInfo): void {
    if (this.#is('closed')) return;
    this.#state = 'closed';
    this.#stop.abort();
    this.#emit('close', info);
  }

  #emit<K extends Lifecycle>(type: K, info: SubscriptionEvents[K]): void {
    for (const listener of [...(this.#lifecycle.get(type) ?? [])]) {
      try {
        (listener as (info: SubscriptionEvents[K]) => void)(info);
      } catch (error) {
        report(error);
      }
    }
  }

  #deliver(message: SseMessage): void {
    for (const type of [message.type, '*']) {
      for (const listener of [...(this.#messages.get(type) ?? [])]) {
        try {
          listener(message);
        } catch (error) {
          report(error);
        }
      }
    }
  }

  async #run(): Promise<void> {
    /** Reconnect attempts since a connection last opened: the backoff exponent. */
    let attempt = 0;
    while (!this.#is('closed')) {
      const outcome = await this.#connect();
      if (this.#is('closed')) return;
      if (!outcome.retry) return this.#finish(outcome.close);
      attempt = outcome.opened ? 1 : attempt + 1;
      const delay = Math.max(outcome.minDelay, backoffDelay(this.#retry, attempt - 1, this.#reconnect!));
      this.#state = 'connecting';
      this.#emit('reconnecting', { attempt, delay, lastEventId: this.#lastEventId || undefined });
      if (!(await sleep(delay, this.#stop.signal))) return;
    }
  }

  /** Reports an error, and turns it into a retry (when reconnecting is on) or the end. */
  #fail(error: ClientError, retryable: boolean, minDelay = 0, opened = false): Outcome {
    // Closed meanwhile (e.g. while the error body was read): the caller asked for silence.
    if (this.#is('closed')) return { retry: false, close: { reason: 'closed' } };
    const willRetry = retryable && this.#reconnect !== undefined;
    this.#emit('error', { error, willRetry });
    return willRetry
      ? { retry: true, opened, minDelay }
      : { retry: false, close: { reason: 'error', error } };
  }

  async #connect(): Promise<Outcome> {
    const connection = new AbortController();
    const stop = () => connection.abort();
    this.#stop.signal.addEventListener('abort', stop, { once: true });
    try {
      return await this.#stream(connection);
    } finally {
      this.#stop.signal.removeEventListener('abort', stop);
      connection.abort();
    }
  }

  async #stream(connection: AbortController): Promise<Outcome> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    const provided = this.#options.token;
    try {
      const token = typeof provided === 'function' ? await provided() : provided;
      if (token) headers.authorization = bearer(token);
    } catch (cause) {
      const error =
        cause instanceof ClientError
          ? cause
          : new ClientError('token', 'the token provider failed', undefined, { cause });
      // A provider may fail once (its own network); a fixed bad string will never get better.
      return this.#fail(error, typeof provided === 'function');
    }
    if (this.#is('closed')) return { retry: false, close: { reason: 'closed' } };
    const cursor = this.#lastEventId;
    let target = this.url;
    if (cursor === '') {
      // No cursor yet: nothing was received, so the last N cannot duplicate anything.
      if (this.#options.rewind !== undefined) {
        const url = new URL(this.url);
        url.searchParams.set('rewind', String(this.#options.rewind));
        target = url.href;
      }
    } else if (fitsHeader(cursor)) headers['last-event-id'] = cursor;
    else {
      // fetch only takes Latin-1 header values and trims spaces: such ids go in the query, which the
      // hub decodes as UTF-8 (the header still wins when both are present, so never send both).
      const url = new URL(this.url);
      url.searchParams.set('last_event_id', cursor);
      target = url.href;
    }

    let response: Response;
    const request = this.#options.fetch ?? ((input: string, init: RequestInit) => fetch(input, init));
    try {
      response = await request(target, {
        headers,
        credentials: this.#options.credentials,
        signal: connection.signal,
      });
    } catch (cause) {
      if (this.#is('closed')) return { retry: false, close: { reason: 'closed' } };
      return this.#fail(
        new ClientError('network', 'could not connect to the hub', undefined, { cause }),
        true,
      );
    }

    const status = response.status;
    if (status === 204) {
      // WHATWG: 204 No Content tells the client to stop reconnecting.
      await response.body?.cancel();
      return { retry: false, close: { reason: 'done' } };
    }
    if (status !== 200) {
      const error =
        status >= 200 && status < 400 ? protocolError(response) : await httpError(response, 'subscribe');
      // Client errors other than 408 and 429 will not fix themselves: report them and stop.
      const retryable = status >= 500 || status === 408 || status === 429;
      return this.#fail(error, retryable, retryAfter(response.headers.get('retry-after')));
    }
    const contentType = response.headers.get('content-type') ?? '';
    if (!/^text\/event-stream\s*(;|$)/i.test(contentType)) {
      await response.body?.cancel();
      return this.#fail(protocolError(response), false);
    }

    const replayFrom = cursor === '' ? null : utf8Header(response.headers.get('mercure-last-event-id'));
    this.#connections++;
    this.#state = 'open';
    this.#emit('open', {
      url: this.url,
      status,
      lastEventId: cursor || undefined,
      replayFrom,
      reconnected: this.#connections > 1,
    });
    if (replayFrom !== null && replayFrom !== cursor && this.#is('open')) {
      this.#emit('gap', { requested: cursor, replayFrom });
    }
    if (!this.#is('open') || !response.body) return { retry: true, opened: true, minDelay: 0 };
    return this.#read(response.body, connection);
  }

  async #read(body: ReadableStream<Uint8Array>, connection: AbortController): Promise<Outcome> {
    const parser = createEventStreamParser(
      {
        onEvent: (message) => {
          this.#lastEventId = message.lastEventId;
          if (this.#is('open')) this.#deliver(message);
        },
        // Bounded: a runaway value must not park the client for weeks (setTimeout overflows at 2^31 ms).
        onRetry: (ms) => {
          this.#retry = Math.min(ms, 3_600_000);
        },
      },
      this.#lastEventId,
    );
    // `fatal: false`: a stray invalid byte becomes U+FFFD, as EventSource decodes.
    const decoder = new TextDecoder();
    const reader = body.getReader();
    const idle = this.#options.idleTimeout ?? 90_000;
    let lastActivity = Date.now();
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const watch = (ms: number) => {
      timer = setTimeout(() => {
        const quiet = Date.now() - lastActivity;
        if (quiet < idle) return watch(idle - quiet);
        timedOut = true;
        connection.abort();
      }, ms);
    };
    if (idle > 0) watch(idle);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        lastActivity = Date.now();
        parser.feed(decoder.decode(value, { stream: true }));
        this.#lastEventId = parser.lastEventId;
        if (!this.#is('open')) break;
      }
      parser.feed(decoder.decode());
      this.#lastEventId = parser.lastEventId;
    } catch (cause) {
      if (this.#is('closed')) return { retry: false, close: { reason: 'closed' } };
      const error = timedOut
        ? new ClientError('timeout', `no data from the hub for ${idle} ms`)
        : new ClientError('network', 'the connection to the hub was cut', undefined, { cause });
      if (!timedOut && isAbort(cause)) return { retry: false, close: { reason: 'closed' } };
      return this.#fail(error, true, 0, true);
    } finally {
      clearTimeout(timer);
      reader.releaseLock();
    }
    if (this.#is('closed')) return { retry: false, close: { reason: 'closed' } };
    // The hub ended the stream (shutdown, token expiry, slow consumer): come back after `retry:`.
    return this.#reconnect
      ? { retry: true, opened: true, minDelay: 0 }
      : { retry: false, close: { reason: 'done' } };
  }
}
