import {
  type Broker,
  EARLIEST,
  type HistoryPage,
  type HistoryResult,
  topicOfLane,
} from '../brokers/index.ts';
import type { Heartbeat } from '../sse/index.ts';
import { EventStream } from '../sse/index.ts';
import type { CompiledUrlPattern } from '../urlpattern/index.ts';
import type { Authorizer, Principal } from './auth.ts';
import { type Dispatcher, frameOf, Subscriber } from './dispatcher.ts';
import { HubError } from './errors.ts';
import type { Expiries } from './expiries.ts';
import { parseQuery } from './form.ts';
import { fromHeaderValue, toHeaderValue, utf8Length } from './header-values.ts';
import { PRESENCE_LANE, presencePrefix } from './history.ts';
import type { ConnectionLimiter } from './limits.ts';
import {
  type MatcherLimits,
  newPatternsAtMost,
  type PatternCompiler,
  parseMatchers,
  type Subscription,
} from './matchers.ts';
import { replayWriter } from './replay-writer.ts';
import { firstRewindPage, parseRewind, rewindHistory } from './rewind.ts';

export interface SubscribeContext {
  broker: Broker;
  dispatcher: Dispatcher;
  authorizer: Authorizer;
  heartbeat: Heartbeat;
  expiries: Expiries;
  compiler: PatternCompiler;
  limits: MatcherLimits & {
    maxQueueBytes: number;
    retry: number;
    /** Most distinct URL patterns (and URI templates) the hub holds at once. */
    maxPatterns: number;
    /** A longer cursor cannot be one of our ids, and is treated as unknown. */
    maxIdBytes: number;
    /** Largest N of `rewind=N`; 0: the extension is off (see `rewind.ts`). */
    maxRewind: number;
  };
  /** The hub's path: subscription events live below it. */
  hubPath: string;
  /** Connection limits; `client` is the runtime-reported client address, when known. */
  limiter?: ConnectionLimiter;
  /** Pre-standardization dialect: `topic=`, `lastEventID`, and a `Last-Event-ID` response header. */
  legacy?: boolean;
  /**
   * Refuses a subscriber its token alone would let in (see `HubOptions.admit`; `client()` looks up
   * the client address, when known: call it only when needed); undefined: nothing to check.
   */
  admit?: (
    subscriber: Principal | null,
    subscriptions: readonly Subscription[],
    client: () => string | undefined,
  ) => Promise<void> | undefined;
  /** Called when a subscriber's stream is open and live, and when it ends. */
  onOpen?: (subscriber: Subscriber) => void;
  onClose?: (subscriber: Subscriber) => void;
}

/** Legacy `topic=` subscriptions: exact topics, or URI templates. */
const LEGACY_MATCHERS = { topic: 'uritemplate' } as const;

/** Updates read from history at a time: the first page, and the most ever asked for. */
const FIRST_PAGE = 16;
const MAX_PAGE = 512;

/**
 * `GET {hub}`: validates matchers and the token, opens the event stream, replays history after the
 * cursor (if any) or, without one, the last N updates `rewind=N` asks for, then goes live — with no
 * gap and no duplicate at the seam.
 *
 * The replay goes at the subscriber's pace, page by page, under the same backlog bound as live
 * updates: a subscriber that stops reading holds at most one page of history and its bound of bytes,
 * however long the history, and one that falls too far behind is closed as slow (it resumes later
 * from the last event it got). An error after the subscriber was registered unregisters it.
 * `own`: headers the response starts with (the caller's CORS headers); taken, not copied.
 */
