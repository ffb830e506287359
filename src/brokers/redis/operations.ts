/**
 * The operators' backends on Redis, shared by every instance: rate-limit buckets, the control plane
 * (denylist and admin messages) and the webhook ledger. One command connection for the three, plus one
 * for pub/sub (a subscribed connection can issue nothing else). Each write is one atomic Lua script
 * on the Redis clock (`operations-scripts.ts`), so instances with skewed clocks agree.
 *
 * While Redis is away, rate limits fall back to a bucket per instance (limits stay on, a little
 * looser), revocations and admin messages fail (the admin API answers 503), and webhook claims fail
 * (those events are not sent: the presence events they come from cannot be published either).
 */
import { Redis } from 'ioredis';
import {
  type ControlMessage,
  type ControlPlane,
  createMemoryRateLimits,
  hashKey,
  type RateLimitStore,
  type Revocation,
  revocationKey,
  type WebhookLedger,
} from '../index.ts';
import { ready } from './broker.ts';
import { CLAIM_EVENT_LUA, TAKE_LUA } from './operations-scripts.ts';

export interface RedisOperationsOptions {
  /** The broker's Redis (`redis://…`). */
  url: string;
  /** Key prefix, the broker's (`SSEHUB_REDIS_KEY`). Default `ssehub`. */
  key?: string;
  /** A command without a reply after this many ms fails. Default 2000. */
  commandTimeoutMs?: number;
  /** How long {@link createRedisOperations} waits for Redis at startup. Default 30 s. */
  startupTimeoutMs?: number;
  log?: (message: string) => void;
}

export interface RedisOperations {
  readonly rateLimits: RateLimitStore;
  readonly control: ControlPlane;
  readonly ledger: WebhookLedger;
  close(): Promise<void>;
}

interface Scripted {
  ssehubTake(key: string, capacity: string, periodMs: string): Promise<number>;
  ssehubClaimEvent(
    claim: string,
    counts: string,
    ttl: string,
    delta: string,
    ...counters: string[]
  ): Promise<number[] | null>;
}

/** How long an event claim is remembered: every instance reads the event well within it. */
const CLAIM_TTL_MS = 10 * 60_000;

/**
 * Connects both connections and resolves once they are ready.
 * @throws when Redis cannot be reached within `startupTimeoutMs`.
 */
export async function createRedisOperations(options: RedisOperationsOptions): Promise<RedisOperations> {
  const prefix = `{${options.key ?? 'ssehub'}}`;
  const keys = {
    bucket: (key: string) => `${prefix}:rate:${key.length > 200 ? hashKey(key) : key}`,
    revoked: `${prefix}:revoked`,
    channel: `${prefix}:control`,
    claim: (id: string) => `${prefix}:webhook:${id.length > 200 ? hashKey(id) : id}`,
    occupancy: `${prefix}:occupancy`,
  };
  const log = options.log ?? ((message: string) => console.error(`ssehub: ${message}`));
  const commandTimeout = options.commandTimeoutMs ?? 2000;
  const common = {
    lazyConnect: true,
    protocol: 2 as const,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: Math.max(1000, commandTimeout),
    retryStrategy: (times: number) =>
      Math.min(50 * 2 ** Math.min(times, 6), 2000) + Math.floor(Math.random() * 100),
  };
  const client = new Redis(options.url, {
    ...common,
    commandTimeout,
    enableAutoPipelining: true,
    connectionName: `${options.key ?? 'ssehub'}:operations`,
  });
  // Subscribed connections re-subscribe by themselves after a reconnection (ioredis autoResubscribe).
  const subscriber = new Redis(options.url, {
    ...common,
    connectionName: `${options.key ?? 'ssehub'}:control`,
  });
  client.defineCommand('ssehubTake', { numberOfKeys: 1, lua: TAKE_LUA });
  client.defineCommand('ssehubClaimEvent', { numberOfKeys: 2, lua: CLAIM_EVENT_LUA });
  const scripted = client as unknown as Scripted;
  let lastError = '';
  for (const c of [client, subscriber]) {
    c.on('error', (error: Error) => {
      if (error.message !== lastError) log(`redis operations: ${error.message}`);
      lastError = error.message;
    });
  }

  const listeners = new Set<(message: ControlMessage | { op: 'reload' }) => void>();
  const deliver = (message: ControlMessage | { op: 'reload' }) => {
    for (const listener of listeners) {
      try {
        listener(message);
      } catch (error) {
        log(`control message failed: ${(error as Error).message}`);
      }
    }
  };
  subscriber.on('message', (_channel: string, text: string) => {
    let message: ControlMessage;
    try {
      message = JSON.parse(text) as ControlMessage;
    } catch {
      return log(`skipped a control message not written by ssehub on ${keys.channel}`);
    }
    deliver(message);
  });
  let readyOnce = false;
  // Messages sent while this connection was away are lost: the denylist is read again instead.
  subscriber.on('ready', () => {
    if (readyOnce) deliver({ op: 'reload' });
    readyOnce = true;
  });

  try {
    const startup = options.startupTimeoutMs ?? 30_000;
    await Promise.all([ready(client, startup), ready(subscriber, startup)]);
    await subscriber.subscribe(keys.channel);
  } catch (error) {
    client.disconnect();
    subscriber.disconnect();
    throw new Error(`redis operations: ${(error as Error).message}`);
  }

  const local = createMemoryRateLimits();
  let degraded = false;
  const rateLimits: RateLimitStore = {
    async take(key, rate) {
      try {
        const wait = Number(
          await scripted.ssehubTake(keys.bucket(key), String(rate.capacity), String(rate.periodMs)),
        );
        if (degraded) log('rate limits: shared through redis again');
        degraded = false;
        return wait;
      } catch (error) {
        if (!degraded)
          log(`rate limits: redis unavailable, limiting per instance: ${(error as Error).message}`);
        degraded = true;
        return local.take(key, rate);
      }
    },
    close: () => local.close(),
  };

  const broadcast = async (message: ControlMessage) => {
    await client.publish(keys.channel, JSON.stringify(message));
  };
  const control: ControlPlane = {
    async save(revocation) {
      await client.hset(keys.revoked, revocationKey(revocation), JSON.stringify(revocation));
    },
    async remove(entry) {
      return (await client.hdel(keys.revoked, revocationKey(entry))) > 0;
    },
    async revocations() {
      const all = await client.hgetall(keys.revoked);
      const now = Date.now();
      const out: Revocation[] = [];
      const expired: string[] = [];
      for (const [field, json] of Object.entries(all)) {
        try {
          const r = JSON.parse(json) as Revocation;
          if (r.until > now) out.push(r);
          else expired.push(field);
        } catch {
          expired.push(field);
        }
      }
      if (expired.length > 0) await client.hdel(keys.revoked, ...expired);
      return out;
    },
    broadcast,
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      listeners.clear();
    },
  };

  const ledger: WebhookLedger = {
    async claim(eventId, counters, delta) {
      const counts = await scripted.ssehubClaimEvent(
        keys.claim(eventId),
        keys.occupancy,
        String(CLAIM_TTL_MS),
        String(delta),
        ...counters,
      );
      return counts === null ? undefined : counts.map(Number);
    },
    async close() {},
  };

  return {
    rateLimits,
    control,
    ledger,
    async close() {
      listeners.clear();
      await local.close();
      await Promise.all([
        client.quit().catch(() => client.disconnect()),
        subscriber.quit().catch(() => subscriber.disconnect()),
      ]);
    },
  };
}
