/** The subscriber's options and the events it reports (see `events.ts`). Types only. */
import type { ReconnectOptions } from './backoff.ts';
import type { ClientError } from './errors.ts';

/** Returns the token for the next connection (called before each one), or nothing to connect without. */
export type TokenProvider = () => string | null | undefined | Promise<string | null | undefined>;

/** A string or several; each becomes one query parameter. */
export type OneOrMany = string | readonly string[];

export interface SubscribeOptions {
  /** Topic matchers (`match`): exact topics, or `*` for everything. */
  match?: OneOrMany;
  /** Byte-exact matchers (`match_exact`). */
  matchExact?: OneOrMany;
  /** URL Pattern matchers (`match_urlpattern`), e.g. `/books/:id`, relative to the hub URL. */
  matchUrlPattern?: OneOrMany;
  /** Resume after this event id (`earliest` replays all retained history). Later reconnects use the last id received. */
  lastEventId?: string;
  /**
   * Asks the hub for the last N updates this subscription would have received, oldest first, before
   * the live ones (ssehub's `rewind=N` extension, see docs/history.md; other Mercure hubs ignore it).
   * Sent only while there is no cursor: on the first connection (a retry of it too), never once an
   * event has arrived, since reconnects resume from it with `Last-Event-ID` (no duplicates). With
   * `lastEventId`, the cursor wins. A whole number from 1 (the hub bounds it: `SSEHUB_MAX_REWIND`).
   */
  rewind?: number;
  /** A bearer token, or a function called before every (re)connection so short-lived tokens can be refreshed. */
  token?: string | TokenProvider;
  /** `fetch` credentials mode; `include` sends the hub's cookie cross-origin. Default: the `fetch` default. */
  credentials?: RequestCredentials;
  /** Aborting it closes the subscription for good, like {@link Subscription.close}. */
  signal?: AbortSignal;
  /** Backoff settings, or `false` to never reconnect. */
  reconnect?: ReconnectOptions | false;
  /**
   * Reconnect when nothing (not even a heartbeat comment) arrived for this many ms: a connection that
   * died without a FIN never ends on its own. Keep it above the hub's heartbeat. 0 disables. Default 90 000.
   */
  idleTimeout?: number;
  /** The `fetch` to use (a test double, a service binding's `fetch`). Default: the global one. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
}

/** The stream is open. */
export interface OpenInfo {
  readonly url: string;
  readonly status: number;
  /** The cursor sent as `Last-Event-ID`, if any. */
  readonly lastEventId?: string;
  /** The hub's `Mercure-Last-Event-ID`: where its replay starts (`earliest` = all it retained); null when not sent or not readable. */
  readonly replayFrom: string | null;
  /** True for every connection after the first. */
  readonly reconnected: boolean;
}

/** The hub could not resume where we asked: updates may have been missed; resynchronize. */
export interface GapInfo {
  /** The cursor that was sent. */
  readonly requested: string;
  /** Where the replay starts instead (`earliest`: everything the hub still has). */
  readonly replayFrom: string;
}

/** A new connection attempt is scheduled. */
export interface ReconnectInfo {
  /** 1 for the first attempt after a drop, then 2, 3… while attempts keep failing. */
  readonly attempt: number;
  /** Milliseconds until the attempt. */
  readonly delay: number;
  /** The cursor the attempt will send. */
  readonly lastEventId?: string;
}

/** Something went wrong; `willRetry` says whether the subscription keeps trying. */
export interface ErrorInfo {
  readonly error: ClientError;
  readonly willRetry: boolean;
}

/** The subscription is over: `closed` by `close()`, `aborted` by the signal, `error` (see `error`), or `done` (HTTP 204). */
export interface CloseInfo {
  readonly reason: 'closed' | 'aborted' | 'error' | 'done';
  readonly error?: ClientError;
}

/** Lifecycle events; any other name is an SSE event type (`message` for events without `event:`). */
export interface SubscriptionEvents {
  open: OpenInfo;
  gap: GapInfo;
  reconnecting: ReconnectInfo;
  error: ErrorInfo;
  close: CloseInfo;
}

/** `connecting` until the first response, `open` while reading a stream, `closed` for good. */
export type SubscriptionState = 'connecting' | 'open' | 'closed';
