import { type Context, Hono } from 'hono';
import {
  type Broker,
  createMemoryRegistry,
  type SubscriptionRegistry,
  type UpdateInput,
} from '../brokers/index.ts';
import type { Config } from '../config/index.ts';
import { EventStream, Heartbeat } from '../sse/index.ts';
import { adminApi } from './admin.ts';
import { type Authorizer, createAuthorizer, insufficientScope, type Principal } from './auth.ts';
import { cors, corsHeaders, parseOrigins } from './cors.ts';
import { resourceMetadata } from './discovery.ts';
import { Dispatcher } from './dispatcher.ts';
import { drainRetry, drainStreams } from './drain.ts';
import { HubError } from './errors.ts';
import { Expiries } from './expiries.ts';
import { parseForm, readBody } from './form.ts';
import { type HubUrls, hubUrls } from './hub-url.ts';
import { type IssuerConfig, parseIssuers } from './issuers.ts';
import { ConnectionLimiter } from './limits.ts';
import { PatternCompiler } from './matchers.ts';
import { type LoopDelay, Metrics, metricsGuard, type ProcessStats } from './metrics.ts';
import { Operations, type OperationsBackends, type OperationsSettings } from './operations.ts';
import { parsePublishForm } from './publish.ts';
import { type SubscribeContext, subscribe } from './subscribe.ts';
import { subscriptionApi } from './subscription-api.ts';
import { Presence } from './subscriptions.ts';
import type { SignatureCheck } from './verify.ts';

/** The hub's URL path, fixed by the protocol. */
export const HUB_PATH = '/.well-known/mercure';

/** The settings the hub reads; a {@link Config} has them all. */
export type HubSettings = Pick<
  Config,
  | 'publicUrl'
  | 'heartbeat'
  | 'retry'
  | 'maxQueueBytes'
  | 'maxBodyBytes'
  | 'maxTopics'
  | 'maxTopicLength'
  | 'maxIdBytes'
  | 'maxMatchers'
  | 'maxMatcherLength'
  | 'maxPatterns'
  | 'maxRewind'
  | 'jwtKey'
  | 'allowAnonymousPublish'
  | 'allowAnonymousSubscribe'
> &
  Partial<
    Pick<
      Config,
      | 'issuer'
      | 'resource'
      | 'issuers'
      | 'cookieName'
      | 'corsOrigins'
      | 'maxConnections'
      | 'maxConnectionsPerClient'
      | 'subscriptionEvents'
      | 'legacy'
    >
  > &
  OperationsSettings;

export interface HubOptions {
  broker: Broker;
  settings: HubSettings;
  /** Overrides the authorizer built from the settings. */
  authorizer?: Authorizer;
  /** Trusted issuers read by the runtime (e.g. from `--issuers-file`), added to the settings' ones. */
  issuers?: readonly IssuerConfig[];
  /** Where active subscriptions are kept; default in memory (one instance). */
  registry?: SubscriptionRegistry;
  /** The client's network address, as the runtime knows it (per-client connection limits). */
  clientAddress?: (c: Context) => string | undefined;
  /** The runtime's synchronous signature checks (`node:crypto`); default: Web Crypto, through jose. */
  signatures?: SignatureCheck;
  /**
   * The event loop's delay since the previous call (and starts a new period), for `/metrics`: on
   * runtimes that can measure it (Node).
   */
  loopDelay?: () => LoopDelay;
  /** The process's CPU, memory and open files, for `/metrics`: on runtimes that can tell (Node, Bun, Deno). */
  processStats?: () => Promise<ProcessStats>;
  /** How fan-out is scheduled (see {@link Dispatcher}); Node passes `setImmediate`. */
  defer?: (flush: () => void) => void;
  /**
   * Checks an authorized publish before it reaches the broker; throws a {@link HubError} to refuse it
   * (e.g. rooms keep their topics private and their messages small).
   */
  guard?: (update: UpdateInput, hubUrl: URL, publisher: Principal) => void | Promise<void>;
  /**
   * Admits a subscriber beyond what its token allows, before its stream opens: rejects with a
   * {@link HubError} to refuse it (rooms: 409 when the peer's room is full). Returns undefined when it
   * has nothing to check, so that other subscriptions wait for nothing.
   */
  admit?: SubscribeContext['admit'];
  /**
   * Counts open streams against the connection limits; default one of its own. Hubs that share one
   * (a Workers relay's, one per shard it serves) share the limits, as one instance.
   */
  limiter?: ConnectionLimiter;
  /** Where rate limits, revocations and webhook claims are kept; default in memory (one instance). */
  operations?: OperationsBackends;
}

