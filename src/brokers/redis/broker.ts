/**
 * The Redis Streams broker: many hub instances, one hub. Every update is appended to the stream of
 * its retention lane by one Lua script that numbers it from a single sequence (so the stream id is the
 * update's position in the hub-wide order) and trims the lane to its bounds, in updates and in bytes,
 * without touching the other lanes. Each process runs one `XREAD BLOCK` loop over every lane's stream
 * on a connection of its own and hands what it reads to the local dispatcher, merged in stream-id
 * order, so every instance sees every update once, in one order. Replay is `XRANGE` in a
 * `MULTI`, merged the same way.
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
  type Broker,
  comparePos,
  countRetention,
  DEFAULT_LANE,
  EARLIEST,
  type HistoryPage,
  type HistoryResult,
  laneFor,
  laneOf,
  limitsOf,
  maxAgeOf,
  type Retention,
  stamp,
  topicLane,
  type Update,
  type UpdateInput,
  type UpdateListener,
  weightOf,
} from '../index.ts';
import { decodeEntry, encodeEntry, generatedId, hasPublisherId, type RawEntry, streamIdOf } from './codec.ts';
import { PUBLISH_LUA } from './scripts.ts';

export interface RedisBrokerOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS. */
  url: string;
  /** Updates kept for replay, with no byte bound: shorthand for `retention`. Default 1000. */
  historySize?: number;
  /** How long updates are kept, per lane (see {@link Retention}); wins over `historySize`. */
  retention?: Retention;
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
  /** A stream id, or `[stream id]` of the retained update when the publisher id was already taken. */
  ssehubPublish(...keysAndArgs: string[]): Promise<string | [string]>;
}

/** Largest byte bound passed to the script (Lua numbers are doubles: no infinity from a string). */
const NO_BYTE_BOUND = Number.MAX_SAFE_INTEGER;

/**
 * Connects to Redis and resolves with a broker once both connections are ready.
 * @throws when Redis cannot be reached within `startupTimeoutMs`.
 *
 * @example
 * const broker = await createRedisBroker({ url: 'redis://127.0.0.1:6379', historySize: 10_000 });
 */
