/**
 * The Redis Streams broker: many hub instances, one hub. Every update is appended to ONE stream
 * (`XADD … MAXLEN ~ N`); the stream id is the update's position in the hub-wide order. Each process
 * runs one `XREAD BLOCK` loop on a connection of its own and hands every batch it reads to the local
 * dispatcher, so every instance sees every update once, in stream order. Replay is `XRANGE`.
 *
 * Client library: ioredis, chosen over node-redis for its connection-failure controls, which this
 * broker relies on: `enableOfflineQueue: false` + `maxRetriesPerRequest: 0` +
 * `autoResendUnfulfilledCommands: false` make a publish fail at once while Redis is away (the hub
 * answers 503) and never silently re-send an `XADD` that may already have run (no doubled update);
 * `socketTimeout` detects a dead or frozen server even under a blocking `XREAD`; `retryStrategy` gives
 * the backoff; auto-pipelining batches concurrent publishes into one write; `defineCommand` re-loads
 * scripts after a server restart (NOSCRIPT). It speaks to Redis over `node:net`, which Node, Bun and
 * Deno (npm: specifiers) all provide; our own code imports nothing from `node:*`. This module is only
 * imported by the Node/Bun/Deno entries, never by the Workers bundle.
 */
import { Redis, type RedisOptions } from 'ioredis';
import {
  decodeEntry,
  encodeEntry,
  generatedId,
  hasPublisherId,
  type RawEntry,
  streamIdOf,
} from './redis-codec.ts';
import { PUBLISH_LUA } from './redis-scripts.ts';
import {
  type Broker,
  comparePos,
  EARLIEST,
  type HistoryResult,
  type Update,
  type UpdateInput,
  type UpdateListener,
} from './types.ts';

export interface RedisBrokerOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS. */
  url: string;
  /** Updates kept for replay: the stream's `MAXLEN ~` (Redis may keep up to one stream node more). */
  historySize?: number;
  /** Key prefix, so several hubs can share one Redis. Default `ssehub`. */
  key?: string;
  /** How long one `XREAD` blocks, in ms. Shorter means faster detection of a frozen server. */
  blockMs?: number;
  /** A command without a reply after this many ms fails (publishes then get 503). */
  commandTimeoutMs?: number;
  /** How long {@link createRedisBroker} waits for Redis at startup before giving up. */
  startupTimeoutMs?: number;
  /** Most entries read per `XREAD`, i.e. the largest batch handed to the dispatcher. */
  batchSize?: number;
  /** Where connection changes and faults are reported. Default: `console.error`. */
  log?: (message: string) => void;
}

/** The commands this module adds to the client with `defineCommand`. */
interface Scripted {
  ssehubPublish(stream: string, index: string, log: string, ...args: string[]): Promise<string>;
}

/**
 * Connects to Redis and resolves with a broker once both connections are ready.
 * @throws when Redis cannot be reached within `startupTimeoutMs`.
 *
 * @example
 * const broker = await createRedisBroker({ url: 'redis://127.0.0.1:6379', historySize: 10_000 });
 */
