/**
 * Rate limits: token buckets on publishes and new subscriptions per client, and on room messages per
 * peer. A client is its token's subject (`sub`: one user, many addresses) or, without one, its
 * address; IPv6 addresses count by /64, the block one subscriber line usually gets, so that rotating
 * through it does not buy fresh buckets. Buckets live in a {@link RateLimitStore}: memory on one
 * instance, Redis across instances (one bucket per client for the whole hub).
 */
import type { Rate, RateLimitStore } from '../brokers/index.ts';
import { ConfigError } from '../config/index.ts';
import type { Principal } from './auth.ts';
import { HubError } from './errors.ts';
import type { Metrics } from './metrics.ts';

/** What a bucket limits. */
export type LimitKind = 'publish' | 'subscribe' | 'room';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Reads a rate `N/period`: `20/10s` is a bucket of 20 refilled over 10 seconds; the period's count
 * defaults to 1 (`5/s`), its unit is `ms`, `s`, `m` or `h`.
 * @throws {ConfigError} naming `setting` for anything else.
 */
export function parseRate(text: string, setting: string): Rate {
  const match = /^\s*(\d+)\s*\/\s*(\d*)\s*(ms|s|m|h)\s*$/.exec(text);
  const capacity = Number(match?.[1]);
  const periodMs = Number(match?.[2] || 1) * (UNITS[match?.[3] ?? ''] ?? Number.NaN);
  if (!match || !(capacity >= 1) || !(periodMs >= 1) || !Number.isSafeInteger(periodMs)) {
    throw new ConfigError(
      `${setting} must look like 20/10s (N per period, unit ms, s, m or h), got "${text}"`,
    );
  }
  return { capacity, periodMs };
}

/**
 * The key of a client without a token subject: its address, an IPv6 one cut to its /64 (an
 * IPv4-mapped one read as IPv4). Unknown addresses share one bucket.
 */
export function addressKey(address: string | undefined): string {
  if (!address) return 'a:unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return `a:${mapped[1]}`;
  if (!address.includes(':')) return `a:${address}`;
  return `a6:${ipv6Prefix(address)}`;
}

/** The first four groups (64 bits) of an IPv6 address, expanded; a zone (`%eth0`) is dropped. */
function ipv6Prefix(address: string): string {
  const bare = address.split('%')[0]!.toLowerCase();
  const [head = '', tail] = bare.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':');
}

/** The settings rate limits read. */
export interface RateLimitSettings {
  rateLimitPublish?: string;
  rateLimitSubscribe?: string;
  rateLimitRoomMessages?: string;
}

/** The hub's rate limits; built only when at least one is configured. */
export class RateLimits {
  readonly #store: RateLimitStore;
  readonly #metrics: Metrics;
  readonly #rates: Partial<Record<LimitKind, Rate>>;

  constructor(rates: Partial<Record<LimitKind, Rate>>, store: RateLimitStore, metrics: Metrics) {
    this.#rates = rates;
    this.#store = store;
    this.#metrics = metrics;
  }

  /** The limits configured in `settings`, or undefined when there are none. @throws {ConfigError} */
  static fromSettings(settings: RateLimitSettings, store: () => RateLimitStore, metrics: Metrics) {
    const rates: Partial<Record<LimitKind, Rate>> = {};
    if (settings.rateLimitPublish)
      rates.publish = parseRate(settings.rateLimitPublish, 'SSEHUB_RATE_LIMIT_PUBLISH');
    if (settings.rateLimitSubscribe)
      rates.subscribe = parseRate(settings.rateLimitSubscribe, 'SSEHUB_RATE_LIMIT_SUBSCRIBE');
    if (settings.rateLimitRoomMessages)
      rates.room = parseRate(settings.rateLimitRoomMessages, 'SSEHUB_RATE_LIMIT_ROOM_MESSAGES');
    return Object.keys(rates).length === 0 ? undefined : new RateLimits(rates, store(), metrics);
  }

  /** True when `kind` is limited. */
  limits(kind: LimitKind): boolean {
    return this.#rates[kind] !== undefined;
  }

  /**
   * Takes one request of `kind` from the bucket of `principal` (its subject), else of `address`.
   * Returns undefined when that kind is not limited, so callers wait for nothing.
   * @throws {HubError} 429 with `Retry-After` (the promise rejects) when the bucket is empty.
   */
  check(
    kind: LimitKind,
    principal: Principal | null,
    address: string | undefined,
  ): Promise<void> | undefined {
    if (!this.#rates[kind]) return undefined;
    const subject = principal?.subject;
    return this.take(kind, subject !== undefined ? `s:${subject}` : addressKey(address));
  }

  /** Takes one request of `kind` from bucket `key` (e.g. a room peer). @throws {HubError} 429 */
  async take(kind: LimitKind, key: string): Promise<void> {
    const rate = this.#rates[kind];
    if (!rate) return;
    const wait = await this.#store.take(`${kind}:${key}`, rate);
    if (wait <= 0) return;
    this.#metrics.rateLimited[kind]++;
    const seconds = Math.max(1, Math.ceil(wait / 1000));
    throw new HubError('too_many_requests', `rate limit reached (${kind}); retry in ${seconds} s`, {
      'retry-after': String(seconds),
    });
  }

  close(): Promise<void> {
    return this.#store.close();
  }
}