export async function subscribe(
  ctx: SubscribeContext,
  request: Request,
  hubUrl: URL,
  clientOf: () => string | undefined = unknownClient,
  own: Record<string, string> = {},
): Promise<Response> {
  const url = request.url;
  const mark = url.indexOf('?');
  const query = parseQuery(mark === -1 ? '' : url.slice(mark + 1));
  const extra = ctx.legacy ? LEGACY_MATCHERS : undefined;
  // Each distinct pattern is tested against every update: their number is what bounds matching. A
  // hub with no room left says so before compiling anything, and exactly once they are compiled.
  const index = ctx.dispatcher.index;
  const room = ctx.limits.maxPatterns - index.patterns;
  const held = (pattern: CompiledUrlPattern) => index.holds(pattern);
  if (newPatternsAtMost(query, hubUrl.href, ctx.compiler, held, extra) > room) throw tooManyPatterns();
  const subscriptions = await parseMatchers(query, hubUrl.href, ctx.limits, ctx.compiler, extra);

  // The header wins over the query parameter (EventSource sends the header when it reconnects).
  const sent = request.headers.get('last-event-id');
  let cursor = sent === null ? undefined : fromHeaderValue(sent);
  if (cursor === undefined) cursor = query.find(([name]) => name === 'last_event_id')?.[1];
  if (cursor === undefined && ctx.legacy) cursor = query.find(([name]) => name === 'lastEventID')?.[1];
  // A cursor wins over `rewind`, which is then not even read: an EventSource reconnects with the URL
  // it started with (rewind included) and the last id it got, and must resume, not rewind.
  const rewind = cursor === undefined ? parseRewind(query, ctx.limits.maxRewind) : undefined;
  const principal = await ctx.authorizer.subscriber(request, hubUrl);

  if (index.patterns + index.newPatterns(subscriptions) > ctx.limits.maxPatterns) throw tooManyPatterns();
  // The address is looked up only when a check reads it (on Node it is a system call).
  const admitting = ctx.admit?.(principal, subscriptions, clientOf);
  if (admitting) await admitting;
  // HEAD (which Hono routes here): the answer GET would give, without its stream. A stream opened
  // for a response whose body is never sent would stay registered, and hold its connection slot,
  // for as long as the hub runs: nothing would ever read or cancel it.
  if (request.method === 'HEAD') return new EventStream().response({ headers: own });
  // Per client: the token's subject when it has one (one user, many addresses), else the address.
  const limiter = ctx.limiter;
  const release = limiter?.acquire(
    limiter.limits.maxConnectionsPerClient <= 0
      ? undefined
      : principal?.subject !== undefined
        ? `sub:${principal.subject}`
        : clientOf(),
  );

  let subscriber: Subscriber | undefined;
  const stream = new EventStream({
    maxQueueBytes: ctx.limits.maxQueueBytes,
    retry: ctx.limits.retry,
    heartbeat: ctx.heartbeat,
    request,
    onClose: (reason) => {
      release?.();
      if (reason === 'slow') ctx.dispatcher.metrics.slowSubscribersClosed++;
      if (subscriber) {
        ctx.expiries.delete(subscriber);
        ctx.dispatcher.remove(subscriber);
        ctx.onClose?.(subscriber);
      }
    },
  });
  subscriber = new Subscriber(`urn:uuid:${crypto.randomUUID()}`, stream, subscriptions, principal);
  if (stream.closed) return new Response(null, { status: 499 });

  try {
    // The caller's (CORS), and those a replay or the legacy dialect adds.
    const headers = own;
    let replay: HistoryResult | undefined;
    let resumed = false;
    let rewound: HistoryPage | undefined;
    if (cursor !== undefined) {
      // Registered first (live updates are kept aside), history read second: nothing falls in between.
      subscriber.pending = [];
      ctx.dispatcher.add(subscriber);
      const known = utf8Length(cursor) <= ctx.limits.maxIdBytes ? cursor : '\u0000unknown';
      replay = await fromBroker(() =>
        ctx.broker.history(known, FIRST_PAGE, skipsHubEvents(ctx, subscriber!)),
      );
      // The subscriber has the update its cursor names, and every one before it: one that reached it
      // live in the meantime (its fan-out runs a turn after its publish is answered) is dropped.
      if (replay.anchor) subscriber.replayed(replay.anchor.pos);
      const from = resumedFrom(ctx, subscriber, cursor, replay);
      resumed = from !== EARLIEST;
      headers['mercure-last-event-id'] = toHeaderValue(from);
      if (ctx.legacy) headers['last-event-id'] = headers['mercure-last-event-id'];
    } else if (rewind !== undefined) {
      // As for a replay: registered first (live updates kept aside), history read second.
      subscriber.pending = [];
      ctx.dispatcher.add(subscriber);
      rewound = await fromBroker(() => firstRewindPage(ctx.broker, rewind));
      if (ctx.legacy) headers['last-event-id'] = toHeaderValue(rewound.updates[0]?.id ?? EARLIEST);
    } else {
      ctx.dispatcher.add(subscriber);
      // Legacy clients read the hub's position at connect time here, to reconcile a fetched state.
      if (ctx.legacy) {
        headers['last-event-id'] = toHeaderValue(await fromBroker(() => ctx.broker.lastEventId()));
      }
    }

    // The stream ends when the token does (one shared timer for every subscriber).
    ctx.expiries.add(subscriber);
    if (!stream.closed) ctx.onOpen?.(subscriber);
    const response = stream.response({ headers });
    if (replay) void replayHistory(ctx, subscriber, replay, resumed);
    else if (rewound && rewind !== undefined) {
      void rewindHistory(ctx.broker, ctx.dispatcher, subscriber, rewound, rewind);
    }
    return response;
  } catch (error) {
    // Whatever went wrong, the subscriber must not stay registered (nor keep its connection slot).
    stream.abort('server');
    throw error;
  }
}

const unknownClient = () => undefined;

const tooManyPatterns = () =>
  new HubError('too_many_requests', 'the hub holds too many distinct URL patterns; retry later', {
    'retry-after': '30',
  });

/** Calls the broker; a broker that is away (e.g. Redis restarting) is a retryable 503, not a 500. */
async function fromBroker<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    console.error('ssehub: history lookup failed', error);
    throw new HubError('unavailable', 'the broker is unavailable; retry later');
  }
}

/**
 * The `Mercure-Last-Event-ID` of a resumed subscription: the cursor when the replay starts right after
 * it with nothing missing; `earliest` when the cursor is `earliest`, unknown or discarded, or when a
 * retention lane the subscriber may read from discarded updates after it. A found cursor is echoed even
 * when it names an update the subscriber may not read: it sent that id itself (the hub hands such
 * cursors out, e.g. in a rooms join answer), and the header never names another.
 */
