import { errors, jwtVerify } from 'jose';
import { HubError } from './errors.ts';

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
}

/** Resolves the principal of publish and subscribe requests. */
export interface Authorizer {
  /** The publisher; throws a 401/403 {@link HubError} when it may not publish at all. */
  publisher(request: Request): Promise<Principal>;
  /** The subscriber, or null for an anonymous one; throws 401 when anonymous subscribers are refused. */
  subscriber(request: Request): Promise<Principal | null>;
}

export interface AuthOptions {
  /** HS256 secret that tokens must be signed with. */
  jwtKey?: string;
  allowAnonymousPublish: boolean;
  allowAnonymousSubscribe: boolean;
  /** Cookie that may carry the token (browsers cannot set headers on `EventSource`). */
  cookieName?: string;
}

/** Grants everything: development publishers (`--allow-anonymous-publish`). */
export const anyone: Principal = { canPublish: () => true, canSubscribe: () => true };

const challenge = 'Bearer realm="ssehub"';

/**
 * Foundation authorizer: HS256 tokens from one configured key, signature and `exp` checked; a valid
 * token may publish anywhere and read every private update.
 */
export function createAuthorizer(options: AuthOptions): Authorizer {
  const key = options.jwtKey ? new TextEncoder().encode(options.jwtKey) : undefined;
  const cookieName = options.cookieName ?? '__Secure-mercure_access_token';

  async function verify(token: string): Promise<Principal> {
    if (!key)
      throw new HubError('unauthorized', 'no key is configured to verify tokens', {
        'www-authenticate': challenge,
      });
    try {
      const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['exp'] });
      return {
        ...anyone,
        subject: typeof payload.sub === 'string' ? payload.sub : undefined,
        expiresAt: payload.exp! * 1000,
      };
    } catch (error) {
      if (error instanceof errors.JOSEError || error instanceof TypeError) {
        throw new HubError('unauthorized', 'invalid token', {
          'www-authenticate': `${challenge}, error="invalid_token"`,
        });
      }
      throw error;
    }
  }

  function tokenOf(request: Request): string | undefined {
    const header = request.headers.get('authorization');
    if (header !== null) {
      const match = /^Bearer +([^\s]+)\s*$/i.exec(header);
      if (!match) {
        throw new HubError('bad_request', 'malformed Authorization header', {
          'www-authenticate': `${challenge}, error="invalid_request"`,
        });
      }
      return match[1];
    }
    return cookie(request.headers.get('cookie'), cookieName);
  }

  return {
    async publisher(request) {
      const token = tokenOf(request);
      if (token === undefined) {
        if (options.allowAnonymousPublish) return anyone;
        throw new HubError('unauthorized', 'publishing requires a token', { 'www-authenticate': challenge });
      }
      return verify(token);
    },
    async subscriber(request) {
      const token = tokenOf(request);
      if (token === undefined) {
        if (options.allowAnonymousSubscribe) return null;
        throw new HubError('unauthorized', 'subscribing requires a token', { 'www-authenticate': challenge });
      }
      return verify(token);
    },
  };
}

/** The value of cookie `name` in a `Cookie` header. */
export function cookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
