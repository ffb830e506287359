import { type Broker, EARLIEST } from '../brokers/types.ts';
import { concat } from '../sse/bytes.ts';
import type { Heartbeat } from '../sse/heartbeat.ts';
import { EventStream } from '../sse/stream.ts';
import type { Authorizer, Principal } from './auth.ts';
import { type Dispatcher, frameOf, Subscriber } from './dispatcher.ts';
import { HubError } from './errors.ts';
import { parseQuery } from './form.ts';
import type { ConnectionLimiter } from './limits.ts';
import { type MatcherLimits, type PatternCompiler, parseMatchers, type Subscription } from './matchers.ts';

export interface SubscribeContext {
  broker: Broker;
  dispatcher: Dispatcher;
  authorizer: Authorizer;
  heartbeat: Heartbeat;
  compiler: PatternCompiler;
  limits: MatcherLimits & { maxQueueBytes: number; retry: number };
  /** Connection limits; `client` is the runtime-reported client address, when known. */
  limiter?: ConnectionLimiter;
  /** Pre-standardization dialect: `topic=`, `lastEventID`, and a `Last-Event-ID` response header. */
  legacy?: boolean;
  /** Refuses a subscriber its token alone would let in (see `HubOptions.admit`); undefined: nothing to check. */
  admit?: (subscriber: Principal | null, subscriptions: readonly Subscription[]) => Promise<void> | undefined;
  /** Called when a subscriber's stream is open and live, and when it ends. */
  onOpen?: (subscriber: Subscriber) => void;
  onClose?: (subscriber: Subscriber) => void;
}

/** Legacy `topic=` subscriptions: exact topics, or URI templates. */
const LEGACY_MATCHERS = { topic: 'uritemplate' } as const;

/** Longest cursor looked up; anything longer cannot be one of our ids and is treated as unknown. */
const MAX_CURSOR_LENGTH = 1024;

/**
 * `GET {hub}`: validates matchers and the token, opens the event stream, replays history after the
 * cursor (if any), then goes live — with no gap and no duplicate at the seam.
 */
export async function subscribe(
  ctx: SubscribeContext,
  request: Request,
  hubUrl: URL,
  client?: string,
  /** The runtime adapter writes the stream itself (see `EventStreamOptions.direct`). */
  direct = false,
): Promise<Response> {
  const query = parseQuery(new URL(request.url).search);
  const extra = ctx.legacy ? LEGACY_MATCHERS : undefined;
  const subscriptions = parseMatchers(query, hubUrl.href, ctx.limits, ctx.compiler, extra);
  const principal = await ctx.authorizer.subscriber(request, hubUrl);
  const admitting = ctx.admit?.(principal, subscriptions);
  if (admitting) await admitting;
  // Per client: the token's subject when it has one (one user, many addresses), else the address.
  const release = ctx.limiter?.acquire(
    principal?.subject !== undefined ? `sub:${principal.subject}` : client,
  );

  // The header wins over the query parameter (EventSource sends the header when it reconnects).
  let cursor = request.headers.get('last-event-id') ?? undefined;
  if (cursor === undefined) cursor = query.find(([name]) => name === 'last_event_id')?.[1];
  if (cursor === undefined && ctx.legacy) cursor = query.find(([name]) => name === 'lastEventID')?.[1];

  let subscriber: Subscriber | undefined;
  let expiry: ReturnType<typeof setTimeout> | undefined;
  const stream = new EventStream({
    maxQueueBytes: ctx.limits.maxQueueBytes,
    retry: ctx.limits.retry,
    heartbeat: ctx.heartbeat,
    // A direct stream's adapter reports the disconnect itself; not touching `signal` spares Node's
    // request wrapper an AbortController per connection.
    signal: direct ? undefined : request.signal,
    direct,
    onClose: (reason) => {
      release?.();
      if (expiry !== undefined) clearTimeout(expiry);
      if (reason === 'slow') ctx.dispatcher.metrics.slowSubscribersClosed++;
      if (subscriber) {
        ctx.dispatcher.remove(subscriber);
        ctx.onClose?.(subscriber);
      }
    },
  });
  subscriber = new Subscriber(`urn:uuid:${crypto.randomUUID()}`, stream, subscriptions, principal);
  if (stream.closed) return new Response(null, { status: 499 });

  const headers = new Headers();
  if (cursor !== undefined) subscriber.pending = [];
  ctx.dispatcher.add(subscriber);
  if (cursor !== undefined) {
    // Registered first (live updates are buffered), history read second: nothing falls in between.
    const known = cursor.length <= MAX_CURSOR_LENGTH ? cursor : '\u0000unknown';
    let history: Awaited<ReturnType<Broker['history']>>;
    try {
      history = await ctx.broker.history(known);
    } catch (error) {
      stream.abort('server');
      // The broker is unreachable (e.g. Redis restarting): a retryable 503, not a 500.
      console.error('ssehub: history lookup failed', error);
      throw new HubError('unavailable', 'the broker is unavailable; retry later');
    }
    const { found, updates } = history;
    headers.set('mercure-last-event-id', found && cursor !== EARLIEST ? cursor : EARLIEST);
    if (ctx.legacy) headers.set('last-event-id', headers.get('mercure-last-event-id')!);
    const frames: Uint8Array[] = [];
    for (const update of updates) {
      if (subscriber.canRead(update) && subscriber.matches(update.topics)) frames.push(frameOf(update));
    }
    if (frames.length > 0) {
      stream.write(concat(frames), true);
      ctx.dispatcher.metrics.eventsDelivered += frames.length;
    }
    const last = updates.at(-1);
    if (last) subscriber.replayedTo = last.pos;
    ctx.dispatcher.goLive(subscriber);
  } else if (ctx.legacy) {
    // Legacy clients read the hub's position at connect time here, to reconcile a fetched state.
    headers.set('last-event-id', await ctx.broker.lastEventId());
  }

  const expiresAt = principal?.expiresAt;
  if (expiresAt !== undefined) {
    const delay = expiresAt - Date.now();
    // setTimeout overflows past 2^31-1 ms (~24.8 days); such far expiries are not armed.
    if (delay <= 0) stream.close('expired');
    else if (delay < 2 ** 31 - 1) expiry = setTimeout(() => stream.close('expired'), delay);
  }
  if (!stream.closed) ctx.onOpen?.(subscriber);
  return stream.response({ headers });
}