/** A running hub: mount `app` (or call `fetch`) on any runtime. */
export interface Hub {
  /** Hono app serving `/.well-known/mercure` (and below), `/healthz` and `/metrics`. */
  readonly app: Hono;
  readonly broker: Broker;
  readonly metrics: Metrics;
  readonly dispatcher: Dispatcher;
  readonly registry: SubscriptionRegistry;
  /** Resolves the principals of requests (for endpoints mounted beside the hub). */
  readonly authorizer: Authorizer;
  /** The hub URL of a request: what relative topics resolve against (see `hub-url.ts`). */
  readonly urls: HubUrls;
  /** Resolves once the configured keys are imported; rejects with a `ConfigError` for a bad key. */
  readonly ready: Promise<void>;
  /** Rate limits, the denylist, webhooks: the operator controls (see `operations.ts`). */
  readonly operations: Operations;
  /**
   * Starts draining: refuses new streams, answers `/healthz` with 503, and ends the open streams
   * evenly over `durationMs` (see `drain.ts`); resolves once they are all ended.
   */
  drain(
    durationMs: number,
    onProgress?: (left: number, total: number, msLeft: number) => void,
  ): Promise<void>;
  /** Ends every stream cleanly (clients reconnect elsewhere) and stops listening to the broker. */
  shutdown(): Promise<void>;
}

/**
 * Builds the Mercure hub over a broker.
 * @throws {ConfigError} for invalid issuers, CORS origins, public URL or resource identifier.
 *
 * @example
 * const hub = createHub({ broker: createMemoryBroker(), settings: { ...defaults, allowAnonymousPublish: true } });
 * export default { fetch: hub.app.fetch };
 */
