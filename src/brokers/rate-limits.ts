/**
 * Where rate-limit buckets live: a backend contract, like the broker, with an in-memory driver here
 * (one instance, or the Durable Object) and a Redis one in `./redis/limits.ts` (every instance shares
 * each bucket, so N instances do not allow N times the rate).
 *
 * A bucket holds up to `capacity` tokens and refills at `capacity` per `periodMs`; a request takes one.
 * A bucket that has refilled completely is the same as no bucket at all, which is what lets both
 * drivers forget buckets: Redis keys expire once full, and the memory driver evicts full ones first.
 */

/** A token bucket's shape: bursts of `capacity`, refilled at `capacity` per `periodMs`. */
export interface Rate {
  readonly capacity: number;
  readonly periodMs: number;
}

/** Token buckets by key. */
export interface RateLimitStore {
  /**
   * Takes one token from bucket `key` of shape `rate`. Returns (or resolves with) 0 when one was
   * taken, else how many ms until one is there (nothing is taken then).
   */
  take(key: string, rate: Rate): number | Promise<number>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

export interface MemoryRateLimitOptions {
  /** Most buckets kept; default 100,000 (about 15 MB at most). */
  maxKeys?: number;
  /** The clock, in ms (tests). */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
  readonly rate: Rate;
}

/** Keys longer than this are stored as a hash: a subject may be as long as a token allows. */
const MAX_KEY = 128;

/**
 * Buckets in a Map kept in least-recently-used order. When it is full, a new key may take the place of
 * the least recently used bucket only if that one has refilled (forgetting it changes nothing);
 * otherwise the new key shares one overflow bucket with every other newcomer. A flood of distinct
 * keys (address rotation, minted subjects) therefore gets one bucket's rate between them, and can never
 * push out the bucket of a client that is being limited.
 */
export function createMemoryRateLimits(options: MemoryRateLimitOptions = {}): RateLimitStore {
  const maxKeys = Math.max(1, options.maxKeys ?? 100_000);
  const now = options.now ?? Date.now;
  const buckets = new Map<string, Bucket>();
  const overflow = new Map<Rate, Bucket>();

  const refill = (bucket: Bucket, t: number) => {
    const { capacity, periodMs } = bucket.rate;
    bucket.tokens = Math.min(capacity, bucket.tokens + ((t - bucket.at) * capacity) / periodMs);
    bucket.at = t;
  };

  const bucketOf = (key: string, rate: Rate, t: number): Bucket => {
    const known = buckets.get(key);
    if (known && known.rate === rate) {
      buckets.delete(key);
      buckets.set(key, known);
      return known;
    }
    if (known) buckets.delete(key);
    if (buckets.size >= maxKeys) {
      const [oldestKey, oldest] = buckets.entries().next().value!;
      refill(oldest, t);
      if (oldest.tokens < oldest.rate.capacity) {
        let shared = overflow.get(rate);
        if (!shared) {
          shared = { tokens: rate.capacity, at: t, rate };
          overflow.set(rate, shared);
        }
        return shared;
      }
      buckets.delete(oldestKey);
    }
    const bucket = { tokens: rate.capacity, at: t, rate };
    buckets.set(key, bucket);
    return bucket;
  };

  return {
    take(key, rate) {
      const t = now();
      const bucket = bucketOf(key.length > MAX_KEY ? hashKey(key) : key, rate, t);
      refill(bucket, t);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil(((1 - bucket.tokens) * rate.periodMs) / rate.capacity));
    },
    async close() {
      buckets.clear();
      overflow.clear();
    },
  };
}

/**
 * A short stand-in for a long key: its length and two independent 32-bit FNV-1a hashes. Collisions
 * would only make two very long subjects share a bucket.
 */
export function hashKey(key: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ key.length;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return `#${key.length}:${(a >>> 0).toString(36)}:${(b >>> 0).toString(36)}`;
}