export async function createRedisBroker(options: RedisBrokerOptions): Promise<Broker> {
  const prefix = options.key ?? 'ssehub';
  // One hash tag for all keys: the publish script touches three keys, which Redis Cluster requires
  // to live in one slot.
  const keys = { stream: `{${prefix}}:stream`, index: `{${prefix}}:ids`, log: `{${prefix}}:idlog` };
  const maxLen = String(Math.max(1, Math.floor(options.historySize ?? 1000)));
  const blockMs = options.blockMs ?? 1000;
  const commandTimeout = options.commandTimeoutMs ?? 2000;
  const log = options.log ?? ((message: string) => console.error(`ssehub: ${message}`));
  const where = redacted(options.url);

  const common: RedisOptions = {
    lazyConnect: true,
    // RESP2: the shapes below are the same on every Redis ≥ 6 and compatible server.
    protocol: 2,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: Math.max(1000, commandTimeout),
    // Never give up: reconnect with capped exponential backoff plus jitter (instances that lost
    // Redis together should not all knock at once).
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000) + Math.floor(Math.random() * 100),
  };
  const publisher = new Redis(options.url, {
    ...common,
    connectionName: `${prefix}:publish`,
    enableAutoPipelining: true,
    commandTimeout,
    socketTimeout: commandTimeout * 2,
  });
  // The reader blocks in XREAD; a reply (data or nil) is due every `blockMs`, so silence beyond that
  // plus a grace period means the server or the path to it is gone.
  const reader = new Redis(options.url, {
    ...common,
    connectionName: `${prefix}:read`,
    socketTimeout: blockMs + commandTimeout,
  });
  publisher.defineCommand('ssehubPublish', { numberOfKeys: 3, lua: PUBLISH_LUA });
  const scripted = publisher as unknown as Scripted;

  let closed = false;
  let started = false;
  let onClosed = () => {};
  const closing = new Promise<void>((resolve) => {
    onClosed = resolve;
  });
  let wasHealthy = false;
  const isHealthy = () => !closed && publisher.status === 'ready' && reader.status === 'ready';
  const watch = () => {
    const now = isHealthy();
    if (!started || now === wasHealthy || closed) return;
    wasHealthy = now;
    log(now ? `redis at ${where} is reachable again` : `lost redis at ${where}; reconnecting`);
  };
  let lastError = '';
  for (const client of [publisher, reader]) {
    client.on('ready', watch);
    client.on('close', watch);
    // ioredis emits one error per failed attempt: report each distinct one once per outage.
    client.on('error', (error: Error) => {
      if (error.message === lastError) return;
      lastError = error.message;
      log(`redis (${where}): ${error.message}`);
    });
    client.on('ready', () => {
      lastError = '';
    });
  }

  try {
    await Promise.all([publisher, reader].map((c) => ready(c, options.startupTimeoutMs ?? 30_000)));
  } catch (error) {
    publisher.disconnect();
    reader.disconnect();
    throw new Error(`cannot reach redis at ${where}: ${(error as Error).message}`);
  }
  wasHealthy = isHealthy();
  started = true;

  const listeners = new Set<UpdateListener>();
  const decodeAll = (entries: readonly RawEntry[]): Update[] => {
    const out: Update[] = [];
    for (const [sid, fields] of entries) {
      const update = decodeEntry(sid, fields);
      if (update) out.push(update);
      else log(`skipped stream entry ${sid} under ${keys.stream}: not written by ssehub`);
    }
    return out;
  };
  const newest = async (): Promise<RawEntry | undefined> =>
    ((await publisher.xrevrange(keys.stream, '+', '-', 'COUNT', 1)) as RawEntry[])[0];

  // Start reading after the newest entry at startup: a subscriber can only be registered after this,
  // and anything newer reaches it live, anything older through history.
  let lastSeen = (await newest())?.[0] ?? '0-0';
  const loop = readLoop();

  async function readLoop(): Promise<void> {
    let failures = 0;
    while (!closed) {
      if (reader.status !== 'ready') {
        await Promise.race([ready(reader).catch(() => undefined), closing]);
        if (!closed) await warnOnGap();
        continue;
      }
      let reply: [string, RawEntry[]][] | null;
      try {
        reply = (await reader.xread(
          'COUNT',
          options.batchSize ?? 1000,
          'BLOCK',
          blockMs,
          'STREAMS',
          keys.stream,
          lastSeen,
        )) as [string, RawEntry[]][] | null;
        failures = 0;
      } catch (error) {
        if (closed) return;
        // A lost connection is handled above (wait for ready, then resume after `lastSeen`: nothing
        // skipped, nothing read twice). Any other error: back off briefly instead of spinning.
        if (reader.status === 'ready') {
          log(`redis read failed: ${(error as Error).message}`);
          await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** failures++, 2000)));
        }
        continue;
      }
      const entries = reply?.[0]?.[1];
      if (!entries || entries.length === 0) continue;
      lastSeen = entries[entries.length - 1]![0];
      const updates = decodeAll(entries);
      if (updates.length === 0) continue;
      for (const listener of listeners) {
        try {
          listener(updates);
        } catch (error) {
          log(`update listener failed: ${(error as Error).message}`);
        }
      }
    }
  }

  /**
   * After a reconnect: if the entry this instance read last has been trimmed away, entries after it
   * may have been trimmed too before it could read them (MAXLEN too small for the outage, or Redis
   * lost its data). Nothing can bring them back; say so, so that the operator can size the history.
   */
  async function warnOnGap(): Promise<void> {
    try {
      const oldest = ((await reader.xrange(keys.stream, '-', '+', 'COUNT', 1)) as RawEntry[])[0];
      if (oldest && lastSeen !== '0-0' && comparePos(oldest[0], lastSeen) > 0) {
        log(
          `after reconnecting, the stream starts at ${oldest[0]}, after the last update this instance read (${lastSeen}): updates may have been trimmed or lost meanwhile (raise the history size, check Redis persistence)`,
        );
      }
    } catch {
      // The loop's next read reports a lasting failure.
    }
  }

  const all = async () => decodeAll((await publisher.xrange(keys.stream, '-', '+')) as RawEntry[]);

  return {
    get healthy() {
      return isHealthy();
    },
    async publish(input: UpdateInput): Promise<Update> {
      // Only the publishing connection matters here: while this instance's reader reconnects, the
      // update still reaches the stream, and the reader picks it up when it resumes.
      if (closed || publisher.status !== 'ready') throw new Error('redis is unavailable');
      const [, json, , id] = encodeEntry(input);
      const args = id === undefined ? [maxLen, json!] : [maxLen, json!, id];
      const sid = await scripted.ssehubPublish(keys.stream, keys.index, keys.log, ...args);
      return { ...input, id: input.id ?? generatedId(sid), pos: sid };
    },
    subscribe(listener: UpdateListener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async history(cursor: string): Promise<HistoryResult> {
      if (cursor === EARLIEST) return { found: true, updates: await all() };
      const generated = streamIdOf(cursor);
      const sid = generated ?? (await publisher.hget(keys.index, cursor));
      if (sid) {
        const entries = (await publisher.xrange(keys.stream, sid, '+')) as RawEntry[];
        const first = entries[0];
        // A `#<stream id>` cursor names an update only if that entry got a hub-generated id.
        if (first && first[0] === sid && !(generated && hasPublisherId(first))) {
          return { found: true, updates: decodeAll(entries.slice(1)) };
        }
      }
      return { found: false, updates: await all() };
    },
    async lastEventId(): Promise<string> {
      const entry = await newest();
      return (entry && decodeEntry(entry[0], entry[1])?.id) ?? EARLIEST;
    },
    async close() {
      if (closed) return;
      closed = true;
      onClosed();
      listeners.clear();
      reader.disconnect();
      await loop;
      await publisher.quit().catch(() => publisher.disconnect());
    },
  };
}

/** Resolves when `client` is ready (connecting it if needed); rejects after `timeoutMs`, if given. */
export function ready(client: Redis, timeoutMs?: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'end') return Promise.reject(new Error('connection closed'));
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
      if (error) reject(error);
      else resolve();
    };
    const onReady = () => done();
    const onEnd = () => done(new Error('connection closed'));
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => done(new Error(`not ready after ${timeoutMs} ms`)), timeoutMs);
    client.on('ready', onReady);
    client.on('end', onEnd);
    // With lazyConnect the first connect is ours to start; its failure is retried by retryStrategy.
    if (client.status === 'wait') client.connect().catch(() => undefined);
  });
}

/** The URL without its password, for logs. */
function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return 'the configured url';
  }
}
