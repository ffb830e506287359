/**
 * CORS for browsers on other origins. Credentials (the access-token cookie, `Authorization`) are
 * allowed, so the allowed origin is echoed only when it is in the configured allowlist: never `*`,
 * never an arbitrary reflected origin.
 */
import type { MiddlewareHandler } from 'hono';
import { ConfigError } from '../config/index.ts';

const EXPOSED = 'Mercure-Last-Event-ID, Last-Event-ID, Link, WWW-Authenticate, Retry-After';
const ALLOWED_HEADERS = 'Authorization, Content-Type, Last-Event-ID, Cache-Control';

/**
 * Normalizes and checks the configured origins (`https://app.example.com`, no path).
 * @throws {ConfigError} for `*`, `null` or anything that is not an origin.
 */
export function parseOrigins(origins: readonly string[]): Set<string> {
  const set = new Set<string>();
  for (const origin of origins) {
    if (origin === '*' || origin === 'null') {
      throw new ConfigError(
        `CORS origin ${JSON.stringify(origin)} is not allowed with credentials: list origins`,
      );
    }
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new ConfigError(
        `CORS origin ${JSON.stringify(origin)} is not a URL origin (e.g. https://app.example.com)`,
      );
    }
    if (url.origin === 'null' || `${url.origin}/` !== url.href.replace(/\/?$/, '/')) {
      throw new ConfigError(
        `CORS origin ${JSON.stringify(origin)} must be scheme://host[:port], nothing more`,
      );
    }
    set.add(url.origin);
  }
  return set;
}

/**
 * The CORS headers of an answer to a request from `origin` (actual requests, not preflights): always
 * `Vary: Origin`, and the allowed origin with credentials when it is in the list. A fresh record.
 */
export function corsHeaders(allowed: ReadonlySet<string>, origin: string | null): Record<string, string> {
  if (origin === null || !allowed.has(origin)) return { vary: 'Origin' };
  return {
    vary: 'Origin',
    'access-control-allow-origin': origin,
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': EXPOSED,
  };
}

/** Hono middleware answering preflights and adding CORS headers for allowed origins. */
export function cors(allowed: ReadonlySet<string>): MiddlewareHandler {
  return async (c, next) => {
    const origin = c.req.header('origin');
    const ok = origin !== undefined && allowed.has(origin);
    if (c.req.method === 'OPTIONS' && c.req.header('access-control-request-method') !== undefined) {
      if (!ok)
        return c.text('origin not allowed\n', 403, { vary: 'Origin', 'x-content-type-options': 'nosniff' });
      return c.body(null, 204, {
        'access-control-allow-origin': origin,
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': ALLOWED_HEADERS,
        'access-control-max-age': '600',
        vary: 'Origin',
      });
    }
    await next();
    c.res.headers.append('vary', 'Origin');
    if (!ok) return;
    c.res.headers.set('access-control-allow-origin', origin);
    c.res.headers.set('access-control-allow-credentials', 'true');
    c.res.headers.set('access-control-expose-headers', EXPOSED);
  };
}
