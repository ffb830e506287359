/**
 * The shared subscription registry for several hub instances on one Redis: presence across instances.
 *
 * Each instance keeps its own subscriptions in memory (the truth about its connections) and mirrors
 * them into a Redis hash of its own, registered in a sorted set with a deadline that it pushes forward
 * every TTL/3 (its heartbeat). The Subscription API of any instance lists every registered hash.
 *
 * An instance that dies (`kill -9`, a lost host) stops heartbeating; once its deadline has passed, a
 * survivor's sweeper claims it with one atomic script, which removes its entries and returns them to
 * that survivor only, and the survivor publishes their `active: false` events: once, whichever
 * survivors race for it.
 *
 * An instance that finds itself no longer registered — it was claimed while it was alive but cut off
 * from Redis for longer than the TTL, or Redis restarted without its data — re-registers all its
 * subscriptions and announces the difference (`active: true` for what Redis had lost). Changes made
 * while Redis is away wait for it (up to one TTL) instead of failing, so that the hub announces them
 * once they are visible; after that they fail and the registry announces them itself when it is back.
 *
 * Like the broker, this module talks to Redis through ioredis and imports nothing from `node:*`.
 */
import { Redis } from 'ioredis';
import {
  type ActiveSubscription,
  type Broker,
  type SubscriptionFilter,
  type SubscriptionRegistry,
  subscriptionUpdate,
} from '../index.ts';
import { ready } from './broker.ts';
import { CLAIM_LUA, COMMIT_LUA, LEAVE_LUA, LIST_LUA, SYNC_LUA } from './registry-scripts.ts';

export interface RedisRegistryOptions {
  /** The same Redis as the broker's (`redis://…`). */
  url: string;
  /** Key prefix, the broker's (`SSEHUB_REDIS_KEY`). Default `ssehub`. */
  key?: string;
  /** Seconds after its last heartbeat at which an instance counts as dead. Default 15. */
  ttlSeconds?: number;
  /** Where the registry publishes the events it owes: expired and re-registered subscriptions. */
  broker: Pick<Broker, 'publish' | 'healthy'>;
  /** A command without a reply after this many ms fails. Default 2000. */
  commandTimeoutMs?: number;
  /** How long {@link createRedisRegistry} waits for Redis at startup. Default 30 s. */
  startupTimeoutMs?: number;
  /** Where faults are reported. Default: `console.error`. */
  log?: (message: string) => void;
}

/** A {@link SubscriptionRegistry} shared through Redis. */
export interface RedisRegistry extends SubscriptionRegistry {
  /** This instance's id in Redis (random per process). */
  readonly instanceId: string;
  /**
   * Claims the instances whose heartbeat lapsed and announces their subscriptions gone; resolves with
   * how many this call claimed. Runs by itself every TTL/3; callable for tests and tools.
   */
  sweep(): Promise<number>;
}

interface Scripted {
  presenceCommit(set: string, hash: string, ...args: string[]): Promise<number>;
  presenceSync(set: string, hash: string, gone: string, ...args: string[]): Promise<0 | [string[], string[]]>;
  presenceClaim(set: string, ...args: string[]): Promise<string[][]>;
  presenceList(set: string, prefix: string): Promise<string[]>;
  presenceLeave(set: string, hash: string, id: string): Promise<string[]>;
}

/** Changes of one `add`/`remove` call, waiting to be written. */
interface Batch {
  readonly subscriptions: readonly ActiveSubscription[];
  readonly since: number;
  resolve(): void;
  reject(error: Error): void;
}

/**
 * Connects, registers this instance and starts its heartbeat and sweeper.
 * @throws when Redis cannot be reached within `startupTimeoutMs`.
 *
 * @example
 * const registry = await createRedisRegistry({ url, broker, ttlSeconds: 15 });
 * const hub = createHub({ broker, registry, settings });
 */