export function createHub(options: HubOptions): Hub {
  const { broker, settings } = options;
  // First: a ConfigError here leaves nothing started.
  const urls = hubUrls(settings, HUB_PATH);
  const hubUrlOf = urls.of;
  const metrics = new Metrics();
  const dispatcher = new Dispatcher(metrics, options.defer);
  const heartbeat = new Heartbeat(settings.heartbeat * 1000);
  const compiler = new PatternCompiler();
  const legacy = settings.legacy ?? false;
  const cookieName = settings.cookieName ?? '__Secure-mercure_access_token';
  const issuers = [
    ...(settings.issuers ? parseIssuers(settings.issuers, 'SSEHUB_ISSUERS') : []),
    ...(options.issuers ?? []),
  ];
  const origins = parseOrigins(settings.corsOrigins ?? []);
  const operations = new Operations(
    settings,
    { broker, dispatcher, metrics, hubPath: HUB_PATH, clientAddress: options.clientAddress },
    options.operations,
  );
  const expiries = new Expiries(operations.expiryOptions());
  const authorizer = operations.guard(
    options.authorizer ??
      createAuthorizer({
        ...settings,
        issuers,
        cookieName,
        legacy,
        compiler,
        resource: settings.resource,
        origins,
        ...(options.signatures ? { signatures: options.signatures } : {}),
      }),
  );
  const registry = options.registry ?? createMemoryRegistry();
  const events = settings.subscriptionEvents ?? true;
  const presence = events ? new Presence(registry, broker, HUB_PATH) : undefined;
  const unsubscribe = broker.subscribe((updates) => dispatcher.dispatch(updates));
  // After the dispatcher's listener: its deferred turn runs after the fan-out's.
  const unsubscribeLatency = broker.subscribe(operations.latency.listener);
  const limits = operations.rateLimits;
  const admit: SubscribeContext['admit'] = limits?.limits('subscribe')
    ? (principal, subscriptions, client) => {
        const room = options.admit;
        const limited = limits.check('subscribe', principal, client())!;
        return room ? limited.then(() => room(principal, subscriptions, client)) : limited;
      }
    : options.admit;

  const ctx: SubscribeContext = {
    broker,
    dispatcher,
    authorizer,
    heartbeat,
    expiries,
    compiler,
    limits: settings,
    hubPath: HUB_PATH,
    legacy,
    limiter:
      options.limiter ??
      new ConnectionLimiter({
        maxConnections: settings.maxConnections ?? 0,
        maxConnectionsPerClient: settings.maxConnectionsPerClient ?? 0,
      }),
    admit,
    onOpen: presence && ((subscriber) => presence.opened(subscriber)),
    onClose: presence && ((subscriber) => presence.closed(subscriber)),
  };

  const app = new Hono();
  // No `onError` here: HubError renders itself (see errors.ts), and createApp sets the app-wide one.
  // One registration: `${HUB_PATH}/*` also matches HUB_PATH itself, so a second one would run twice.
  // Not on `GET ${HUB_PATH}`: a new subscription adds its CORS headers itself (below), so that its
  // route has one handler, which Hono calls without composing a chain — several µs per subscriber.
  // `${HUB_PATH}/subscriptions/*` also matches `${HUB_PATH}/subscriptions`.
  const corsMiddleware = cors(origins);
  app.on(['POST', 'OPTIONS'], HUB_PATH, corsMiddleware);
  app.use(`${HUB_PATH}/subscriptions/*`, corsMiddleware);

  let closing = false;
  /** Set while draining: the window the streams' ends are spread over. */
  let draining: { durationMs: number } | undefined;
  app.get(HUB_PATH, (c) => {
    const request = c.req.raw;
    const headers = corsHeaders(origins, request.headers.get('origin'));
    // Shutting down: a new stream would be cut moments later. End it at once, cleanly, with the
    // retry hint, so the client reconnects (elsewhere, or here once restarted) after the usual delay.
    if (closing) {
      const retry = draining ? drainRetry(settings.retry, draining.durationMs) : settings.retry;
      return shuttingDown(retry, headers);
    }
    const clientAddress = options.clientAddress;
    const client = clientAddress && (() => clientAddress(c));
    // A refusal carries the CORS headers too: a page on an allowed origin can read the challenge.
    return subscribe(ctx, request, hubUrlOf(request), client, headers).catch((error: unknown) => {
      throw error instanceof HubError ? withHeaders(error, headers) : error;
    });
  });

  app.post(HUB_PATH, async (c) => {
    const request = c.req.raw;
    const hubUrl = hubUrlOf(request);
    const principal = await authorizer.publisher(request, hubUrl);
    const limited = limits?.check('publish', principal, options.clientAddress?.(c));
    if (limited) await limited;
    const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      throw new HubError(
        'unsupported_media_type',
        'publish with Content-Type: application/x-www-form-urlencoded',
      );
    }
    const fields = parseForm(await readBody(request, settings.maxBodyBytes));
    const input = parsePublishForm(fields, hubUrl, settings);
    for (const topic of input.topics) {
      if (!principal.canPublish(topic)) {
        throw insufficientScope(hubUrl, `not allowed to publish to ${JSON.stringify(topic)}`);
      }
    }
    const guarded = options.guard?.(input, hubUrl, principal);
    if (guarded) await guarded;
    if (!broker.healthy) throw new HubError('unavailable', 'the broker is unavailable; retry later');
    let update: Awaited<ReturnType<Broker['publish']>> | undefined;
    const started = operations.latency.begin();
    try {
      update = await broker.publish(input);
    } catch (error) {
      console.error('ssehub: publish failed', error);
      throw new HubError('unavailable', 'the broker is unavailable; retry later');
    } finally {
      operations.latency.published(update?.id, started);
    }
    metrics.updatesPublished++;
    return new Response(update.id, {
      headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
    });
  });

  const api = (c: Context) => {
    if (!events) throw new HubError('not_found', 'subscription events are disabled on this hub');
    return subscriptionApi({ broker, registry, authorizer }, c.req.raw, hubUrlOf(c.req.raw));
  };
  app.get(`${HUB_PATH}/subscriptions`, api);
  app.get(`${HUB_PATH}/subscriptions/*`, api);

  app.get(`/.well-known/oauth-protected-resource${HUB_PATH}`, (c) => {
    const hubUrl = hubUrlOf(c.req.raw);
    const names = issuers.map((i) => i.issuer).filter((i): i is string => i !== undefined);
    if (settings.jwtKey) names.unshift(settings.issuer ?? hubUrl.origin);
    const body = resourceMetadata({
      resource: settings.resource ?? hubUrl.href,
      issuers: names,
      cookieName,
      subscriptions: events,
      legacy,
    });
    // Public and credential-free: any origin may read it.
    return c.json(body, 200, {
      'cache-control': 'max-age=300',
      'access-control-allow-origin': '*',
      'x-content-type-options': 'nosniff',
    });
  });

  app.get('/healthz', (c) =>
    c.json(
      {
        // Draining: not ready, so that load balancers send new clients elsewhere.
        status: draining ? 'draining' : broker.healthy ? 'ok' : 'unavailable',
        broker: broker.healthy ? 'up' : 'down',
        ...(draining ? { streams: dispatcher.subscribers.size } : {}),
      },
      broker.healthy && !draining ? 200 : 503,
      { 'x-content-type-options': 'nosniff' },
    ),
  );

  const admin = adminApi({
    operations,
    authorizer,
    dispatcher,
    registry: events ? registry : undefined,
    urls,
    hubPath: HUB_PATH,
  });
  if (admin) app.route('/', admin);

  const metricsRefusal = metricsGuard(settings.metricsKey);
  app.get('/metrics', async (c) => {
    const refused = await metricsRefusal(c.req.raw);
    if (refused) return refused;
    const size = (broker as { size?: number }).size;
    const stats = await options.processStats?.();
    return new Response(metrics.render(size, options.loopDelay?.(), stats), {
      headers: {
        'content-type': 'text/plain; version=0.0.4; charset=utf-8',
        'x-content-type-options': 'nosniff',
      },
    });
  });

  return {
    app,
    broker,
    metrics,
    dispatcher,
    registry,
    authorizer,
    urls,
    ready: Promise.all([authorizer.ready, operations.ready]).then(() => {}),
    operations,
    async drain(durationMs, onProgress) {
      closing = true;
      draining = { durationMs };
      await drainStreams(
        [...dispatcher.subscribers].map((s) => s.stream),
        { durationMs, retryMs: settings.retry, onClose: () => metrics.closedBy.drain++, onProgress },
      );
      await presence?.settled();
    },
    async shutdown() {
      closing = true;
      for (const subscriber of [...dispatcher.subscribers]) subscriber.stream.close('server');
      // The streams' `active: false` events go out before the broker is released.
      await presence?.settled();
      unsubscribe();
      unsubscribeLatency();
      await operations.close();
      heartbeat.stop();
      expiries.stop();
      await registry.close();
    },
  };
}

/** The response to a subscription that arrives while the hub shuts down: the retry hint, then the end. */
function shuttingDown(retry: number, headers: Record<string, string>): Response {
  const stream = new EventStream({ retry });
  stream.close('server');
  headers.connection = 'close';
  return stream.response({ headers });
}

/** The same refusal, with `headers` added to its own. */
function withHeaders(error: HubError, headers: Record<string, string>): HubError {
  const merged: Record<string, string> = { ...headers };
  for (const name in error.headers) merged[name] = error.headers[name]!;
  return new HubError(error.code, error.message, merged);
}
