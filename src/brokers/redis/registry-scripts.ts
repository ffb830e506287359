/**
 * Lua scripts of the Redis subscription registry (presence across instances). Each one runs
 * atomically on the server, so that an instance refreshing its heartbeat, an instance re-registering
 * and a survivor expiring a dead instance can never interleave.
 *
 * Layout, all under one hash tag (one Redis Cluster slot):
 * - `{p}:presence` — sorted set: instance id → deadline (ms, Redis clock); an instance refreshes it
 *   every TTL/3, and one whose deadline passed is dead.
 * - `{p}:presence:i:{instance}` — hash: subscription id → subscription JSON, one per instance.
 * - `{p}:presence:gone:{instance}` — tombstone set by the survivor that claimed a dead instance; it
 *   is deleted once that survivor has published the `active: false` events (or expires after a TTL).
 *
 * Deadlines use the Redis server's clock (`TIME`), never the instances' clocks, so clock skew between
 * hosts cannot make an instance look dead. Since Redis 5, scripts replicate their effects, so calling
 * `TIME` before writing is allowed.
 */

/** Lua: the Redis clock in ms, as `now`. */
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Applies one batch of this instance's changes and refreshes its heartbeat, only if the instance is
 * still registered (else returns 0 and writes nothing: it was claimed as dead, or Redis lost its data,
 * and it must re-register with {@link SYNC_LUA}).
 *
 * KEYS: set, own hash. ARGV: instance id, TTL ms, count of (field, value) pairs to set, those pairs,
 * then fields to delete. Returns 1.
 */
export const COMMIT_LUA = `
local id, ttl, sets = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if not redis.call('ZSCORE', KEYS[1], id) then return 0 end
${NOW}
redis.call('ZADD', KEYS[1], string.format('%d', now + ttl), id)
local last = 3 + 2 * sets
for i = 4, last, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
for i = last + 1, #ARGV do redis.call('HDEL', KEYS[2], ARGV[i]) end
return 1
`;

/**
 * (Re-)registers this instance with its complete set of subscriptions, and says what changed, so
 * that the instance can announce exactly the difference. Refuses (returns 0) while a survivor is still
 * announcing this instance's previous entries as gone, so that the re-registration's `active: true`
 * events always come after those `active: false` ones.
 *
 * KEYS: set, own hash, own tombstone. ARGV: instance id, TTL ms, then (field, value) pairs.
 * Returns `{removed values, added fields}`.
 */
export const SYNC_LUA = `
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local id, ttl = ARGV[1], tonumber(ARGV[2])
${NOW}
redis.call('ZADD', KEYS[1], string.format('%d', now + ttl), id)
local want = {}
for i = 3, #ARGV, 2 do want[ARGV[i]] = ARGV[i + 1] end
local old = redis.call('HGETALL', KEYS[2])
local have, removed, added = {}, {}, {}
for i = 1, #old, 2 do
  have[old[i]] = old[i + 1]
  if want[old[i]] == nil then
    redis.call('HDEL', KEYS[2], old[i])
    removed[#removed + 1] = old[i + 1]
  end
end
for i = 3, #ARGV, 2 do
  if have[ARGV[i]] ~= ARGV[i + 1] then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
    added[#added + 1] = ARGV[i]
  end
end
return {removed, added}
`;

/**
 * Claims instances whose deadline has passed: removes each one's entries and registration and leaves
 * a tombstone, atomically, so that exactly one caller — the one whose script ran first — gets them.
 *
 * KEYS: set. ARGV: key prefix of the per-instance keys (`{p}:presence:`), tombstone TTL ms, most
 * instances per call. Returns `{{instance id, value…}, …}`.
 */
export const CLAIM_LUA = `
local prefix, ttl, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
${NOW}
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%d', now), 'LIMIT', 0, limit)
local out = {}
for _, id in ipairs(dead) do
  local hash = prefix .. 'i:' .. id
  local entry = redis.call('HVALS', hash)
  table.insert(entry, 1, id)
  redis.call('DEL', hash)
  redis.call('ZREM', KEYS[1], id)
  redis.call('SET', prefix .. 'gone:' .. id, '1', 'PX', ttl)
  out[#out + 1] = entry
end
return out
`;

/**
 * Every registered instance's entries (including an instance whose deadline just passed but that no
 * survivor has claimed yet: its `active: false` events are not published yet either).
 *
 * KEYS: set. ARGV: key prefix of the per-instance keys. Returns the values.
 */
export const LIST_LUA = `
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  for _, value in ipairs(redis.call('HVALS', ARGV[1] .. 'i:' .. id)) do out[#out + 1] = value end
end
return out
`;

/**
 * Unregisters this instance on a clean shutdown. KEYS: set, own hash. ARGV: instance id.
 * Returns the values still registered (normally none: their connections were closed first).
 */
export const LEAVE_LUA = `
local left = redis.call('HVALS', KEYS[2])
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return left
`;
