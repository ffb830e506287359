import { type Broker, EARLIEST } from '../brokers/types.ts';
import type { Heartbeat } from '../sse/heartbeat.ts';
import { EventStream } from '../sse/stream.ts';
import type { Authorizer } from './auth.ts';
import { concat, type Dispatcher, frameOf, Subscriber } from './dispatcher.ts';
import { parseQuery } from './form.ts';
import { type MatcherLimits, type PatternCompiler, parseMatchers } from './matchers.ts';

export interface SubscribeContext {
  broker: Broker;
  dispatcher: Dispatcher;
  authorizer: Authorizer;
  heartbeat: Heartbeat;
  compiler: PatternCompiler;
  limits: MatcherLimits & { maxQueueBytes: number; retry: number };
  /** Called when a subscriber's stream is open and live, and when it ends. */
  onOpen?: (subscriber: Subscriber) => void;
  onClose?: (subscriber: Subscriber) => void;
}

/** Longest cursor looked up; anything longer cannot be one of our ids and is treated as unknown. */
const MAX_CURSOR_LENGTH = 1024;

/**
 * `GET {hub}`: validates matchers and the token, opens the event stream, replays history after the
 * cursor (if any), then goes live — with no gap and no duplicate at the seam.
 */
export async function subscribe(ctx: SubscribeContext, request: Request, hubUrl: URL): Promise<Response> {
  const query = parseQuery(new URL(request.url).search);
  const subscriptions = parseMatchers(query, hubUrl.href, ctx.limits, ctx.compiler);
  const principal = await ctx.authorizer.subscriber(request);

  // The header wins over the query parameter (EventSource sends the header when it reconnects).
  let cursor = request.headers.get('last-event-id') ?? undefined;
  if (cursor === undefined) cursor = query.find(([name]) => name === 'last_event_id')?.[1];

  let subscriber: Subscriber | undefined;
  let expiry: ReturnType<typeof setTimeout> | undefined;
  const stream = new EventStream({
    maxQueueBytes: ctx.limits.maxQueueBytes,
    retry: ctx.limits.retry,
    heartbeat: ctx.heartbeat,
    signal: request.signal,
    onClose: (reason) => {
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
      throw error;
    }
    const { found, updates } = history;
    headers.set('mercure-last-event-id', found && cursor !== EARLIEST ? cursor : EARLIEST);
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
