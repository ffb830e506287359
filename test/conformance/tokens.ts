/** Tokens for the authorization tests, signed the way an independent issuer would (jose, not the hub). */
import { SignJWT } from 'jose';
import { FIXTURE_ISSUER, FIXTURE_KEY, FIXTURE_RESOURCE } from './target.ts';

export const DETAIL = 'https://mercure.rocks/authorization-detail';

type Topic = { match: string; match_type?: string };

/** One `authorization_details` entry of ours. */
export const detail = (actions: string[], topics: Topic[], extra: Record<string, unknown> = {}) => ({
  type: DETAIL,
  actions,
  topics,
  ...extra,
});

export interface SignOptions {
  key?: string | CryptoKey;
  alg?: string;
  /** `typ` header; null leaves it out. Default `at+jwt`. */
  typ?: string | null;
  /** Extra protected header fields (`kid`, `jwk`, `jku`…). */
  header?: Record<string, unknown>;
  /** Seconds from now; null leaves `exp` out. Default 3600. */
  exp?: number | null;
}

/** Signs `claims` as given (add `iss`/`aud` yourself, or use {@link draft}). */
export async function sign(claims: Record<string, unknown>, options: SignOptions = {}): Promise<string> {
  const alg = options.alg ?? 'HS256';
  const typ = options.typ === undefined ? 'at+jwt' : options.typ;
  const jwt = new SignJWT(claims).setProtectedHeader({
    alg,
    ...(typ === null ? {} : { typ }),
    ...options.header,
  });
  const exp = options.exp === undefined ? 3600 : options.exp;
  if (exp !== null) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + exp);
  const key = options.key ?? FIXTURE_KEY;
  return jwt.sign(typeof key === 'string' ? new TextEncoder().encode(key) : key);
}

/** A current-draft token of the fixture issuer: only `iss`, `aud`, `exp` and `authorization_details`. */
export const draft = (details: unknown[], options: SignOptions = {}, claims: Record<string, unknown> = {}) =>
  sign({ iss: FIXTURE_ISSUER, aud: FIXTURE_RESOURCE, authorization_details: details, ...claims }, options);

/** Publish rights on everything. */
export const publishAll = () => draft([detail(['publish'], [{ match: '*' }])]);

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An unsigned (`alg: none`) token. */
export const unsigned = (claims: Record<string, unknown>) =>
  `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims })}.`;

/** `Authorization` header for a token. */
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
