/**
 * Who is calling and what they may do: token presentation (RFC 6750: `Authorization: Bearer`, else a
 * cookie — never the URL, except the legacy `authorization` parameter in legacy mode), validation
 * against the trusted issuers, grants, and the `WWW-Authenticate` challenges of refusals.
 *
 * A cookie is the one credential a browser attaches by itself, to requests any site can make (a form
 * `POST` is a CORS "simple request": no preflight). So a cookie authenticates a state-changing request
 * only when its source origin is the hub's or an allowed CORS origin (see {@link checkSource}); the
 * check lives here, where the token's origin is known, so that no endpoint that authenticates through
 * the authorizer can skip it.
 */
import type { JWTPayload } from 'jose';
import { adminActions } from './admin-grants.ts';
import { HubError } from './errors.ts';
import {
  allows,
  type Grants,
  grantsFromAuthorizationDetails,
  grantsFromMercureClaim,
  MalformedGrants,
  mergeGrants,
} from './grants.ts';
import { type IssuerConfig, type KeyUse, type LoadedIssuer, loadIssuers } from './issuers.ts';
import { CompileBudget, type PatternCompiler } from './matchers.ts';
import { dropOldest } from './oldest.ts';
import { InvalidToken, type SignatureCheck, verifyToken } from './verify.ts';

/** Who is making a request, and what their token allows. */
export interface Principal {
  /** The token's `sub`, when it has one. */
  readonly subject?: string;
  /** When the token expires (ms since the epoch); a subscriber's stream is closed then. */
  readonly expiresAt?: number;
  /** True when the token grants `publish` on this topic. */
  canPublish(topic: string): boolean;
  /** True when the token grants `subscribe` on at least one of these topics (private updates). */
  canSubscribe(topics: readonly string[]): boolean;
  /** The `payload` the token attaches to its subscriptions (subscription events). */
  readonly payload?: unknown;
  /** The token's `jti`, when it has one (revocations name it). */
  readonly tokenId?: string;
  /** The admin API actions the token grants (`admin-grants.ts`), when it grants any. */
  readonly admin?: readonly string[];
}

/** Resolves the principal of hub requests. `hubUrl` is the hub's URL as this request sees it. */
export interface Authorizer {
  /** The publisher; throws 401 without a valid token (unless anonymous publishing is on). */
  publisher(request: Request, hubUrl: URL): Promise<Principal>;
  /** The subscriber, or null for an anonymous one; throws 401 when anonymous subscribers are refused. */
  subscriber(request: Request, hubUrl: URL): Promise<Principal | null>;
  /** Resolves once every configured key is imported; rejects with a `ConfigError` for a bad key. */
  readonly ready: Promise<void>;
}

export interface AuthOptions {
  /** HS256 secret of the shortcut issuer (`iss` = `issuer`, default the hub origin). */
  jwtKey?: string;
  issuer?: string;
  /** The hub's resource identifier (`aud`); default: the hub URL. */
  resource?: string;
  /** Further trusted issuers with their keys. */
  issuers?: readonly IssuerConfig[];
  cookieName: string;
  allowAnonymousPublish: boolean;
  allowAnonymousSubscribe: boolean;
  /** Also accept the pre-standardization dialect (see `verify.ts` and `grants.ts`). */
  legacy: boolean;
  /** Compiles `urlpattern` grants, relative to the hub URL. */
  compiler: PatternCompiler;
  maxMatcherLength: number;
  /**
   * Browser origins, besides the hub's own, that may send state-changing requests authenticated by the
   * cookie: the CORS allowlist (normalized by `parseOrigins`). Default: none.
   */
  origins?: ReadonlySet<string>;
  /** The runtime's synchronous signature checks (see `verify.ts`). */
  signatures?: SignatureCheck;
}

/**
 * The principal of a verified token. A class, not an object of closures: a subscriber keeps its
 * principal for as long as it is connected, and closures would keep their whole scope with it.
 */
class TokenPrincipal implements Principal {
  readonly subject: string | undefined;
  readonly tokenId: string | undefined;
  readonly admin: readonly string[] | undefined;
  readonly expiresAt: number | undefined;
  readonly payload: unknown;
  readonly #grants: Grants;

