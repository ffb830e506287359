/**
 * Cloudflare Workers entry: a stateless Worker in front of hub Durable Objects, which run the same app
 * as the other runtimes with their history in the object's SQLite storage. A plain Worker cannot hold
 * a subscriber's stream open while another request publishes: an object is the place where both meet.
 * With the default settings every request goes to ONE hub object (`hub`); with `SSEHUB_SHARDS` above 1
 * or `SSEHUB_RELAYS` the Worker routes between topic shards, room objects and relay objects
 * (`cloudflare/router.ts`, docs/workers-scaling.md). Settings are the same table as everywhere
 * (`src/config.ts`), read from the Worker's vars and secrets (`wrangler.toml` `[vars]`,
 * `wrangler secret put SSEHUB_JWT_KEY`).
 */
import { DurableObject, type DurableObjectNamespace, type DurableObjectState } from 'cloudflare:workers';
import { createApp } from '../app.ts';
import { createDurableObjectBroker, createMemoryControl, sqlRevocationStore } from '../brokers/index.ts';
import { ConfigError, defaults, parseConfig } from '../config/index.ts';
import { configuredHubUrl, devTokens, HUB_PATH, type Hub, retentionOf } from '../hub/index.ts';
import {
  type Env as Bindings,
  configOf,
  type Handler,
  misconfigured,
  readBodyAtEdge,
  settingsOf,
  stubOf,
  withByteStrings,
} from './cloudflare/glue.ts';
import { Relay } from './cloudflare/relay.ts';
import { createRouter, type Router } from './cloudflare/router.ts';
import { ShardFeed } from './cloudflare/shard-feed.ts';
import { HUB_OBJECT, isSharded, topologyOf } from './cloudflare/topology.ts';
import { linkTo } from './cloudflare/upstream.ts';
import { INTERNAL } from './cloudflare/wire.ts';
import { randomKey } from './dev-key.ts';
import { installJsonLogs } from './json-logs.ts';

/**
 * The Worker's bindings: the hub object class (`HUB`), the relay class (`RELAY`, needed once the hub
 * is sharded), plus the settings as string vars and secrets.
 */
export interface Env extends Bindings {
  HUB: DurableObjectNamespace;
  RELAY?: DurableObjectNamespace;
}

/**
 * The hub Durable Object: one instance serves every subscriber and publisher of its topics, so fan-out
 * stays in-process: the single hub (`hub`), a topic shard (`shard:N`) or a room (`room:NAME`). History
 * is loaded from SQLite storage in the constructor (synchronous), so a restarted object replays what
 * subscribers missed. Relays and the Worker reach its internal endpoints (`cloudflare/shard-feed.ts`).
 */
export class HubObject extends DurableObject<Env> {
  #handler: Handler;
  #internal: ShardFeed | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const built = buildHub(ctx, env);
    this.#handler = built.handler;
    // The internal endpoints exist only where relays and the router use them: never on the one hub object.
    if (built.hub && built.heartbeat && shardedEnv(env)) {
      this.#internal = new ShardFeed(built.hub, built.heartbeat * 1000);
    }
    const name = ctx.id.name;
    // A shard or a room says which object it is on /metrics: a room is seen to run in its own object.
    if (name !== undefined && (name !== HUB_OBJECT || shardedEnv(env))) {
      this.#handler = labelMetrics(this.#handler, name, () => this.#internal?.feeds ?? 0);
    }
    // Keys are imported (and checked) before the first request is let in, as the other runtimes do
    // before they listen; a bad key then answers every request with the reason.
    const ready = built.ready;
    if (ready) {
      void ctx.blockConcurrencyWhile(() =>
        ready.catch((error: unknown) => {
          this.#handler = misconfigured(error instanceof Error ? error.message : String(error));
        }),
      );
    }
  }

  override fetch(request: Request): Response | Promise<Response> {
    return this.#internal?.handle(request) ?? this.#handler(request);
  }
}

/**
 * Appends `ssehub_object{name="…"} 1` and `ssehub_feeds` (relays following this object: the copies it
 * writes of each update) to the object's `/metrics`.
 */
