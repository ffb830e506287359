/** Reconnection timing: exponential backoff with jitter over the server's `retry:` delay. Web APIs only. */

/** How the subscriber waits between connection attempts. */
export interface ReconnectOptions {
  /** Delay before the first reconnect until the server sends `retry:` (which then replaces it). Default 1000 ms. */
  delay?: number;
  /** Ceiling of the backoff (a server `retry:` above it still wins). Default 30 000 ms. */
  maxDelay?: number;
  /** Growth per consecutive failed attempt. Default 2. */
  factor?: number;
  /**
   * Random extra delay, as a fraction of the computed delay (0.25 = up to +25 %). It spreads the
   * reconnects of many clients after a hub restart. Added on top, so the server's `retry:` is a floor.
   * Default 0.25.
   */
  jitter?: number;
}

export const reconnectDefaults: Required<ReconnectOptions> = {
  delay: 1000,
  maxDelay: 30_000,
  factor: 2,
  jitter: 0.25,
};

/** Failed attempts never retry faster than this, even when the server asked for `retry: 0`. */
const MIN_FAILURE_DELAY = 100;

/**
 * The delay before reconnect attempt number `failures` (0 = the first attempt after a connection that
 * was open): `base · factor^failures`, capped, plus jitter.
 *
 * @example
 * backoffDelay(500, 0, reconnectDefaults, () => 0) // 500: a dropped stream comes back after `retry:`
 * backoffDelay(500, 3, reconnectDefaults, () => 0) // 4000: the fourth attempt in a row
 */
export function backoffDelay(
  base: number,
  failures: number,
  options: Required<ReconnectOptions>,
  random: () => number = Math.random,
): number {
  const start = failures === 0 ? base : Math.max(base, MIN_FAILURE_DELAY);
  const cap = Math.max(options.maxDelay, base);
  const delay = Math.min(cap, start * options.factor ** failures);
  return Math.round(delay + delay * options.jitter * random());
}

/**
 * The `Retry-After` response header in milliseconds (delay-seconds or an HTTP date), or 0 when
 * absent or unreadable. Bounded to one hour: a typo must not park a client for days.
 */
export function retryAfter(header: string | null, now = Date.now()): number {
  if (!header) return 0;
  const value = header.trim();
  const ms = /^[0-9]+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now;
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, 3_600_000) : 0;
}

/** Waits `ms`, or less when `signal` aborts; resolves true when the full delay passed. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const done = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', done);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