  constructor(claims: JWTPayload, grants: Grants, admin: readonly string[] | undefined) {
    this.subject = typeof claims.sub === 'string' ? claims.sub : undefined;
    this.tokenId = typeof claims.jti === 'string' ? claims.jti : undefined;
    this.admin = admin;
    this.expiresAt = typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
    this.payload = grants.payload;
    this.#grants = grants;
  }

  canPublish(topic: string): boolean {
    return allows(this.#grants.publish, topic);
  }

  canSubscribe(topics: readonly string[]): boolean {
    const selectors = this.#grants.subscribe;
    for (const topic of topics) if (allows(selectors, topic)) return true;
    return false;
  }
}

/** Grants everything: development publishers (`--allow-anonymous-publish`). */
export const anyone: Principal = { canPublish: () => true, canSubscribe: () => true };

/** The cookie of the pre-standardization dialect. */
export const LEGACY_COOKIE = 'mercureAuthorization';

/** Most verified tokens remembered (see `principalOf`; the oldest eighth goes at once): a few MB at most. */
const TOKEN_CACHE_SIZE = 4096;
/** Longest a verified token is remembered, in ms. */
const TOKEN_CACHE_MS = 5 * 60_000;

/** RFC 6750 §2.1: the `b64token` syntax of a bearer credential. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** Methods that change nothing (RFC 9110 §9.2.1): a cookie may authenticate them from anywhere. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The origin a browser says a request comes from: `Origin`, else the origin of `Referer`; undefined
 * when it names none (`Origin: null` is what sandboxed frames, `data:` pages and some redirects send).
 */
function sourceOrigin(request: Request): string | undefined {
  const origin = request.headers.get('origin');
  if (origin !== null) return origin === 'null' ? undefined : origin;
  const referer = request.headers.get('referer');
  if (referer === null) return undefined;
  try {
    const from = new URL(referer).origin;
    return from === 'null' ? undefined : from;
  } catch {
    return undefined;
  }
}

/**
 * Refuses a state-changing request authenticated by a cookie unless its source origin (see
 * {@link sourceOrigin}) is the hub's or an allowed one. The Mercure draft asks hubs to verify cookie
 * requests with `Origin`/`Referer` and to reject them when neither is available.
 * @throws {HubError} 403.
 */
function checkSource(request: Request, hubUrl: URL, allowed: ReadonlySet<string> | undefined): void {
  const origin = sourceOrigin(request);
  if (origin !== undefined && (origin === hubUrl.origin || allowed?.has(origin))) return;
  const from =
    origin === undefined ? 'names no origin (no Origin or Referer header)' : `comes from ${origin}`;
  throw new HubError(
    'forbidden',
    `a request authenticated by a cookie must come from the hub's origin or an allowed CORS origin (SSEHUB_CORS_ORIGINS); this one ${from}. Send the token in the Authorization header instead, or allow the origin`,
  );
}

/** Where the protected resource metadata of the hub at `hubUrl` is served (RFC 9728 §3.1). */
export const metadataUrl = (hubUrl: URL): string =>
  new URL(`/.well-known/oauth-protected-resource${hubUrl.pathname}`, hubUrl).href;

/** The `WWW-Authenticate` value of a refusal (RFC 6750 §3), pointing at the resource metadata. */
export function challenge(
  hubUrl: URL,
  error?: 'invalid_token' | 'insufficient_scope' | 'invalid_request',
): string {
  const base = `Bearer realm="ssehub", resource_metadata="${metadataUrl(hubUrl)}"`;
  return error ? `${base}, error="${error}"` : base;
}

/** 401 (no error code: no token was presented), or 401 `invalid_token` — never saying why. */
export const unauthorized = (hubUrl: URL, error?: 'invalid_token') =>
  new HubError('unauthorized', error ? 'invalid token' : 'a token is required', {
    'www-authenticate': challenge(hubUrl, error),
  });

/** 403 `insufficient_scope`: a valid token without the right. */
export const insufficientScope = (hubUrl: URL, message: string) =>
  new HubError('forbidden', message, { 'www-authenticate': challenge(hubUrl, 'insufficient_scope') });

/** Builds the hub's authorizer from its settings. */
export function createAuthorizer(options: AuthOptions): Authorizer {
  const configs: IssuerConfig[] = [...(options.issuers ?? [])];
  if (options.jwtKey) {
    configs.unshift({ issuer: options.issuer, keys: [{ secret: options.jwtKey }], legacy: true });
  }
  let issuers: LoadedIssuer[] = [];
  const ready = loadIssuers(configs).then((loaded) => {
    issuers = loaded;
  });
  // Awaited by every verification; callers that want a startup error await `ready` themselves.
  ready.catch(() => {});

  /**
   * Principals of tokens verified lately, by token (with the endpoint and the hub URL, which the
   * checks depend on): a token presented again — every reconnection of a subscriber, a publisher's
   * every request — is not verified again while it is valid. Exact string keys (no collisions); an
   * entry lasts until the token's `exp`, at most {@link TOKEN_CACHE_MS}, so that a key taken out of a
   * remote key set stops working within that time; least recently used entries go first.
   */
  const verified = new Map<string, { use: KeyUse; hub: string; principal: Principal; until: number }>();

  async function principalOf(token: string, use: KeyUse, hubUrl: URL): Promise<Principal> {
    const hit = verified.get(token);
    if (hit) {
      verified.delete(token);
      if (hit.use === use && hit.hub === hubUrl.href && Date.now() < hit.until) {
        verified.set(token, hit);
        return hit.principal;
      }
    }
    const principal = await verifyPrincipal(token, use, hubUrl);
    const until = Math.min(principal.expiresAt ?? Number.POSITIVE_INFINITY, Date.now() + TOKEN_CACHE_MS);
    verified.set(token, { use, hub: hubUrl.href, principal, until });
    dropOldest(verified, TOKEN_CACHE_SIZE);
    return principal;
  }

  async function verifyPrincipal(token: string, use: KeyUse, hubUrl: URL): Promise<Principal> {
    await ready;
    try {
      const { claims } = await verifyToken(token, issuers, {
        use,
        resource: options.resource ?? hubUrl.href,
        defaultIssuer: options.issuer ?? hubUrl.origin,
        legacy: options.legacy,
        signatures: options.signatures,
      });
      // A token's URL pattern grants share the budget of one request's patterns; past it the token
      // is refused (invalid_token), as it is for too many entries.
      const budget = new CompileBudget();
      const compile = (pattern: string) => {
        const compiled = options.compiler.compile(pattern, hubUrl.href, options.maxMatcherLength);
        budget.charge(compiled);
        return compiled;
      };
      let grants: Grants = grantsFromAuthorizationDetails(claims.authorization_details, compile);
      if (options.legacy) grants = mergeGrants(grants, grantsFromMercureClaim(claims.mercure));
      const admin = adminActions(claims.authorization_details);
      return new TokenPrincipal(claims, grants, admin);
    } catch (error) {
      if (error instanceof InvalidToken || error instanceof MalformedGrants) {
        throw unauthorized(hubUrl, 'invalid_token');
      }
      throw error;
    }
  }

  function tokenOf(request: Request, hubUrl: URL): string | undefined {
    const header = request.headers.get('authorization');
    if (header !== null) {
      const match = BEARER.exec(header);
      if (!match) {
        throw new HubError('bad_request', 'malformed Authorization header (expected "Bearer <token>")', {
          'www-authenticate': challenge(hubUrl, 'invalid_request'),
        });
      }
      return match[1];
    }
    const cookies = request.headers.get('cookie');
    const fromCookie =
      cookie(cookies, options.cookieName) ?? (options.legacy ? cookie(cookies, LEGACY_COOKIE) : undefined);
    if (fromCookie !== undefined) {
      if (!SAFE_METHODS.has(request.method)) checkSource(request, hubUrl, options.origins);
      return fromCookie;
    }
    if (options.legacy) {
      const fromQuery = new URL(request.url).searchParams.get('authorization');
      if (fromQuery) return fromQuery;
    }
    return undefined;
  }

  return {
    ready,
    async publisher(request, hubUrl) {
      const token = tokenOf(request, hubUrl);
      if (token === undefined) {
        if (options.allowAnonymousPublish) return anyone;
        throw unauthorized(hubUrl);
      }
      return principalOf(token, 'publish', hubUrl);
    },
    async subscriber(request, hubUrl) {
      const token = tokenOf(request, hubUrl);
      if (token === undefined) {
        if (options.allowAnonymousSubscribe) return null;
        throw unauthorized(hubUrl);
      }
      return principalOf(token, 'subscribe', hubUrl);
    },
  };
}

/** The value of cookie `name` in a `Cookie` header (first occurrence; surrounding quotes removed). */
export function cookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value === '' ? undefined : value;
  }
  return undefined;
}
