/**
 * Access-token validation, exactly as the protocol lists it: JWS compact, `typ` `at+jwt`, an allowed
 * algorithm of a key bound to the token's issuer, `iss` trusted, `aud` containing the hub's resource
 * identifier, `exp` required, `nbf` if present — and nothing else required. Legacy mode relaxes it for
 * tokens that do not declare themselves access tokens (see {@link VerifyOptions.legacy}).
 */
import {
  type CompactJWSHeaderParameters,
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
   * The runtime's synchronous signature checks, when it has them (Node, Bun and Deno: `node:crypto`).
   * Tokens of plain shape are then verified without Web Crypto, whose asynchronous verification costs
   * more than everything else a new subscription does on Node; anything unusual still goes to jose.
   */
  signatures?: SignatureCheck;
}

/**
 * Checks a JWS signature synchronously: `alg` is a JWS algorithm the key fits (HS*: the secret's
 * bytes; RS*, PS*, ES*, EdDSA: a Web Crypto public key), `data` the signed ASCII text. True or false,
 * or undefined when the runtime cannot tell (jose then decides).
 */
export type SignatureCheck = (
  alg: string,
  key: CryptoKey | Uint8Array,
  data: string,
  signature: Uint8Array,
) => boolean | undefined;

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
  // A token of plain shape is decoded once, strictly, for both the checks here and the synchronous path.
  const plain = options.signatures ? plainToken(token) : undefined;
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
    if (plain) {
      let material: CryptoKey | Uint8Array | undefined = key.secret;
      if (!material && typeof key.key === 'function') {
        // A key set: its key for this header, as jose would pick it (and fail as jose would).
        try {
          const picked: unknown = await key.key(plain.header as CompactJWSHeaderParameters, plain.jws);
          if (picked instanceof Uint8Array || isCryptoKey(picked)) material = picked;
        } catch (error) {
          lastError = error;
          continue;
        }
      } else if (!material && isCryptoKey(key.key)) material = key.key;
      const verdict = material ? checkSigned(plain, alg, material, options.signatures!, checks) : UNSURE;
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
/** What jose asks of a Web Crypto key for each algorithm (its `subtle` parameters; RSA: 2048 bits). */
const KEY_FITS: Readonly<Record<string, { name: string; hash?: string; namedCurve?: string; rsa?: true }>> = {
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', rsa: true },
  RS384: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384', rsa: true },
  RS512: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512', rsa: true },
  PS256: { name: 'RSA-PSS', hash: 'SHA-256', rsa: true },
  PS384: { name: 'RSA-PSS', hash: 'SHA-384', rsa: true },
  PS512: { name: 'RSA-PSS', hash: 'SHA-512', rsa: true },
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  ES384: { name: 'ECDSA', namedCurve: 'P-384' },
  ES512: { name: 'ECDSA', namedCurve: 'P-521' },
  EdDSA: { name: 'Ed25519' },
};
const HMAC_ALGS = new Set(['HS256', 'HS384', 'HS512']);

const isCryptoKey = (key: unknown): key is CryptoKey =>
  typeof CryptoKey === 'function' && key instanceof CryptoKey;

/** True when `key` is one jose would verify `alg` with. */
function fits(key: CryptoKey | Uint8Array, alg: string): boolean {
  if (key instanceof Uint8Array) return HMAC_ALGS.has(alg);
  const expected = KEY_FITS[alg];
  if (!expected || !key.usages.includes('verify')) return false;
  const algorithm = key.algorithm as KeyAlgorithm & {
    hash?: { name: string };
    namedCurve?: string;
    modulusLength?: number;
  };
  if (algorithm.name !== expected.name) return false;
  if (expected.hash && algorithm.hash?.name !== expected.hash) return false;
  if (expected.namedCurve && algorithm.namedCurve !== expected.namedCurve) return false;
  return !expected.rsa || (typeof algorithm.modulusLength === 'number' && algorithm.modulusLength >= 2048);
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A compact JWS of plain shape, decoded. */
interface PlainToken {
  /** What the signature covers: the first two segments, as sent. */
  readonly signed: string;
  readonly signature: string;
  /** The token as jose hands it to a key set. */
  readonly jws: { protected: string; payload: string; signature: string };
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
  const header = headerOf(parts[0]!);
  const claims = header && jsonObject(parts[1]!);
  if (!claims) return undefined;
  const [protectedHeader, payload, signature] = parts as [string, string, string];
  return {
    signed: `${protectedHeader}.${payload}`,
    signature,
    jws: { protected: protectedHeader, payload, signature },
    header,
    claims,
  };
}

/**
 * Decoded protected headers by segment: an issuer's tokens nearly all carry the same one (`alg`,
 * `typ`, maybe `kid`), so each new token decodes only its claims. Bounded: emptied when full, and only
 * short headers of plain values are kept, frozen (the same object is handed to every such token).
 */
const headers = new Map<string, Readonly<Record<string, unknown>>>();
const HEADERS_KEPT = 64;
const HEADER_KEPT_LENGTH = 512;

function headerOf(segment: string): Record<string, unknown> | undefined {
  const known = headers.get(segment);
  if (known) return known;
  const header = jsonObject(segment);
  if (header && segment.length <= HEADER_KEPT_LENGTH && Object.values(header).every(isPlainValue)) {
    if (headers.size >= HEADERS_KEPT) headers.clear();
    headers.set(segment, Object.freeze(header));
  }
  return header;
}

const isPlainValue = (value: unknown): boolean => value === null || typeof value !== 'object';

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
 * Checks a token's signature with the runtime's synchronous check: MISMATCH when it is wrong (as jose
 * would find), its claims when it holds under the same checks jose makes, UNSURE for anything else —
 * a `crit` or `b64` header, a key jose would not use for `alg`, claims that fail, a check the runtime
 * cannot make — which jose then decides (and words). It never accepts what jose would refuse.
 */
function checkSigned(
  token: PlainToken,
  alg: string,
  key: CryptoKey | Uint8Array,
  signatures: SignatureCheck,
  checks: { audience: string | undefined; requiredClaims: string[]; clockTolerance: number },
): JWTPayload | typeof MISMATCH | typeof UNSURE {
  const { header, claims } = token;
  if (header.alg !== alg || header.crit !== undefined || header.b64 !== undefined) return UNSURE;
  if (!fits(key, alg)) return UNSURE;
  const binary = base64url(token.signature);
  const signature = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) signature[i] = binary.charCodeAt(i);
  const valid = signatures(alg, key, token.signed, signature);
  if (valid === undefined) return UNSURE;
  if (!valid) return MISMATCH;
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
