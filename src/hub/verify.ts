/**
 * Access-token validation, exactly as the protocol lists it: JWS compact, `typ` `at+jwt`, an allowed
 * algorithm of a key bound to the token's issuer, `iss` trusted, `aud` containing the hub's resource
 * identifier, `exp` required, `nbf` if present — and nothing else required. Legacy mode relaxes it for
 * tokens that do not declare themselves access tokens (see {@link VerifyOptions.legacy}).
 */
import { decodeJwt, decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
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
}

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
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: JWTPayload;
  try {
    header = decodeProtectedHeader(token);
    unverified = decodeJwt(token);
  } catch {
    throw new InvalidToken('not a JWS compact JWT');
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
