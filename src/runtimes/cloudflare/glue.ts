/**
 * What every Workers entry shares (the Worker, the hub object, the relay object): the bindings, the
 * settings read from them, the header conversion at workerd's edge, and the answer of a misconfigured
 * hub. Typed structurally, so this file does not import `cloudflare:workers`.
 */
import { type Config, ConfigError, parseConfig } from '../../config/index.ts';
import { fromHeaderValue, HubError, readBody, toHeaderValue } from '../../hub/index.ts';

/** A Durable Object namespace binding, as far as the hub uses one. */
export interface Namespace {
  idFromName(name: string): unknown;
  get(id: never): { fetch(request: Request): Promise<Response> };
}

/** The Worker's bindings: the hub object class, the relay class, the settings as vars and secrets. */
export interface Env {
  HUB: Namespace;
  /** Relay objects (`RelayObject`); needed only when the hub is sharded. */
  RELAY?: Namespace;
  [setting: string]: unknown;
}

export type Handler = (request: Request) => Response | Promise<Response>;

/** The stub of the object named `name` in `namespace`. */
export function stubOf(namespace: Namespace, name: string): { fetch(request: Request): Promise<Response> } {
  return namespace.get(namespace.idFromName(name) as never);
}

/** The string bindings: vars and secrets, which carry the settings (env var names of the table). */
export function settingsOf(env: Env): Record<string, string> {
  const strings: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (typeof value === 'string') strings[name] = value;
  return strings;
}

const configs = new WeakMap<Env, Config | string>();

/** The settings of `env`, parsed once per isolate: the config, or the message of what is wrong. */
export function configOf(env: Env): Config | string {
  let config = configs.get(env);
  if (config === undefined) {
    try {
      const parsed = parseConfig([], settingsOf(env));
      config = parsed.help ? 'unexpected help request' : parsed.config;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      config = error.message;
    }
    configs.set(env, config);
  }
  return config;
}

/** Every request gets the configuration error: visible at once, rather than a hub that half works. */
export function misconfigured(message: string): Handler {
  console.error(`ssehub: ${message}`);
  return () =>
    new Response(`ssehub is misconfigured: ${message}\n`, {
      status: 500,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
    });
}

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * workerd departs from the Fetch standard in header values: it hands a request's over as their UTF-8
 * decoding (U+FFFD for bytes that are not UTF-8) and writes a response's as the UTF-8 of the string,
 * where Node, Bun and Deno use byte strings both ways, one char per byte (observed with workerd
 * 2026-04-26 under wrangler 4.86). The hub speaks byte strings (`hub/header-values.ts`): this edge
 * converts both ways, so the same bytes reach the wire as on the other runtimes.
 */
export async function withByteStrings(request: Request, handle: Handler): Promise<Response> {
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

/** Most bytes of a refused body read and dropped before answering (see {@link readBodyAtEdge}). */
const DRAIN_BYTES = 16 * 1024 * 1024;

/**
 * The request's body, read whole and bounded by `maxBytes`, or the answer refusing it (413). workerd
 * drops the connection of a request answered before its body was read (the client, still sending,
 * sees a reset instead of the 413: observed with workerd 2026-04-26 through miniflare), so the rest
 * of a refused body is read and dropped first, up to 16 MiB.
 */
export async function readBodyAtEdge(request: Request, maxBytes: number): Promise<Uint8Array | Response> {
  try {
    return await readBody(request, maxBytes);
  } catch (error) {
    if (!(error instanceof HubError)) throw error;
    await drain(request);
    return error.toResponse();
  }
}

async function drain(request: Request): Promise<void> {
  if (request.bodyUsed || !request.body) return;
  const reader = request.body.getReader();
  let read = 0;
  try {
    while (read <= DRAIN_BYTES) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The client went away: nothing to answer.
  }
}
