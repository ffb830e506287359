/**
 * Cloudflare Workers entry: a stateless Worker that forwards every request to ONE hub Durable Object,
 * which runs the same app as the other runtimes with its history in the object's SQLite storage.
 * A plain Worker cannot hold a subscriber's stream open while another request publishes: the object
 * is the one place where both meet. Settings are the same table as everywhere (`src/config.ts`), read
 * from the Worker's vars and secrets (`wrangler.toml` `[vars]`, `wrangler secret put SSEHUB_JWT_KEY`).
 */
import { DurableObject, type DurableObjectNamespace, type DurableObjectState } from 'cloudflare:workers';
import { createApp } from '../app.ts';
import { createDurableObjectBroker, createMemoryControl, sqlRevocationStore } from '../brokers/index.ts';
import { ConfigError, defaults, parseConfig } from '../config/index.ts';
import {
  configuredHubUrl,
  devTokens,
  fromHeaderValue,
  HUB_PATH,
  type Hub,
  HubError,
  readBody,
  retentionOf,
  toHeaderValue,
} from '../hub/index.ts';
import { randomKey } from './dev-key.ts';
import { installJsonLogs } from './json-logs.ts';

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
  #handler: Handler;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const built = buildHub(ctx, env);
    this.#handler = built.handler;
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
    return this.#handler(request);
  }
}

function buildHub(ctx: DurableObjectState, env: Env): { handler: Handler; ready?: Promise<void> } {
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

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * workerd departs from the Fetch standard in header values: it hands a request's over as their UTF-8
 * decoding (U+FFFD for bytes that are not UTF-8) and writes a response's as the UTF-8 of the string,
 * where Node, Bun and Deno use byte strings both ways, one char per byte (observed with workerd
 * 2026-04-26 under wrangler 4.86). The hub speaks byte strings (`hub/header-values.ts`): this edge
 * converts both ways, so the same bytes reach the wire as on the other runtimes.
 */
async function withByteStrings(request: Request, handle: Handler): Promise<Response> {
  const sent = converted(request.headers, toHeaderValue);
  const response = await handle(sent ? new Request(request, { headers: sent }) : request);
  const headers = converted(response.headers, fromHeaderValue);
  if (!headers) return response;
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/** A copy of `headers` with every non-ASCII value converted, or undefined when all are ASCII. */
function converted(headers: Headers, convert: (value: string) => string): Headers | undefined {
  let copy: Headers | undefined;
  for (const [name, value] of headers) {
    if (!NON_ASCII.test(value)) continue;
    copy ??= new Headers(headers);
    copy.set(name, convert(value));
  }
  return copy;
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
      headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
    });
}

/**
 * The stateless Worker: every request goes to the one hub object. Event streams pass through
 * untouched (no JavaScript per chunk here); a subscriber that goes away shows up in the object when
 * a write to it fails, which the hub's heartbeat guarantees within about one interval.
 */
const worker: { fetch(request: Request, env: Env): Promise<Response> } = {
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

// Typed where it is declared: JSR's fast type check cannot infer an object literal's type in `export default`.
export default worker;

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
