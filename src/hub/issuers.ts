/**
 * Trusted issuers and their keys, from configuration only: a token never chooses its key (its `jwk`,
 * `jku`, `x5u` and `x5c` headers are ignored), and each key verifies tokens of its own issuer only.
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  importJWK,
  importSPKI,
  importX509,
  type JSONWebKeySet,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';
import { ConfigError } from '../config/index.ts';

/** Which endpoint a key may authorize: publishing, subscribing, or (absent) both. */
export type KeyUse = 'publish' | 'subscribe';

/** One key of an issuer, as written in the issuers JSON. Exactly one of the key fields is set. */
export interface KeyConfig {
  /** Shared secret for HS256 (HS384/HS512 with `alg`). */
  secret?: string;
  /** PEM public key (SPKI) or X.509 certificate; needs `alg`. */
  pem?: string;
  /** One public JWK (or an `oct` JWK for HMAC). */
  jwk?: JWK;
  /** A JWK Set inline. */
  jwks?: JSONWebKeySet;
  /** A JWK Set fetched (and cached) from this URL. */
  jwks_uri?: string;
  /** The algorithm of this key: required with `pem`, defaults to HS256 for `secret`, `jwk.alg` for `jwk`. */
  alg?: string;
  /** Restricts the key to publishers or to subscribers. */
  use?: KeyUse;
}

/** One trusted issuer. */
export interface IssuerConfig {
  /** The exact `iss` value; undefined only for the `--jwt-key` shortcut (the hub origin, per request). */
  issuer?: string;
  keys: KeyConfig[];
  /** Algorithm allowlist; default: the algorithms of its keys. */
  algorithms?: string[];
  /** In legacy mode, tokens without `iss` are checked with this issuer's keys. */
  legacy?: boolean;
}

const HMAC = ['HS256', 'HS384', 'HS512'];
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** Every algorithm a configuration may allow. `none` is not one of them, ever. */
export const SUPPORTED_ALGORITHMS: readonly string[] = [...HMAC, ...ASYMMETRIC];

/** A key ready to verify: the jose key (or key-set resolver) and the algorithms it may be used with. */
export interface LoadedKey {
  readonly key: CryptoKey | Uint8Array | JWTVerifyGetKey;
  readonly algorithms: readonly string[];
  readonly use?: KeyUse;
  /**
   * An HMAC key's bytes, for runtimes that verify HMAC signatures synchronously (`verify.ts`): Web
   * Crypto's asynchronous verification is most of what a new subscription costs on Node.
   */
  readonly secret?: Uint8Array;
}

/** A trusted issuer with its keys imported. */
export interface LoadedIssuer {
  readonly issuer?: string;
  readonly keys: readonly LoadedKey[];
  readonly legacy: boolean;
}

const fields = ['secret', 'pem', 'jwk', 'jwks', 'jwks_uri'] as const;

/**
 * Parses and checks the issuers JSON (an array of {@link IssuerConfig}).
 * @throws {ConfigError} naming the first problem.
 */
export function parseIssuers(text: string, source = 'issuers'): IssuerConfig[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError(`${source}: not valid JSON`);
  }
  if (!Array.isArray(value)) throw new ConfigError(`${source}: expected a JSON array of issuers`);
  return value.map((raw, i) => checkIssuer(raw, `${source}[${i}]`));
}

function checkIssuer(raw: unknown, where: string): IssuerConfig {
  if (typeof raw !== 'object' || raw === null) throw new ConfigError(`${where}: expected an object`);
  const issuer = raw as Partial<IssuerConfig>;
  if (typeof issuer.issuer !== 'string' || issuer.issuer === '') {
    throw new ConfigError(`${where}.issuer: required, the exact "iss" of its tokens`);
  }
  if (!Array.isArray(issuer.keys) || issuer.keys.length === 0) {
    throw new ConfigError(`${where}.keys: at least one key is required`);
  }
  if (issuer.algorithms !== undefined) {
    if (!Array.isArray(issuer.algorithms)) throw new ConfigError(`${where}.algorithms: expected an array`);
    for (const alg of issuer.algorithms) checkAlgorithm(alg, `${where}.algorithms`);
  }
  issuer.keys.forEach((key, k) => {
    const at = `${where}.keys[${k}]`;
    if (typeof key !== 'object' || key === null) throw new ConfigError(`${at}: expected an object`);
    const present = fields.filter((f) => key[f] !== undefined);
    if (present.length !== 1) throw new ConfigError(`${at}: set exactly one of ${fields.join(', ')}`);
    if (key.alg !== undefined) checkAlgorithm(key.alg, `${at}.alg`);
    if (key.pem !== undefined && key.alg === undefined) throw new ConfigError(`${at}: a pem key needs "alg"`);
    if (key.secret !== undefined && (typeof key.secret !== 'string' || key.secret === '')) {
      throw new ConfigError(`${at}.secret: expected a non-empty string`);
    }
    if (key.secret !== undefined && key.alg !== undefined && !HMAC.includes(key.alg)) {
      throw new ConfigError(`${at}: a secret is for ${HMAC.join('/')}`);
    }
    if (key.use !== undefined && key.use !== 'publish' && key.use !== 'subscribe') {
      throw new ConfigError(`${at}.use: "publish" or "subscribe"`);
    }
  });
  return { ...issuer, issuer: issuer.issuer, keys: issuer.keys };
}

