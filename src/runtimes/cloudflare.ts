/**
 * Cloudflare Workers entry: a stateless Worker that forwards every request to ONE hub Durable Object,
 * which runs the same app as the other runtimes with its history in the object's SQLite storage.
 * A plain Worker cannot hold a subscriber's stream open while another request publishes: the object
 * is the one place where both meet. Settings are the same table as everywhere (`src/config.ts`), read
 * from the Worker's vars and secrets (`wrangler.toml` `[vars]`, `wrangler secret put SSEHUB_JWT_KEY`).
 */
import { DurableObject, type DurableObjectNamespace, type DurableObjectState } from 'cloudflare:workers';
import { createApp } from '../app.ts';
import { createDurableObjectBroker } from '../brokers/durable-object.ts';
import { ConfigError, defaults, parseConfig } from '../config.ts';
import { HubError } from '../hub/errors.ts';
import { readBody } from '../hub/form.ts';
import { mintToken } from '../hub/tokens.ts';

/** The Worker's bindings: the hub object, plus the settings as string vars and secrets. */
export interface Env {
  HUB: DurableObjectNamespace;
  [setting: string]: unknown;
}

/** Name of the one hub object every request goes to. */
const HUB_OBJECT = 'hub';

type Handler = (request: Request) => Response | Promise<Response>;

/**
 * The hub Durable Object: one instance serves every subscriber and publisher, so fan-out stays
 * in-process. History is loaded from SQLite storage in the constructor (synchronous), so a restarted
 * object replays what subscribers missed.
 */
export class HubObject extends DurableObject<Env> {
  readonly #handler: Handler;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#handler = buildHub(ctx, env);
  }

  override fetch(request: Request): Response | Promise<Response> {
    return this.#handler(request);
  }
}

function buildHub(ctx: DurableObjectState, env: Env): Handler {
  let parsed: ReturnType<typeof parseConfig>;
  try {
    parsed = parseConfig([], settingsOf(env));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return misconfigured(error.message);
  }
  if (parsed.help) return misconfigured('unexpected help request');
  const config = parsed.config;
  if (!config.jwtKey && !config.allowAnonymousPublish) {
    if (!config.dev) {
      return misconfigured(
        'no publisher key configured: run `wrangler secret put SSEHUB_JWT_KEY` (or set SSEHUB_DEV=true locally)',
      );
    }
    // Development only, like `npm start`: a key for this object's lifetime, and a token in the log.
    config.jwtKey = crypto.randomUUID() + crypto.randomUUID();
    const key = config.jwtKey;
    ctx.waitUntil(
      mintToken({ key, ttl: 3600 }).then((token) =>
        console.log(`ssehub development mode: publisher token (valid 1 hour):\n  ${token}`),
      ),
    );
  }
  const broker = createDurableObjectBroker(ctx.storage.sql, { historySize: config.historySize });
  const { app } = createApp({ config, broker });
  return (request) => app.fetch(request);
}

/** The string bindings: vars and secrets, which carry the settings (env var names of the table). */
function settingsOf(env: Env): Record<string, string> {
  const strings: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (typeof value === 'string') strings[name] = value;
  return strings;
}

/** Every request gets the configuration error: visible at once, rather than a hub that half works. */
function misconfigured(message: string): Handler {
  console.error(`ssehub: ${message}`);
  return () =>
    new Response(`ssehub is misconfigured: ${message}\n`, {
      status: 500,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    });
}

/**
 * The stateless Worker: every request goes to the one hub object. Event streams pass through
 * untouched (no JavaScript per chunk here); a subscriber that goes away shows up in the object when
 * a write to it fails, which the hub's heartbeat guarantees within about one interval.
 */
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const hub = env.HUB.get(env.HUB.idFromName(HUB_OBJECT));
    if (request.body === null) return hub.fetch(request);
    // A request body is read here, whole and bounded, before it is handed on: when the object answers
    // early (401, 413) the body would otherwise still be streaming from the client into the object
    // after the response, which workerd refuses ("Can't read from request stream after response has
    // been sent") at the cost of the connection and, under `wrangler dev`, of the isolate.
    let body: Uint8Array;
    try {
      body = await readBody(request, bodyLimit(env));
    } catch (error) {
      if (error instanceof HubError) return error.toResponse();
      throw error;
    }
    return hub.fetch(new Request(request, { body: body as Uint8Array<ArrayBuffer> }));
  },
};

const limits = new WeakMap<Env, number>();

/** `SSEHUB_MAX_BODY_BYTES` from the vars, parsed once per isolate; a bad value is left to the object. */
function bodyLimit(env: Env): number {
  let limit = limits.get(env);
  if (limit === undefined) {
    try {
      const parsed = parseConfig([], settingsOf(env));
      limit = parsed.help ? defaults.maxBodyBytes : parsed.config.maxBodyBytes;
    } catch {
      limit = defaults.maxBodyBytes;
    }
    limits.set(env, limit);
  }
  return limit;
}
