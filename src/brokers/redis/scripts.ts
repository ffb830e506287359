/**
 * The Lua script the Redis broker publishes with, so that numbering an update, appending it, bounding
 * its lane and keeping the id index in step happen atomically (one round trip, no interleaving between
 * instances).
 *
 * Keys (one hash tag, so that Redis Cluster keeps them in one slot): `meta` (a hash: `last`, the last
 * stream id given out; `bytes:<lane>`, the weight a lane holds; `lost:<lane>`, the newest stream id a
 * lane discarded), `index` (a hash: publisher id → stream id of its earliest retained occurrence), then
 * for each retention lane its stream and its log (a list of `"<stream id> <weight>[ <publisher id>]"`,
 * oldest first), the default lane first.
 */

/**
 * Appends one update to its lane's stream and trims the lane to its bounds.
 *
 * KEYS: meta, index, then stream and log of every lane.
 * ARGV: deadline (ms on the server's clock; empty for none), lane number (1-based), lane name, most
 * updates, most bytes, the update JSON, its weight, and the publisher id if there is one.
 * Returns the new stream id, or the error `SSEHUB_LATE` (nothing stored) when the script runs after the
 * deadline: a publisher that was answered 503 because Redis did not reply in time (frozen, or far
 * behind) must be able to trust that the update was not stored, and will not be delivered later.
 *
 * Stream ids come from one sequence over all lanes (`<ms>-<seq>`, the scheme of `XADD *`), so that the
 * lanes' streams merge into one hub-wide order.
 */
export const PUBLISH_LUA = `
local meta, index = KEYS[1], KEYS[2]
local lane = tonumber(ARGV[2])
local stream, log = KEYS[1 + 2 * lane], KEYS[2 + 2 * lane]
local name = ARGV[3]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if ARGV[1] ~= '' and now > tonumber(ARGV[1]) then
  return redis.error_reply('SSEHUB_LATE the publish reached redis after its deadline and was not stored')
end

local ms, seq = now, 0
local last = redis.call('HGET', meta, 'last')
if last then
  local lm, ls = string.match(last, '^(%d+)-(%d+)$')
  lm, ls = tonumber(lm), tonumber(ls)
  if ms <= lm then
    ms, seq = lm, ls + 1
  end
end
local publisherId = ARGV[8]
local fields = publisherId and { 'u', ARGV[6], 'i', publisherId } or { 'u', ARGV[6] }
local sid = string.format('%.0f-%.0f', ms, seq)
if type(redis.pcall('XADD', stream, sid, unpack(fields))) == 'table' then
  -- Something else wrote a newer entry into the stream (not ssehub): number after it.
  local top = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1][1]
  local tm, ts = string.match(top, '^(%d+)-(%d+)$')
  sid = string.format('%.0f-%.0f', tonumber(tm), tonumber(ts) + 1)
  redis.call('XADD', stream, sid, unpack(fields))
end
if publisherId then
  redis.call('HSETNX', index, publisherId, sid)
  redis.call('RPUSH', log, sid .. ' ' .. ARGV[7] .. ' ' .. publisherId)
else
  redis.call('RPUSH', log, sid .. ' ' .. ARGV[7])
end
redis.call('HSET', meta, 'last', sid)

local function parse(entry)
  local a = string.find(entry, ' ', 1, true)
  local b = string.find(entry, ' ', a + 1, true)
  if b then
    return string.sub(entry, 1, a - 1), tonumber(string.sub(entry, a + 1, b - 1)), string.sub(entry, b + 1)
  end
  return string.sub(entry, 1, a - 1), tonumber(string.sub(entry, a + 1)), nil
end
local function before(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, bm = tonumber(am), tonumber(bm)
  if am ~= bm then return am < bm end
  return tonumber(as) < tonumber(bs)
end
-- The earliest retained occurrence of a reused publisher id, over every lane's log (rare: a scan).
local function nextOccurrence(id)
  local best = false
  for k = 4, #KEYS, 2 do
    local length = redis.call('LLEN', KEYS[k])
    local from = 0
    local found = false
    while from < length and not found do
      for _, entry in ipairs(redis.call('LRANGE', KEYS[k], from, from + 63)) do
        local esid, _, eid = parse(entry)
        if eid == id then
          found = esid
          break
        end
      end
      from = from + 64
    end
    if found and (not best or before(found, best)) then best = found end
  end
  return best
end

local maxCount, maxBytes = tonumber(ARGV[4]), tonumber(ARGV[5])
local bytes = redis.call('HINCRBY', meta, 'bytes:' .. name, ARGV[7])
local count = redis.call('LLEN', log)
while count > maxCount or bytes > maxBytes do
  local hsid, weight, hid = parse(redis.call('LPOP', log))
  count = count - 1
  redis.call('XDEL', stream, hsid)
  bytes = redis.call('HINCRBY', meta, 'bytes:' .. name, -weight)
  redis.call('HSET', meta, 'lost:' .. name, hsid)
  if hid and redis.call('HGET', index, hid) == hsid then
    local again = nextOccurrence(hid)
    if again then redis.call('HSET', index, hid, again) else redis.call('HDEL', index, hid) end
  end
end
return sid
`;