export async function createRedisRegistry(options: RedisRegistryOptions): Promise<RedisRegistry> {
  const prefix = `{${options.key ?? 'ssehub'}}:presence:`;
  const instanceId = crypto.randomUUID();
  const keys = { set: `{${options.key ?? 'ssehub'}}:presence`, own: `${prefix}i:${instanceId}` };
  const gone = `${prefix}gone:${instanceId}`;
  const ttl = Math.max(1, options.ttlSeconds ?? 15) * 1000;
  const tick = Math.max(100, Math.floor(ttl / 3));
  const log = options.log ?? ((message: string) => console.error(`ssehub: ${message}`));
  const { broker } = options;
  const commandTimeout = options.commandTimeoutMs ?? 2000;

  const client = new Redis(options.url, {
    lazyConnect: true,
    protocol: 2,
    // Fail at once while Redis is away (the registry retries on its own terms) and never re-send a
    // script that may already have run.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout,
    connectTimeout: Math.max(1000, commandTimeout),
    connectionName: `${options.key ?? 'ssehub'}:presence`,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000) + Math.floor(Math.random() * 100),
  });
  client.defineCommand('presenceCommit', { numberOfKeys: 2, lua: COMMIT_LUA });
  client.defineCommand('presenceSync', { numberOfKeys: 3, lua: SYNC_LUA });
  client.defineCommand('presenceClaim', { numberOfKeys: 1, lua: CLAIM_LUA });
  client.defineCommand('presenceList', { numberOfKeys: 1, lua: LIST_LUA });
  client.defineCommand('presenceLeave', { numberOfKeys: 2, lua: LEAVE_LUA });
  const redis = client as unknown as Scripted;

  /** This instance's subscriptions: the truth that Redis mirrors. */
  const mine = new Map<string, ActiveSubscription>();
  /** Subscriptions whose event the hub did not publish (their change failed): announced at the next sync. */
  const owed = new Map<string, ActiveSubscription>();
  let queue: Batch[] = [];
  let needSync = true;
  let heartbeatDue = false;
  let flushing: Promise<void> | undefined;
  let closed = false;
  // A survivor claims others only after it has been connected for a whole TTL: after an outage every
  // deadline may have passed, and the live instances need one heartbeat to show they are alive.
  let connectedAt = Number.POSITIVE_INFINITY;
  let lastError = '';
  client.on('ready', () => {
    connectedAt = Date.now();
    lastError = '';
    kick();
  });
  client.on('close', () => {
    connectedAt = Number.POSITIVE_INFINITY;
  });
  client.on('error', (error: Error) => {
    if (error.message !== lastError) log(`redis presence: ${error.message}`);
    lastError = error.message;
  });

  /** Events owed to subscribers, published in order; one that fails stays first and is retried. */
  const outbox: Array<() => Promise<unknown>> = [];
  let draining = Promise.resolve();
  /** Publishes what the outbox holds now, after any drain already under way. */
  const drain = (): Promise<void> => {
    draining = draining.then(async () => {
      try {
        while (outbox.length > 0) {
          await outbox[0]!();
          outbox.shift();
        }
      } catch (error) {
        log(`presence event not published yet (retrying): ${(error as Error).message}`);
      }
    });
    return draining;
  };
  const announce = (subscription: ActiveSubscription, active: boolean) =>
    outbox.push(() => broker.publish(subscriptionUpdate(subscription, active)));

  const parse = (json: string): ActiveSubscription | undefined => {
    try {
      return JSON.parse(json) as ActiveSubscription;
    } catch {
      log(`presence: skipped an entry not written by ssehub under ${keys.set}`);
      return undefined;
    }
  };

  /**
   * Writes this instance's whole state; announces what Redis lacked or had in excess, except the
   * subscriptions of `batch`, which the hub announces itself. False while a survivor is still
   * announcing this instance as gone.
   */
  async function sync(batch: ReadonlySet<string>): Promise<boolean> {
    const snapshot = new Map(mine);
    const args = [...snapshot.values()].flatMap((s) => [s.id, JSON.stringify(s)]);
    const result = await redis.presenceSync(keys.set, keys.own, gone, instanceId, String(ttl), ...args);
    if (result === 0) return false;
    const [removed, added] = result;
    const events = new Map<string, [ActiveSubscription, boolean]>();
    for (const json of removed) {
      const s = parse(json);
      if (s) events.set(s.id, [s, false]);
    }
    for (const id of added) events.set(id, [snapshot.get(id)!, true]);
    for (const [id, s] of owed) {
      if (!events.has(id)) events.set(id, [snapshot.get(id) ?? s, snapshot.has(id)]);
    }
    owed.clear();
    needSync = false;
    for (const [id, [s, active]] of events) if (!batch.has(id)) announce(s, active);
    // Before any later change is confirmed, so that the hub's events for it come after these.
    await drain();
    return true;
  }

  /** Rejects changes that waited a whole TTL for Redis; their events become the registry's debt. */
  function expire(): void {
    const now = Date.now();
    const stale = queue.filter((b) => now - b.since >= ttl);
    if (stale.length === 0) return;
    queue = queue.filter((b) => now - b.since < ttl);
    for (const b of stale) {
      for (const s of b.subscriptions) owed.set(s.id, s);
      b.reject(new Error('redis is unavailable: presence change not recorded yet'));
    }
  }

  async function flush(): Promise<void> {
    while (!closed && (queue.length > 0 || heartbeatDue || needSync)) {
      if (client.status !== 'ready') return expire();
      const batches = queue.splice(0);
      heartbeatDue = false;
      const ids = new Set(batches.flatMap((b) => b.subscriptions.map((s) => s.id)));
      try {
        if (!needSync) {
          const present = [...ids].filter((id) => mine.has(id));
          const args = present.flatMap((id) => [id, JSON.stringify(mine.get(id))]);
          const absent = [...ids].filter((id) => !mine.has(id));
          const applied = await redis.presenceCommit(
            keys.set,
            keys.own,
            instanceId,
            String(ttl),
            String(present.length),
            ...args,
            ...absent,
          );
          if (applied !== 1) needSync = true;
        }
        if (needSync && !(await sync(ids))) {
          // A survivor is still announcing this instance's old entries: try again at the next tick.
          queue.unshift(...batches);
          return expire();
        }
      } catch (error) {
        // The script may or may not have run: only a full sync knows the state again.
        needSync = true;
        queue.unshift(...batches);
        log(`presence: ${(error as Error).message}`);
        return expire();
      }
      for (const id of ids) owed.delete(id);
      for (const b of batches) b.resolve();
    }
  }

  function kick(): void {
    if (closed || flushing) return;
    flushing = flush()
      .catch((error) => log(`presence: ${(error as Error).message}`))
      .finally(() => {
        flushing = undefined;
      });
  }

  const change = (subscriptions: readonly ActiveSubscription[], present: boolean): Promise<void> => {
    if (closed) return Promise.reject(new Error('presence registry closed'));
    for (const s of subscriptions) {
      if (present) mine.set(s.id, s);
      else mine.delete(s.id);
    }
    return new Promise<void>((resolve, reject) => {
      queue.push({ subscriptions, since: Date.now(), resolve, reject });
      // A batch arriving while a flush is in flight is picked up by that flush's next round.
      kick();
    });
  };

  let sweeping: Promise<number> | undefined;
  /** One sweep at a time per instance (several instances may race: the claim script settles it). */
  const sweep = (): Promise<number> => {
    sweeping ??= sweepOnce().finally(() => {
      sweeping = undefined;
    });
    return sweeping;
  };

  async function sweepOnce(): Promise<number> {
    if (closed || client.status !== 'ready' || !broker.healthy || Date.now() - connectedAt < ttl) return 0;
    const claimed = await redis.presenceClaim(keys.set, prefix, String(ttl), '100');
    let count = 0;
    for (const [dead, ...values] of claimed) {
      for (const json of values) {
        const s = parse(json);
        if (s) announce(s, false);
      }
      count += values.length;
      // Lets the claimed instance, if it was alive after all, re-register: after these events.
      outbox.push(() => client.del(`${prefix}gone:${dead}`));
      log(`presence: instance ${dead} stopped heartbeating; announced ${values.length} subscriptions gone`);
    }
    await drain();
    return count;
  }

  const timer = setInterval(() => {
    heartbeatDue = true;
    kick();
    void drain();
    sweep().catch((error) => log(`presence sweep: ${(error as Error).message}`));
  }, tick);

  try {
    await ready(client, options.startupTimeoutMs ?? 30_000);
    kick();
    await flushing;
    if (needSync) throw new Error('could not register this instance');
  } catch (error) {
    clearInterval(timer);
    closed = true;
    client.disconnect();
    throw new Error(`presence registry: ${(error as Error).message}`);
  }

  return {
    instanceId,
    add: (subscriptions) => change(subscriptions, true),
    remove: (subscriptions) => change(subscriptions, false),
    async list(filter: SubscriptionFilter) {
      // Just after an outage this connection may come back a moment after the broker's: wait for it.
      if (client.status !== 'ready') await ready(client, commandTimeout);
      const values = await redis.presenceList(keys.set, prefix);
      const out: ActiveSubscription[] = [];
      for (const json of values) {
        const s = parse(json);
        if (!s) continue;
        if (filter.match_type !== undefined && s.match_type !== filter.match_type) continue;
        if (filter.match !== undefined && s.match !== filter.match) continue;
        if (filter.subscriber !== undefined && s.subscriber !== filter.subscriber) continue;
        out.push(s);
      }
      // Hash order differs between calls and instances: sort, for a stable answer.
      return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },
    sweep,
    async close() {
      if (closed) return;
      clearInterval(timer);
      closed = true;
      await flushing;
      await sweeping?.catch(() => 0);
      try {
        // Normally empty: the hub closed every connection (and announced it) first.
        const left = await redis.presenceLeave(keys.set, keys.own, instanceId);
        for (const json of left) {
          const s = parse(json);
          if (s) announce(s, false);
        }
        await drain();
      } catch (error) {
        log(`presence: could not unregister (the survivors will expire it): ${(error as Error).message}`);
      }
      for (const b of queue.splice(0)) b.reject(new Error('presence registry closed'));
      await client.quit().catch(() => client.disconnect());
    },
  };
}