export async function createRedisBroker(options: RedisBrokerOptions): Promise<Broker> {
  const prefix = options.key ?? 'ssehub';
  const retention = options.retention ?? countRetention(Math.max(0, Math.floor(options.historySize ?? 1000)));
  // One hash tag for all keys: the publish script touches them together, which Redis Cluster requires
  // to live in one slot. The default lane keeps the key the single-stream layout had. A lane that gives
  // each topic a lane of its own has one stream, and a log (and byte count) per topic.
  const laneKeys = [
    { name: DEFAULT_LANE, perTopic: false, limits: retention.updates },
    ...(retention.lanes ?? []).map((lane) => ({
      name: lane.name,
      perTopic: lane.perTopic === true,
      limits: lane,
    })),
  ].map(({ name, perTopic, limits }) => ({
    name,
    perTopic,
    maxAge: maxAgeOf(limits),
    stream: name === DEFAULT_LANE ? `{${prefix}}:stream` : `{${prefix}}:stream:${name}`,
    log: `{${prefix}}:log:${name}`,
  }));
  const keys = {
    meta: `{${prefix}}:meta`,
    index: `{${prefix}}:ids`,
    lost: `{${prefix}}:lost`,
    logOf: (lane: string) => `{${prefix}}:log:${lane}`,
  };
  const fixedLanes = laneKeys.filter((lane) => !lane.perTopic);
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
  publisher.defineCommand('ssehubPublish', { numberOfKeys: 5, lua: PUBLISH_LUA });
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

  // The server's clock, as an offset from ours, so that a publish can carry a deadline the server
  // checks (see PUBLISH_LUA). Measured at every (re)connection and every minute, from `TIME` round trips.
  let clockOffset = 0;
  const measureClock = async () => {
    try {
      const sent = Date.now();
      const [seconds, micros] = (await publisher.time()) as unknown as [string, string];
      const received = Date.now();
      clockOffset = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - (sent + received) / 2;
    } catch {
      // Not ready: measured again on the next `ready`.
    }
  };
  publisher.on('ready', () => void measureClock());
  const clockTimer = setInterval(() => void measureClock(), 60_000);

  try {
    await Promise.all([publisher, reader].map((c) => ready(c, options.startupTimeoutMs ?? 30_000)));
  } catch (error) {
    clearInterval(clockTimer);
    publisher.disconnect();
    reader.disconnect();
    throw new Error(`cannot reach redis at ${where}: ${(error as Error).message}`);
  }
  await measureClock();
  wasHealthy = isHealthy();
  started = true;

  const listeners = new Set<UpdateListener>();
  const decodeAll = (entries: readonly RawEntry[]): Update[] => {
    const out: Update[] = [];
    for (const [sid, fields] of entries) {
      const update = decodeEntry(sid, fields);
      if (update) out.push(update);
      else log(`skipped stream entry ${sid} under {${prefix}}: not written by ssehub`);
    }
    return out;
  };

  /** The newest entry of each lane, in one atomic read. */
  const newestPerLane = async (): Promise<(RawEntry | undefined)[]> => {
    const multi = publisher.multi();
    for (const lane of laneKeys) multi.xrevrange(lane.stream, '+', '-', 'COUNT', 1);
    return results(await multi.exec()).map((reply) => (reply as RawEntry[])[0]);
  };

  // Start reading after the newest entry of each lane at startup: a subscriber can only be registered
  // after this, and anything newer reaches it live, anything older through history.
  const lastSeen = (await newestPerLane()).map((entry) => entry?.[0] ?? '0-0');
  const loop = readLoop();

  async function readLoop(): Promise<void> {
    let failures = 0;
    const count = options.batchSize ?? 1000;
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
          count,
          'BLOCK',
          blockMs,
          'STREAMS',
          ...laneKeys.map((lane) => lane.stream),
          ...lastSeen,
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
      if (!reply) continue;
      const perLane = laneKeys.map((lane) => reply!.find(([stream]) => stream === lane.stream)?.[1] ?? []);
      const { entries, through } = mergeLanes(perLane, count);
      through.forEach((sid, i) => {
        if (sid !== undefined) lastSeen[i] = sid;
      });
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
   * After a reconnect: if a lane discarded updates after the last one this instance read from it,
   * they may have been discarded before it could read them (history too small for the outage, or
   * Redis lost its data). Nothing can bring them back; say so, so that the operator can size the history.
   */
  async function warnOnGap(): Promise<void> {
    try {
      const lost = await reader.hmget(keys.meta, ...laneKeys.map((lane) => `lost:${lane.name}`));
      laneKeys.forEach((lane, i) => {
        const sid = lost[i];
        if (!lane.perTopic && sid && lastSeen[i] !== '0-0' && comparePos(sid, lastSeen[i]!) > 0) {
          log(
            `after reconnecting: the ${lane.name} lane discarded updates after the last one this instance read (${lastSeen[i]}); they were not delivered here (raise the history bounds, check Redis persistence)`,
          );
        }
      });
    } catch {
      // The loop's next read reports a lasting failure.
    }
  }

  /** The server's time now, in ms (stream ids carry it). */
  const serverNow = () => Date.now() + clockOffset;

  /**
   * Splits one stream's entries into those within the lane's age bound and the expired ones (the
   * oldest: stream ids grow with time), which the next publish to the lane discards anyway.
   */
  function unexpired(lane: (typeof laneKeys)[number], entries: RawEntry[], now: number) {
    if (lane.maxAge === 0) return { kept: entries, expired: [] as RawEntry[] };
    const cutoff = now - lane.maxAge;
    const first = entries.findIndex(([sid]) => Number(sid.slice(0, sid.indexOf('-'))) > cutoff);
    const at = first === -1 ? entries.length : first;
    return { kept: entries.slice(at), expired: entries.slice(0, at) };
  }

  /**
   * The lanes that lose an entry of `lane`'s stream when it is discarded: its topic's own, for a
   * per-topic lane, and the rule's too when the update has alternate topics (see `ruleOfTopicLane`).
   */
  function lanesOfEntry(lane: (typeof laneKeys)[number], entry: RawEntry): string[] {
    if (!lane.perTopic) return [lane.name];
    const topics = decodeEntry(entry[0], entry[1])?.topics;
    if (!topics?.[0]) return [lane.name];
    return topics.length > 1 ? [topicLane(topics[0]), lane.name] : [topicLane(topics[0])];
  }

  /**
   * Updates of every lane positioned after `from` (a stream id, included when `inclusive`, or `-`),
   * at most `limit`, and which lanes discarded updates after it: one atomic read. Updates past their
   * lane's age bound are left out (and their lane reported lost), as if already discarded.
   */
  async function read(from: string, limit: number, inclusive: boolean) {
    const multi = publisher.multi();
    const extra = inclusive ? 1 : 0;
    for (const lane of laneKeys) {
      if (Number.isFinite(limit)) multi.xrange(lane.stream, from, '+', 'COUNT', limit + 1 + extra);
      else multi.xrange(lane.stream, from, '+');
    }
    multi.hmget(keys.meta, ...fixedLanes.map((lane) => `lost:${lane.name}`));
    const fromMs = from === '-' ? '-inf' : from.slice(0, from.indexOf('-'));
    multi.zrangebyscore(keys.lost, fromMs, '+inf');
    const replies = results(await multi.exec());
    const topicLosses = replies.pop() as string[];
    const lostIds = replies.pop() as (string | null)[];
    const now = serverNow();
    const lost = new Set<string>();
    let anchor: RawEntry | undefined;
    let full = false;
    const perLane = (replies as RawEntry[][]).map((raw, i) => {
      const lane = laneKeys[i]!;
      if (Number.isFinite(limit) && raw.length >= limit + 1 + extra) full = true;
      let entries = raw;
      if (from !== '-' && entries[0]?.[0] === from) {
        anchor = entries[0];
        entries = entries.slice(1);
      }
      const { kept, expired } = unexpired(lane, entries, now);
      for (const entry of expired) for (const name of lanesOfEntry(lane, entry)) lost.add(name);
      if (anchor && anchor === raw[0] && unexpired(lane, [anchor], now).kept.length === 0) anchor = undefined;
      return kept;
    });
    const merged = perLane.flat().sort((x, y) => comparePos(x[0], y[0]));
    const more = merged.length > limit || (full && merged.length === limit);
    if (from !== '-') {
      fixedLanes.forEach((lane, i) => {
        const sid = lostIds[i];
        if (sid && comparePos(sid, from) > 0) lost.add(lane.name);
      });
      for (const member of topicLosses) {
        const space = member.indexOf(' ');
        if (comparePos(member.slice(0, space), from) > 0) lost.add(member.slice(space + 1));
      }
    } else lost.clear();
    return { entries: more ? merged.slice(0, limit) : merged, more, anchor, lost: [...lost] };
  }

  /**
   * Updates of every lane positioned before `before` (a stream id; undefined: from the newest), newest
   * first, at most `limit`: one atomic `XREVRANGE` per lane. `XREVRANGE` takes `before` inclusively
   * (exclusive ranges need Redis 6.2), so it is read and dropped. Expired updates are left out.
   */
  async function readBefore(before: string | undefined, limit: number): Promise<HistoryPage> {
    const multi = publisher.multi();
    const extra = before === undefined ? 0 : 1;
    for (const lane of laneKeys) {
      if (Number.isFinite(limit))
        multi.xrevrange(lane.stream, before ?? '+', '-', 'COUNT', limit + 1 + extra);
      else multi.xrevrange(lane.stream, before ?? '+', '-');
    }
    const replies = results(await multi.exec()) as RawEntry[][];
    const now = serverNow();
    const merged = replies
      .flatMap((entries, i) => {
        const lane = laneKeys[i]!;
        const kept = entries.filter(([sid]) => sid !== before);
        if (lane.maxAge === 0) return kept;
        const cutoff = now - lane.maxAge;
        return kept.filter(([sid]) => Number(sid.slice(0, sid.indexOf('-'))) > cutoff);
      })
      .sort((x, y) => comparePos(y[0], x[0]));
    const more = merged.length > limit;
    return { updates: decodeAll(more ? merged.slice(0, limit) : merged), more };
  }

  /** The retained update at stream id `sid` (a repeated publisher id's), if it is still there. */
  async function entryAt(sid: string): Promise<Update | undefined> {
    const multi = publisher.multi();
    for (const lane of laneKeys) multi.xrange(lane.stream, sid, sid);
    for (const entries of results(await multi.exec()) as RawEntry[][]) {
      if (entries[0]) return decodeEntry(entries[0][0], entries[0][1]);
    }
    return undefined;
  }

  const page = (
    found: boolean,
    { entries, more, lost }: Awaited<ReturnType<typeof read>>,
    anchor?: Update,
  ): HistoryResult => ({ found, updates: decodeAll(entries), more, lost, ...(anchor ? { anchor } : {}) });

  return {
    get healthy() {
      return isHealthy();
    },
    async publish(input: UpdateInput): Promise<Update> {
      // Only the publishing connection matters here: while this instance's reader reconnects, the
      // update still reaches the stream, and the reader picks it up when it resumes.
      if (closed || publisher.status !== 'ready') throw new Error('redis is unavailable');
      const [, json, , id] = encodeEntry(input);
      const topic = input.topics[0] ?? '';
      const name = laneOf(retention, topic);
      const rule = laneFor(retention, topic);
      const lane = laneKeys.find((l) => l.name === (rule?.name ?? DEFAULT_LANE))!;
      const limits = limitsOf(retention, name);
      // The server must run the script within half the command timeout: the other half is for its
      // reply. Later, the publisher has been (or is about to be) told 503, so the script stores nothing.
      const deadline = Math.floor(Date.now() + clockOffset + commandTimeout / 2);
      const args = [
        String(deadline),
        name,
        String(Math.max(0, Math.floor(limits.maxCount))),
        String(Math.min(limits.maxBytes, NO_BYTE_BOUND)),
        json!,
        String(weightOf(input)),
        String(Math.floor(maxAgeOf(limits))),
        lane.perTopic ? '1' : '0',
        lane.perTopic ? lane.name : '',
      ];
      if (id !== undefined) args.push(id);
      const log = lane.perTopic ? keys.logOf(name) : lane.log;
      const reply = await scripted.ssehubPublish(keys.meta, keys.index, keys.lost, lane.stream, log, ...args);
      if (typeof reply !== 'string') {
        // Already retained: that update is the answer (or, if it was discarded in between, the input).
        const sid = reply[0];
        return (await entryAt(sid)) ?? stamp(input, input.id ?? generatedId(sid), sid);
      }
      return stamp(input, input.id ?? generatedId(reply), reply);
    },
    subscribe(listener: UpdateListener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async history(cursor: string, limit = Number.POSITIVE_INFINITY): Promise<HistoryResult> {
      if (cursor === EARLIEST) return page(true, await read('-', limit, false));
      const generated = streamIdOf(cursor);
      const sid = generated ?? (await publisher.hget(keys.index, cursor));
      if (sid) {
        const result = await read(sid, limit, true);
        // A `#<stream id>` cursor names an update only if that entry got a hub-generated id.
        if (result.anchor && !(generated && hasPublisherId(result.anchor))) {
          return page(true, result, decodeEntry(result.anchor[0], result.anchor[1]));
        }
      }
      return page(false, await read('-', limit, false));
    },
    async historyAfter(pos: string, limit = Number.POSITIVE_INFINITY): Promise<HistoryResult> {
      return page(true, await read(pos, limit, true));
    },
    historyBefore(pos: string | undefined, limit: number): Promise<HistoryPage> {
      return readBefore(pos, limit);
    },
    async lastEventId(): Promise<string> {
      let newest: RawEntry | undefined;
      const now = serverNow();
      for (const [i, entry] of (await newestPerLane()).entries()) {
        if (!entry || unexpired(laneKeys[i]!, [entry], now).kept.length === 0) continue;
        if (!newest || comparePos(entry[0], newest[0]) > 0) newest = entry;
      }
      return (newest && decodeEntry(newest[0], newest[1])?.id) ?? EARLIEST;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(clockTimer);
      onClosed();
      listeners.clear();
      reader.disconnect();
      await loop;
      await publisher.quit().catch(() => publisher.disconnect());
    },
  };
}

/**
 * Merges what one read returned from each lane's stream into one order. A lane that returned a full
 * batch (`count` entries) may have more after it that the read did not return, so nothing after the
 * smallest last id of such lanes is delivered yet: it comes with the next read, in order. `through`
 * is, per lane, the last id delivered from it (undefined: none).
 */
export function mergeLanes(
  perLane: readonly (readonly RawEntry[])[],
  count: number,
): { entries: RawEntry[]; through: (string | undefined)[] } {
  let cutoff: string | undefined;
  for (const entries of perLane) {
    const last = entries.at(-1)?.[0];
    if (
      entries.length >= count &&
      last !== undefined &&
      (cutoff === undefined || comparePos(last, cutoff) < 0)
    ) {
      cutoff = last;
    }
  }
  const through: (string | undefined)[] = [];
  const entries: RawEntry[] = [];
  for (const lane of perLane) {
    const kept = cutoff === undefined ? lane : lane.filter(([sid]) => comparePos(sid, cutoff!) <= 0);
    through.push(kept.at(-1)?.[0]);
    entries.push(...kept);
  }
  entries.sort((x, y) => comparePos(x[0], y[0]));
  return { entries, through };
}

/** The replies of a `MULTI … EXEC`, or the first error among them. */
function results(replies: [Error | null, unknown][] | null): unknown[] {
  if (!replies) throw new Error('redis transaction aborted');
  return replies.map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
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
