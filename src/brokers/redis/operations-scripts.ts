/**
 * Lua scripts of the operators' backends on Redis. Each runs atomically on the server and reads the
 * Redis clock (`TIME`), so that every instance sees the same buckets and claims whatever its own clock
 * says. Scripts replicate their effects (Redis 5+), so calling `TIME` before writing is allowed.
 */

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Takes one token from a bucket (a hash: `t` last update in ms, `n` tokens then), refilling it first.
 * The key expires once the bucket would be full again: a full bucket and no bucket are the same.
 *
 * KEYS: bucket. ARGV: capacity, period ms. Returns 0 when a token was taken, else the ms until one is.
 */
export const TAKE_LUA = `
local capacity, period = tonumber(ARGV[1]), tonumber(ARGV[2])
${NOW}
local state = redis.call('HMGET', KEYS[1], 't', 'n')
local tokens = capacity
if state[1] and state[2] then
  tokens = math.min(capacity, tonumber(state[2]) + (now - tonumber(state[1])) * capacity / period)
end
if tokens < 1 then
  return math.max(1, math.ceil((1 - tokens) * period / capacity))
end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 't', string.format('%d', now), 'n', string.format('%.6f', tokens))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((capacity - tokens) * period / capacity)))
return 0
`;

/**
 * Claims a subscription event for the calling instance (first caller wins) and, for the winner only,
 * adds the delta to each counter (fields of one hash, removed at zero).
 *
 * KEYS: claim key, counters hash. ARGV: claim TTL ms, delta, counters… Returns the new counts, or nil
 * when the event was already claimed.
 */
export const CLAIM_EVENT_LUA = `
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return nil end
local out = {}
for i = 3, #ARGV do
  local count = redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[2])
  if count <= 0 then
    redis.call('HDEL', KEYS[2], ARGV[i])
    count = 0
  end
  out[#out + 1] = count
end
return out
`;