function labelMetrics(handler: Handler, name: string, feeds: () => number): Handler {
  const line = `# HELP ssehub_object The Durable Object that answered.\n# TYPE ssehub_object gauge\nssehub_object{name="${name}"} 1\n`;
  return async (request) => {
    const response = await handler(request);
    if (new URL(request.url).pathname !== '/metrics' || response.status !== 200) return response;
    const feedLine = `# HELP ssehub_feeds Relay feeds this object writes every update to.\n# TYPE ssehub_feeds gauge\nssehub_feeds ${feeds()}\n`;
    return new Response((await response.text()) + line + feedLine, response);
  };
}

/** True when `env`'s settings run the hub past one object (read, not checked: the Worker reports errors). */
function shardedEnv(env: Env): boolean {
  const config = configOf(env);
  if (typeof config === 'string') return false;
  try {
    return isSharded(topologyOf(config));
  } catch {
    return false;
  }
}

interface Built {
  handler: Handler;
  ready?: Promise<void>;
  /** The running hub and its heartbeat (s), for the internal endpoints; absent when misconfigured. */
  hub?: Hub;
  heartbeat?: number;
}

function buildHub(ctx: DurableObjectState, env: Env): Built {
  let parsed: ReturnType<typeof parseConfig>;
  try {
    parsed = parseConfig([], settingsOf(env));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { handler: misconfigured(error.message) };
  }
  if (parsed.help) return { handler: misconfigured('unexpected help request') };
  const config = parsed.config;
  if (config.logFormat === 'json') installJsonLogs();
  else if (config.logFormat !== 'text') {
    return { handler: misconfigured(`SSEHUB_LOG_FORMAT must be text or json, got "${config.logFormat}"`) };
  }
  // The object is the broker and has no file system: these settings cannot work here.
  if (config.issuersFile) {
    return {
      handler: misconfigured('SSEHUB_ISSUERS_FILE needs a file system; put the JSON in SSEHUB_ISSUERS'),
    };
  }
  if (config.redisUrl) {
    return { handler: misconfigured('SSEHUB_REDIS_URL does not apply: the Durable Object is the broker') };
  }
  const keyed = Boolean(config.jwtKey || config.issuers);
  if (!keyed && !config.allowAnonymousPublish && !config.dev) {
    return {
      handler: misconfigured(
        'no key configured: run `wrangler secret put SSEHUB_JWT_KEY` (or set SSEHUB_ISSUERS, or SSEHUB_DEV=true locally)',
      ),
    };
  }
  // Development only, like `npm start --dev`: a key for this object's lifetime; tokens are logged at
  // the first request, once the hub's URL is known.
  const devKey = config.dev && !keyed ? randomKey() : undefined;
  if (devKey) config.jwtKey = devKey;

  let hub: Hub;
  let app: { fetch(request: Request): Response | Promise<Response> };
  try {
    const broker = createDurableObjectBroker(ctx.storage, {
      retention: retentionOf(config, HUB_PATH),
    });
    // Cloudflare's edge sets CF-Connecting-IP on every request (a client cannot forge it there).
    ({ app, hub } = createApp({
      config,
      broker,
      hub: {
        clientAddress: (c) => c.req.header('cf-connecting-ip'),
        // Revocations outlive a restart of the object, as its history does.
        operations:
          config.adminKey || config.adminTokens
            ? { control: createMemoryControl(sqlRevocationStore(ctx.storage.sql)) }
            : undefined,
      },
    }));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { handler: misconfigured(error.message) };
  }
  let tokensShown = !devKey;
  return {
    ready: hub.ready,
    hub,
    heartbeat: config.heartbeat,
    handler: (request) => {
      if (!tokensShown && devKey) {
        tokensShown = true;
        const hubUrl = (configuredHubUrl(config, HUB_PATH) ?? new URL(HUB_PATH, request.url)).href;
        ctx.waitUntil(
          devTokens({ key: devKey, hubUrl, issuer: config.issuer, audience: config.resource }).then(
            ({ publisher, subscriber }) =>
              console.log(
                `ssehub development mode (generated key):\nPublisher token (valid 1 hour):\n  ${publisher}\nSubscriber token (valid 1 hour, reads private updates):\n  ${subscriber}`,
              ),
          ),
        );
      }
      return withByteStrings(request, (r) => app.fetch(r));
    },
  };
}

/**
 * A relay object: the fan-out tier of a sharded hub (see `cloudflare/relay.ts`). It holds subscriber
 * streams and one upstream feed per shard; nothing in it outlives it.
 */
