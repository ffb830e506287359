/**
 * Revoked tokens: this instance's copy of the denylist (token ids and subjects, each until a time),
 * kept in step with the control plane (`brokers/control.ts`: memory, or Redis for every instance), and
 * checked on every request a token authenticates — after the verified-token cache, so a revocation
 * takes effect at once for tokens already seen.
 */
import type { Revocation } from '../brokers/index.ts';
import { type Authorizer, type Principal, unauthorized } from './auth.ts';
import { HubError } from './errors.ts';

/** Most entries in force at once: revocations are operator actions, but they must stay bounded. */
export const MAX_REVOCATIONS = 100_000;

/** The denylist as this instance knows it: `jti:…` / `sub:…` → until (ms since the epoch). */
export class Denylist {
  readonly #until = new Map<string, number>();

  get size(): number {
    return this.#until.size;
  }

  /** True when a revocation in force names the token's `jti` or its `sub`. */
  refuses(principal: Principal | null): boolean {
    if (principal === null || this.#until.size === 0) return false;
    return (
      (principal.tokenId !== undefined && this.#holds(`jti:${principal.tokenId}`)) ||
      (principal.subject !== undefined && this.#holds(`sub:${principal.subject}`))
    );
  }

  #holds(key: string): boolean {
    const until = this.#until.get(key);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.#until.delete(key);
    return false;
  }

  add(revocation: Revocation): void {
    if (revocation.until <= Date.now()) return;
    if (revocation.jti !== undefined) this.#until.set(`jti:${revocation.jti}`, revocation.until);
    if (revocation.sub !== undefined) this.#until.set(`sub:${revocation.sub}`, revocation.until);
  }

  delete(entry: { jti?: string; sub?: string }): void {
    if (entry.jti !== undefined) this.#until.delete(`jti:${entry.jti}`);
    if (entry.sub !== undefined) this.#until.delete(`sub:${entry.sub}`);
  }

  /** Replaces every entry (after a reload from the control plane). */
  replace(revocations: readonly Revocation[]): void {
    this.#until.clear();
    for (const r of revocations) this.add(r);
  }
}

/** Checks a revocation asked of the admin API. @throws {HubError} 400 */
export function checkRevocation(body: Record<string, unknown>, now = Date.now()): Revocation {
  const { jti, sub, until, ttl } = body;
  const named = [jti, sub].filter((v) => v !== undefined);
  if (named.length !== 1 || !named.every((v) => typeof v === 'string' && v !== '' && v.length <= 1024)) {
    throw badRevocation('name exactly one of "jti" or "sub" (a non-empty string)');
  }
  let at: number;
  if (until !== undefined) {
    if (typeof until !== 'number' || !Number.isFinite(until))
      throw badRevocation('"until" is seconds since the epoch');
    at = until * 1000;
  } else if (ttl !== undefined) {
    if (typeof ttl !== 'number' || !(ttl > 0)) throw badRevocation('"ttl" is a number of seconds above 0');
    at = now + ttl * 1000;
  } else at = now + DEFAULT_TTL_MS;
  if (at <= now) throw badRevocation('"until" is in the past');
  if (at > now + MAX_TTL_MS) throw badRevocation('a revocation lasts at most one year');
  return typeof jti === 'string' ? { jti, until: at } : { sub: sub as string, until: at };
}

/** How long a revocation lasts when the request says nothing: a day, longer than most tokens live. */
const DEFAULT_TTL_MS = 24 * 3_600_000;
const MAX_TTL_MS = 366 * 24 * 3_600_000;

const badRevocation = (message: string) => new HubError('bad_request', message);

/**
 * The authorizer, refusing revoked tokens as invalid (401 `invalid_token`, as for an expired one:
 * a client reacts to both by getting a new token).
 */
export function refusingRevoked(authorizer: Authorizer, denylist: Denylist): Authorizer {
  return {
    ready: authorizer.ready,
    async publisher(request, hubUrl) {
      const principal = await authorizer.publisher(request, hubUrl);
      if (denylist.refuses(principal)) throw unauthorized(hubUrl, 'invalid_token');
      return principal;
    },
    async subscriber(request, hubUrl) {
      const principal = await authorizer.subscriber(request, hubUrl);
      if (denylist.refuses(principal)) throw unauthorized(hubUrl, 'invalid_token');
      return principal;
    },
  };
}
