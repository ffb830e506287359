/**
 * Minting access tokens, for development mode, the `ssehub token` command and applications that embed
 * the hub. Web Crypto only (jose), so it runs on every runtime.
 */
import { SignJWT } from 'jose';
import { AUTHORIZATION_DETAIL_TYPE } from './grants.ts';

/** A topic grant of the current draft: an exact topic (default), a URL pattern, or `*`. */
export interface TopicGrant {
  match: string;
  match_type?: 'exact' | 'urlpattern';
}

export interface MintOptions {
  /** HS256 secret (a string), or a private key imported for `alg`. */
  key: string | CryptoKey;
  /** Signing algorithm; default HS256. */
  alg?: string;
  /** Lifetime in seconds. 0 leaves `exp` out, which only legacy mode accepts. */
  ttl: number;
  /** `iss`: the issuer the hub trusts with this key. */
  issuer?: string;
  /** `aud`: the hub's resource identifier. */
  audience?: string;
  /** `sub`: who the token is for (per-client connection limits count by it). */
  subject?: string;
  /** `kid` header, when the hub's key set needs it to pick the key. */
  kid?: string;
  publish?: readonly TopicGrant[];
  subscribe?: readonly TopicGrant[];
  /**
   * Attached to the subscriptions of the token (shown in subscription events): a JSON object that goes
   * with `subscribe` grants (any JSON in a legacy token).
   */
  payload?: unknown;
  /**
   * Mint the pre-standardization shape instead: a `mercure` claim (`publish`/`subscribe` selectors,
   * `payload`) and `typ: JWT`, as Symfony's Mercure component and the Laravel broadcaster do.
   */
  legacy?: boolean;
  /** Extra claims, added last. */
  claims?: Record<string, unknown>;
}

/**
 * The `authorization_details` (current draft) of a token with these grants.
 * @throws {TypeError} for a payload the hub would refuse the token for: one that is not a JSON object,
 * or one without a subscribe grant to go with (an entry with no topics is malformed).
 */
export function authorizationDetails(options: Pick<MintOptions, 'publish' | 'subscribe' | 'payload'>) {
  const { payload } = options;
  if (payload !== undefined) {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      throw new TypeError('the payload must be a JSON object');
    }
    if (!options.subscribe?.length) throw new TypeError('a payload goes with subscribe grants');
  }
  const details: Record<string, unknown>[] = [];
  if (options.publish?.length) {
    details.push({ type: AUTHORIZATION_DETAIL_TYPE, actions: ['publish'], topics: options.publish });
  }
  if (options.subscribe?.length) {
    details.push({
      type: AUTHORIZATION_DETAIL_TYPE,
      actions: ['subscribe'],
      topics: options.subscribe,
      ...(payload !== undefined ? { payload } : {}),
    });
  }
  return details;
}

/**
 * Signs an access token.
 *
 * @example
 * const token = await mintToken({ key: secret, ttl: 3600, issuer: 'https://localhost',
 *   audience: 'https://localhost/.well-known/mercure', subscribe: [{ match: '/books/{id}', match_type: 'urlpattern' }] });
 */
export async function mintToken(options: MintOptions): Promise<string> {
  const claims: Record<string, unknown> = {};
  if (options.legacy) {
    const selectors = (grants?: readonly TopicGrant[]) => (grants ?? []).map((g) => g.match);
    claims.mercure = {
      publish: selectors(options.publish),
      subscribe: selectors(options.subscribe),
      ...(options.payload !== undefined ? { payload: options.payload } : {}),
    };
  } else {
    const details = authorizationDetails(options);
    if (details.length > 0) claims.authorization_details = details;
  }
  Object.assign(claims, options.claims);
  const alg = options.alg ?? 'HS256';
  const jwt = new SignJWT(claims)
    .setProtectedHeader({
      alg,
      typ: options.legacy ? 'JWT' : 'at+jwt',
      ...(options.kid !== undefined ? { kid: options.kid } : {}),
    })
    .setIssuedAt();
  if (options.ttl > 0) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + options.ttl);
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt.setAudience(options.audience);
  if (options.subject !== undefined) jwt.setSubject(options.subject);
  const key = typeof options.key === 'string' ? new TextEncoder().encode(options.key) : options.key;
  return jwt.sign(key);
}

/**
 * The two tokens development mode prints for a hub at `hubUrl` (e.g. `http://localhost:3000/.well-known/mercure`):
 * a publisher allowed everywhere and a subscriber that reads every private update, both of the current
 * draft's shape (`iss` = the hub origin unless given, `aud` = the hub URL unless given).
 */
export async function devTokens(options: {
  key: string;
  hubUrl: string;
  issuer?: string;
  audience?: string;
  ttl?: number;
}): Promise<{ publisher: string; subscriber: string }> {
  const common = {
    key: options.key,
    ttl: options.ttl ?? 3600,
    issuer: options.issuer ?? new URL(options.hubUrl).origin,
    audience: options.audience ?? options.hubUrl,
  };
  const [publisher, subscriber] = await Promise.all([
    mintToken({ ...common, publish: [{ match: '*' }], subject: 'dev-publisher' }),
    mintToken({ ...common, subscribe: [{ match: '*' }], subject: 'dev-subscriber' }),
  ]);
  return { publisher, subscriber };
}
