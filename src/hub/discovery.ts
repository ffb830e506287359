/**
 * Discovery: the `Link: <hub>; rel="mercure"` header on the resources a publisher serves, and the hub's
 * OAuth protected resource metadata (RFC 9728) that `WWW-Authenticate` challenges point to.
 */
import type { MiddlewareHandler } from 'hono';
import { AUTHORIZATION_DETAIL_TYPE } from './grants.ts';

export interface DiscoveryOptions {
  /** The hub URL subscribers should use, e.g. `https://hub.example.com/.well-known/mercure`. */
  hub: string;
  /** Also advertise the topic of the resource (`rel="self"`), for clients that subscribe to it. */
  self?: (url: URL) => string | undefined;
}

/** The `Link` value that advertises a hub. */
export const mercureLink = (hub: string): string => `<${hub}>; rel="mercure"`;

/**
 * Hono middleware that adds `Link: <hub>; rel="mercure"` to every response of the routes it covers,
 * so Mercure clients discover the hub from the resource itself.
 *
 * @example
 * app.use('/books/*', mercureDiscovery({ hub: 'https://hub.example.com/.well-known/mercure' }));
 */
export function mercureDiscovery(options: DiscoveryOptions): MiddlewareHandler {
  const link = mercureLink(options.hub);
  return async (c, next) => {
    await next();
    c.res.headers.append('link', link);
    const self = options.self?.(new URL(c.req.url));
    if (self !== undefined) c.res.headers.append('link', `<${self}>; rel="self"`);
  };
}

/** What the metadata document advertises. */
export interface ResourceMetadata {
  resource: string;
  authorization_servers: string[];
  authorization_details_types_supported: string[];
  bearer_methods_supported: string[];
  mercure_cookie: string;
  mercure_matcher_types_supported: string[];
  mercure_subscriptions: boolean;
}

/** The protected resource metadata document of the hub (served at `/.well-known/oauth-protected-resource{hubPath}`). */
export function resourceMetadata(options: {
  resource: string;
  issuers: readonly string[];
  cookieName: string;
  subscriptions: boolean;
  legacy: boolean;
}): ResourceMetadata {
  return {
    resource: options.resource,
    // Only issuers that are URLs are authorization servers a client could discover.
    authorization_servers: options.issuers.filter((i) => URL.canParse(i)),
    authorization_details_types_supported: [AUTHORIZATION_DETAIL_TYPE],
    // RFC 6750 methods; the cookie is advertised by `mercure_cookie`. Legacy mode reads the query too.
    bearer_methods_supported: options.legacy ? ['header', 'query'] : ['header'],
    mercure_cookie: options.cookieName,
    mercure_matcher_types_supported: ['exact', 'urlpattern'],
    mercure_subscriptions: options.subscriptions,
  };
}
