/**
 * Access-token validation, exactly as the protocol lists it: JWS compact, `typ` `at+jwt`, an allowed
 * algorithm of a key bound to the token's issuer, `iss` trusted, `aud` containing the hub's resource
 * identifier, `exp` required, `nbf` if present — and nothing else required. Legacy mode relaxes it for
 * tokens that do not declare themselves access tokens (see {@link VerifyOptions.legacy}).
 */
import {
  decodeJwt,
  decodeProtectedHeader,
  type JWTPayload,
  jwtVerify,
  type ProtectedHeaderParameters,
} from 'jose';
import type { KeyUse, LoadedIssuer, LoadedKey } from './issuers.ts';

/** Why a token was refused; never shown to the client (RFC 6750 says only `invalid_token`). */
export class InvalidToken extends Error {
  override readonly name = 'InvalidToken';
}

/** A token whose signature and claims check out. */
export interface VerifiedToken {
  readonly claims: JWTPayload;
  /** True when it was accepted under the legacy rules (no `typ` check, `exp` optional). */
  readonly legacy: boolean;
}

export interface VerifyOptions {
  /** The endpoint: keys restricted to the other use are not tried. */
  use: KeyUse;
  /** The hub's resource identifier, which `aud` must contain. */
  resource: string;
  /** The `iss` of issuers configured without one (the `--jwt-key` shortcut): the hub origin. */
  defaultIssuer: string;
  /**
   * Legacy mode: a token whose `typ` is not `at+jwt` is a pre-standardization token — any signed JWT,
   * `exp` and `nbf` enforced when present, `iss` optional (legacy issuers' keys then), `aud` checked
   * when present.
   */
  legacy: boolean;
  /**
   * The runtime's synchronous HMAC, when it has one (Node, Bun and Deno: `node:crypto`). HMAC-signed
   * tokens of plain shape are then checked without Web Crypto, whose asynchronous verification costs
   * more than everything else a new subscription does on Node; anything unusual still goes to jose.
   */
  hmac?: Hmac;
}

/** The MAC of `data` (ASCII) under `secret`, computed synchronously. */
export type Hmac = (hash: 'sha256' | 'sha384' | 'sha512', secret: Uint8Array, data: string) => Uint8Array;

/** Longest token considered; anything longer is refused before any parsing. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
/** Allowed clock skew between the token issuer and the hub, in seconds. */
const CLOCK_TOLERANCE = 5;
const ACCESS_TOKEN_TYP = /^(application\/)?at\+jwt$/i;

/**
 * Verifies `token` against the configured issuers.
 * @throws {InvalidToken} for any problem, with the reason for logs only.
 */
export async function verifyToken(
  token: string,
  issuers: readonly LoadedIssuer[],
  options: VerifyOptions,
): Promise<VerifiedToken> {
  if (token.length > MAX_TOKEN_LENGTH) throw new InvalidToken('token too long');
  // A token of plain shape is decoded once, strictly, for both the checks here and the HMAC path.
  const plain = options.hmac ? plainToken(token) : undefined;
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: JWTPayload;
  if (plain) {
    header = plain.header;
    unverified = plain.claims;
  } else {
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      throw new InvalidToken('not a JWS compact JWT');
    }
  }
  const alg = header.alg;
  if (typeof alg !== 'string' || alg.toLowerCase() === 'none') throw new InvalidToken('unsigned token');
  const accessToken = typeof header.typ === 'string' && ACCESS_TOKEN_TYP.test(header.typ);
  const legacy = options.legacy && !accessToken;
  if (!accessToken && !legacy) throw new InvalidToken('typ is not at+jwt');

  const iss = unverified.iss;
  let candidates: readonly LoadedIssuer[];
  if (typeof iss === 'string') {
    candidates = issuers.filter((i) => (i.issuer ?? options.defaultIssuer) === iss);
  } else if (legacy && iss === undefined) {
    candidates = issuers.filter((i) => i.legacy);
  } else throw new InvalidToken('no iss');
  const keys: LoadedKey[] = [];
  for (const issuer of candidates) {
    for (const key of issuer.keys) {
      if ((key.use === undefined || key.use === options.use) && key.algorithms.includes(alg)) keys.push(key);
    }
  }
  if (keys.length === 0) throw new InvalidToken('no trusted key for this issuer and algorithm');

  const checks = {
    algorithms: [alg],
    clockTolerance: CLOCK_TOLERANCE,
    // Only checked when present in legacy mode; always required otherwise.
    audience: !legacy || unverified.aud !== undefined ? options.resource : undefined,
    requiredClaims: legacy ? [] : ['exp'],
  };
  let lastError: unknown;
  for (const key of keys) {
    if (plain && key.secret) {
      const verdict = checkHmac(plain, alg, key.secret, options.hmac!, checks);
      if (verdict === MISMATCH) {
        lastError = new Error('signature verification failed');
        continue;
      }
      if (verdict !== UNSURE) return { claims: verdict, legacy };
    }
    try {
      // The key is ours: jose never looks at `jwk`/`jku`/`x5u` headers when given a key or a key set
      // (a key set picks among its own keys by `kid` and `alg`). Two calls: one per jose overload.
      const { payload } =
        typeof key.key === 'function'
          ? await jwtVerify(token, key.key, checks)
          : await jwtVerify(token, key.key, checks);
      return { claims: payload, legacy };
    } catch (error) {
      lastError = error;
    }
  }
  throw new InvalidToken(lastError instanceof Error ? lastError.message : 'signature mismatch');
}