function resumedFrom(ctx: SubscribeContext, subscriber: Subscriber, cursor: string, first: HistoryResult) {
  if (cursor === EARLIEST || !first.found) return EARLIEST;
  if (first.lost.some((lane) => concerns(ctx, subscriber, lane))) return EARLIEST;
  return cursor;
}

/**
 * True when `subscriber` may have missed something that retention lane `lane` discarded. A per-topic
 * lane holds the updates of one canonical topic: only a subscriber whose matchers select that topic
 * may (private updates are not told apart: a subscriber that could not read them is warned anyway;
 * a discarded update with alternate topics is also reported under its rule's name, see
 * `ruleOfTopicLane`). Subscription events (the presence lane) are private, so only a subscriber with
 * a token whose matchers can select their topics may. Any other lane (a rule's name included) holds
 * application topics, which any subscriber may match.
 */
function concerns(ctx: SubscribeContext, subscriber: Subscriber, lane: string): boolean {
  return laneConcerns(subscriber, lane, ctx.hubPath);
}

/**
 * True when a replay to `subscriber` may leave out hub events: its matchers cannot select a
 * subscription event's topic, or it has no token to read private updates (the hub's only events are
 * its subscription events, private and under the Subscription API's prefix). Every subscriber adds
 * one to history; without this, each resuming subscriber of a reconnect storm would walk past those
 * of all the others.
 */
const skipsHubEvents = (ctx: SubscribeContext, subscriber: Subscriber): boolean =>
  !laneConcerns(subscriber, PRESENCE_LANE, ctx.hubPath);

/**
 * True when `subscriber` may have missed something that retention lane `lane` discarded (see
 * `concerns`); for a hub mounted at `hubPath`. Also what a Workers relay asks when a shard lost history.
 */
export function laneConcerns(subscriber: Subscriber, lane: string, hubPath: string): boolean {
  const topic = topicOfLane(lane);
  if (topic !== undefined) return subscriber.matches([topic]);
  if (lane !== PRESENCE_LANE) return true;
  if (subscriber.principal === null) return false;
  const prefix = presencePrefix(hubPath);
  return subscriber.subscriptions.some((s) => s.match === '*' || s.pattern || s.match.startsWith(prefix));
}

/**
 * Sends the history after the cursor, page by page at the subscriber's pace, then what arrived live
 * meanwhile, and goes live. Runs after the response is returned; every failure ends the stream, from
 * which the client resumes with the last id it got.
 * @param resumed the response promised a replay with nothing missing (`Mercure-Last-Event-ID` is the
 *   cursor): if retention discards what the subscriber has not read yet, it must not go on silently.
 */
async function replayHistory(
  ctx: SubscribeContext,
  subscriber: Subscriber,
  first: HistoryResult,
  resumed: boolean,
) {
  const { stream } = subscriber;
  const started = performance.now();
  const writer = replayWriter(stream, ctx.dispatcher.metrics);
  // Pages as large as half the backlog bound, as far as the last one tells.
  const high = stream.limit / 2;
  try {
    let page = first;
    let limit = FIRST_PAGE;
    for (;;) {
      let pageBytes = 0;
      // Updates passed over can be many (others' subscription events, when the broker keeps them in
      // a page): the cheap test goes first, and the seam moves past a run of them once, not per update
      // (nothing reaches `pending` while no await lets another task run).
      let passedTo: string | undefined;
      for (const update of page.updates) {
        if (stream.closed) return;
        if (subscriber.matches(update.topics) && subscriber.canRead(update)) {
          if (passedTo !== undefined) subscriber.replayed(passedTo);
          const frame = frameOf(update);
          await writer.add(frame);
          pageBytes += frame.byteLength;
          subscriber.replayed(update.pos);
          passedTo = undefined;
        } else passedTo = update.pos;
      }
      if (passedTo !== undefined) subscriber.replayed(passedTo);
      await writer.flush();
      if (stream.closed) return;
      const last = page.updates.at(-1);
      if (!page.more || !last) break;
      limit = Math.max(
        1,
        Math.min(MAX_PAGE, pageBytes > 0 ? Math.floor((limit * high) / pageBytes) : limit * 2),
      );
      page = await ctx.broker.historyAfter(last.pos, limit, skipsHubEvents(ctx, subscriber));
      // Retention moved past what this subscriber had read: it would miss updates. It resumes from
      // its last event, and is then told (`earliest`) if that one is gone too.
      if (resumed && page.lost.some((lane) => concerns(ctx, subscriber, lane))) {
        stream.abort('slow');
        return;
      }
    }
    if (!stream.closed) {
      ctx.dispatcher.goLive(subscriber);
      ctx.dispatcher.metrics.replayDuration.observe((performance.now() - started) / 1000);
    }
  } catch (error) {
    console.error('ssehub: replay failed', error);
    stream.close('server');
  }
}
