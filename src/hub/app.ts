import { Hono } from 'hono';
import type { Broker } from '../brokers/types.ts';
import type { Config } from '../config.ts';
import { Heartbeat } from '../sse/heartbeat.ts';
import { type Authorizer, createAuthorizer } from './auth.ts';
import { Dispatcher } from './dispatcher.ts';
import { HubError } from './errors.ts';
import { parseForm, readBody } from './form.ts';
import { PatternCompiler } from './matchers.ts';
import { Metrics } from './metrics.ts';
import { parsePublishForm } from './publish.ts';
import { type SubscribeContext, subscribe } from './subscribe.ts';

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
  | 'maxMatchers'
  | 'maxMatcherLength'
  | 'jwtKey'
  | 'allowAnonymousPublish'
  | 'allowAnonymousSubscribe'
>;

export interface HubOptions {
  broker: Broker;
  settings: HubSettings;
  /** Overrides the authorizer built from the settings. */
  authorizer?: Authorizer;
}

/** A running hub: mount `app` (or call `fetch`) on any runtime. */
export interface Hub {
  /** Hono app serving `/.well-known/mercure`, `/healthz` and `/metrics`. */
  readonly app: Hono;
  readonly broker: Broker;
  readonly metrics: Metrics;
  readonly dispatcher: Dispatcher;
  /** Ends every stream cleanly (clients reconnect elsewhere) and stops listening to the broker. */
  shutdown(): Promise<void>;
}

/**
 * Builds the Mercure hub over a broker.
 *
 * @example
 * const hub = createHub({ broker: createMemoryBroker(), settings: { ...defaults, allowAnonymousPublish: true } });
 * export default { fetch: hub.app.fetch };
 */
export function createHub(options: HubOptions): Hub {
  const { broker, settings } = options;
  const metrics = new Metrics();
  const dispatcher = new Dispatcher(metrics);
  const heartbeat = new Heartbeat(settings.heartbeat * 1000);
  const authorizer = options.authorizer ?? createAuthorizer(settings);
  const unsubscribe = broker.subscribe((updates) => dispatcher.dispatch(updates));
  const configured = settings.publicUrl ? new URL(HUB_PATH, settings.publicUrl) : undefined;
  const hubUrlOf = (request: Request) => configured ?? new URL(HUB_PATH, request.url);

  const ctx: SubscribeContext = {
    broker,
    dispatcher,
    authorizer,
    heartbeat,
    compiler: new PatternCompiler(),
    limits: settings,
  };

  const app = new Hono();
  app.onError((error) => {
    if (error instanceof HubError) return error.toResponse();
    console.error('ssehub: unexpected error', error);
    return new Response('internal error\n', {
      status: 500,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    });
  });

  app.get(HUB_PATH, (c) => subscribe(ctx, c.req.raw, hubUrlOf(c.req.raw)));

  app.post(HUB_PATH, async (c) => {
    const request = c.req.raw;
    const principal = await authorizer.publisher(request);
    const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      throw new HubError(
        'unsupported_media_type',
        'publish with Content-Type: application/x-www-form-urlencoded',
      );
    }
    const fields = parseForm(await readBody(request, settings.maxBodyBytes));
    const input = parsePublishForm(fields, hubUrlOf(request), settings);
    for (const topic of input.topics) {
      if (!principal.canPublish(topic)) {
        throw new HubError('forbidden', `not allowed to publish to ${JSON.stringify(topic)}`, {
          'www-authenticate': 'Bearer realm="ssehub", error="insufficient_scope"',
        });
      }
    }
    if (!broker.healthy) throw new HubError('unavailable', 'the broker is unavailable; retry later');
    let update: Awaited<ReturnType<Broker['publish']>>;
    try {
      update = await broker.publish(input);
    } catch (error) {
      console.error('ssehub: publish failed', error);
      throw new HubError('unavailable', 'the broker is unavailable; retry later');
    }
    metrics.updatesPublished++;
    return new Response(update.id, { headers: { 'content-type': 'text/plain; charset=utf-8' } });
  });

  app.get('/healthz', (c) =>
    c.json(
      { status: broker.healthy ? 'ok' : 'unavailable', broker: broker.healthy ? 'up' : 'down' },
      broker.healthy ? 200 : 503,
    ),
  );

  app.get('/metrics', () => {
    const size = (broker as { size?: number }).size;
    return new Response(metrics.render(size), {
      headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
    });
  });

  return {
    app,
    broker,
    metrics,
    dispatcher,
    async shutdown() {
      unsubscribe();
      for (const subscriber of [...dispatcher.subscribers]) subscriber.stream.close('server');
      heartbeat.stop();
    },
  };
}