function checkAlgorithm(alg: unknown, where: string): void {
  if (typeof alg !== 'string' || !SUPPORTED_ALGORITHMS.includes(alg)) {
    throw new ConfigError(
      `${where}: unsupported algorithm ${JSON.stringify(alg)} (one of ${SUPPORTED_ALGORITHMS.join(', ')})`,
    );
  }
}

/**
 * Imports every key (PEM and JWK parsing is async in Web Crypto).
 * @throws {ConfigError} for a key that does not import.
 */
export async function loadIssuers(issuers: readonly IssuerConfig[]): Promise<LoadedIssuer[]> {
  const loaded: LoadedIssuer[] = [];
  for (const issuer of issuers) {
    const keys: LoadedKey[] = [];
    for (const [k, config] of issuer.keys.entries()) {
      const where = `issuer ${issuer.issuer ?? '(--jwt-key)'} key ${k}`;
      let key: LoadedKey;
      try {
        key = await loadKey(config);
      } catch (error) {
        if (error instanceof ConfigError) throw error;
        throw new ConfigError(`${where}: ${error instanceof Error ? error.message : 'does not import'}`);
      }
      const algorithms = issuer.algorithms
        ? key.algorithms.filter((a) => issuer.algorithms!.includes(a))
        : key.algorithms;
      if (algorithms.length === 0) throw new ConfigError(`${where}: none of its algorithms is allowed`);
      keys.push({ ...key, algorithms });
    }
    loaded.push({ issuer: issuer.issuer, keys, legacy: issuer.legacy === true });
  }
  return loaded;
}

async function loadKey(config: KeyConfig): Promise<LoadedKey> {
  const use = config.use;
  if (config.secret !== undefined) {
    // Imported once: given raw bytes, the JWT library would import them again at every verification.
    const alg = config.alg ?? 'HS256';
    const key = await crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(config.secret),
      { name: 'HMAC', hash: `SHA-${alg.slice(2)}` },
      false,
      ['verify'],
    );
    return { key, algorithms: [alg], use, secret: new TextEncoder().encode(config.secret) };
  }
  if (config.pem !== undefined) {
    const alg = config.alg!;
    const pem = config.pem.trim();
    const key = pem.includes('BEGIN CERTIFICATE') ? await importX509(pem, alg) : await importSPKI(pem, alg);
    return { key, algorithms: [alg], use };
  }
  if (config.jwk !== undefined) {
    const alg = config.alg ?? config.jwk.alg;
    if (!alg) throw new ConfigError('a jwk needs "alg" (in the JWK or beside it)');
    checkAlgorithm(alg, 'jwk alg');
    if (config.jwk.d !== undefined) throw new ConfigError('a jwk must be a public key (it has "d")');
    const key = await importJWK(config.jwk, alg);
    // An `oct` JWK comes back as its bytes.
    const secret = key instanceof Uint8Array && HMAC.includes(alg) ? key : undefined;
    return { key, algorithms: [alg], use, ...(secret ? { secret } : {}) };
  }
  const algorithms = config.alg ? [config.alg] : ASYMMETRIC;
  if (config.jwks !== undefined) {
    if (!Array.isArray(config.jwks.keys)) throw new ConfigError('jwks: expected {"keys": [...]}');
    return { key: createLocalJWKSet(config.jwks), algorithms, use };
  }
  let url: URL;
  try {
    url = new URL(config.jwks_uri!);
  } catch {
    throw new ConfigError(`jwks_uri: not a URL: ${config.jwks_uri}`);
  }
  return { key: createRemoteJWKSet(url), algorithms, use };
}