const MISMATCH = Symbol('mismatch');
const UNSURE = Symbol('unsure');
const HASHES: Readonly<Record<string, 'sha256' | 'sha384' | 'sha512'>> = {
  HS256: 'sha256',
  HS384: 'sha384',
  HS512: 'sha512',
};
const SEGMENT = /^[A-Za-z0-9_-]+$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A compact JWS of plain shape, decoded. */
interface PlainToken {
  /** What the signature covers: the first two segments, as sent. */
  readonly signed: string;
  readonly signature: string;
  readonly header: ProtectedHeaderParameters;
  readonly claims: JWTPayload;
}

/**
 * A compact JWS whose three segments are plain base64url (no padding, space or stray character) and
 * whose header and claims are JSON objects in strict UTF-8; undefined for anything else.
 */
function plainToken(token: string): PlainToken | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  for (const part of parts) if (!SEGMENT.test(part) || part.length % 4 === 1) return undefined;
  const header = jsonObject(parts[0]!);
  const claims = header && jsonObject(parts[1]!);
  if (!claims) return undefined;
  return { signed: `${parts[0]}.${parts[1]}`, signature: parts[2]!, header, claims };
}

function base64url(segment: string): string {
  return atob(segment.replace(/-/g, '+').replace(/_/g, '/'));
}

/** The JSON object a segment encodes (UTF-8, strictly), or undefined. */
function jsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const binary = base64url(segment);
    let text = binary;
    if (NOT_ASCII.test(binary)) {
      const bytes = new Uint8Array(binary.length);
      for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
      text = strictUtf8.decode(bytes);
    }
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
const NOT_ASCII = /[^\x00-\x7f]/;

/**
 * Checks an HMAC-signed token with the runtime's synchronous HMAC: MISMATCH when the signature is
 * wrong (as jose would find), its claims when it holds under the same checks jose makes, UNSURE for
 * anything else — a `crit` or `b64` header, claims that fail — which jose then decides (and words).
 * It never accepts what jose would refuse.
 */
function checkHmac(
  token: PlainToken,
  alg: string,
  secret: Uint8Array,
  hmac: Hmac,
  checks: { audience: string | undefined; requiredClaims: string[]; clockTolerance: number },
): JWTPayload | typeof MISMATCH | typeof UNSURE {
  const hash = HASHES[alg];
  const { header, claims } = token;
  if (!hash || header.alg !== alg || header.crit !== undefined || header.b64 !== undefined) return UNSURE;
  const expected = hmac(hash, secret, token.signed);
  const given = base64url(token.signature);
  let diff = given.length ^ expected.length;
  for (let i = 0; i < expected.length; i++) diff |= expected[i]! ^ (given.charCodeAt(i) || 0);
  if (diff !== 0) return MISMATCH;
  for (const claim of checks.requiredClaims) if (!Object.hasOwn(claims, claim)) return UNSURE;
  if (checks.audience !== undefined) {
    const aud = claims.aud;
    const ok =
      typeof aud === 'string' ? aud === checks.audience : Array.isArray(aud) && aud.includes(checks.audience);
    if (!ok) return UNSURE;
  }
  const now = Math.floor(Date.now() / 1000);
  const { iat, nbf, exp } = claims;
  if (iat !== undefined && typeof iat !== 'number') return UNSURE;
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + checks.clockTolerance)) return UNSURE;
  if (exp !== undefined && (typeof exp !== 'number' || exp <= now - checks.clockTolerance)) return UNSURE;
  return claims;
}