export class RelayObject extends DurableObject<Env> {
  readonly #handler: Handler;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const config = configOf(env);
    if (typeof config === 'string') {
      this.#handler = misconfigured(config);
      return;
    }
    // The relay logs as the shards do (a bad value is the shards' to report).
    if (config.logFormat === 'json') installJsonLogs();
    try {
      const relay = new Relay({
        config,
        topology: topologyOf(config),
        name: ctx.id.name ?? 'relay',
        link: (name) => linkTo((n) => stubOf(env.HUB, n), name),
        // The admin API's denylist outlives an eviction of the relay, as a shard's does.
        ...(config.adminKey || config.adminTokens
          ? { revocations: sqlRevocationStore(ctx.storage.sql) }
          : {}),
      });
      this.#handler = (request) => withByteStrings(request, (r) => relay.fetch(r));
    } catch (error) {
      if (!(error instanceof ConfigError) && !(error instanceof Error)) throw error;
      this.#handler = misconfigured(error.message);
    }
  }

  override fetch(request: Request): Response | Promise<Response> {
    return this.#handler(request);
  }
}

/**
 * The stateless Worker: with one shard and no relays (the default), every request goes to the one hub
 * object. Event streams pass through untouched (no JavaScript per chunk here); a subscriber that goes
 * away shows up in the object when a write to it fails, which the hub's heartbeat guarantees within
 * about one interval. Sharded, `cloudflare/router.ts` decides where each request goes.
 */
const worker: { fetch(request: Request, env: Env): Promise<Response> } = {
  async fetch(request: Request, env: Env): Promise<Response> {
    const routed = routerOf(env);
    if (typeof routed !== 'string') return routed.fetch(request);
    // Internal paths are the objects' own (`cloudflare/wire.ts`): never a client's, sharded or not.
    if (new URL(request.url).pathname.startsWith(INTERNAL)) {
      return new Response('not found\n', {
        status: 404,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
      });
    }
    const hub = stubOf(env.HUB, HUB_OBJECT);
    if (request.body === null) return hub.fetch(request);
    // A request body is read here, whole and bounded, before it is handed on: when the object answers
    // early (401, 413) the body would otherwise still be streaming from the client into the object
    // after the response, which workerd refuses ("Can't read from request stream after response has
    // been sent") at the cost of the connection and, under `wrangler dev`, of the isolate.
    const body = await readBodyAtEdge(request, bodyLimit(env));
    if (body instanceof Response) return body;
    return hub.fetch(new Request(request, { body: body as Uint8Array<ArrayBuffer> }));
  },
};

// Typed where it is declared: JSR's fast type check cannot infer an object literal's type in `export default`.
export default worker;

/** `SSEHUB_MAX_BODY_BYTES` from the vars; a bad value is left to the object, which reports it. */
function bodyLimit(env: Env): number {
  const config = configOf(env);
  return typeof config === 'string' ? defaults.maxBodyBytes : config.maxBodyBytes;
}

const routers = new WeakMap<Env, Router | 'single'>();

/**
 * The router of a sharded hub, built once per isolate; `'single'` for the one-object hub (or for
 * settings the hub object reports itself).
 */
function routerOf(env: Env): Router | 'single' {
  let routed = routers.get(env);
  if (routed === undefined) {
    routed = buildRouter(env);
    routers.set(env, routed);
  }
  return routed;
}

function buildRouter(env: Env): Router | 'single' {
  const config = configOf(env);
  if (typeof config === 'string') return 'single';
  const refuse = (message: string): Router => {
    const handler = misconfigured(message);
    return { fetch: async (request) => handler(request) };
  };
  let topology: ReturnType<typeof topologyOf>;
  try {
    topology = topologyOf(config);
  } catch (error) {
    return refuse((error as Error).message);
  }
  if (!isSharded(topology)) return 'single';
  if (!env.RELAY)
    return refuse('a sharded hub needs the RELAY binding (class RelayObject): see wrangler.toml');
  if (config.dev && !config.jwtKey && !config.issuers) {
    // Every object would generate a key of its own: tokens of one would not work on the others.
    return refuse('development mode with shards or relays needs a key: set SSEHUB_JWT_KEY');
  }
  return createRouter(env, config, topology);
}
