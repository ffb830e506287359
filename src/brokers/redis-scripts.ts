/**
 * Lua scripts the Redis broker runs server-side, so that appending an update, trimming the stream and
 * keeping the id index in step happen atomically (one round trip, no interleaving between instances).
 */

/**
 * Appends an update and maintains the index of publisher-chosen ids.
 *
 * KEYS: stream, index (hash id → stream id of its earliest retained occurrence), log (list of
 * "<stream id> <id>" for every update that carries a publisher id, oldest first).
 * ARGV: MAXLEN, the update JSON, and the publisher id if there is one.
 * Returns the new stream id.
 *
 * `MAXLEN ~` lets Redis drop whole stream nodes (cheap); whatever it dropped is then removed from the
 * index by walking the log from its head, so the index never outgrows the stream. A reused id whose
 * earliest occurrence is dropped moves to its next retained occurrence (the rare case: a scan).
 */
export const PUBLISH_LUA = `
local stream, index, log = KEYS[1], KEYS[2], KEYS[3]
local sid
if ARGV[3] then
  sid = redis.call('XADD', stream, 'MAXLEN', '~', ARGV[1], '*', 'u', ARGV[2], 'i', ARGV[3])
  redis.call('HSETNX', index, ARGV[3], sid)
  redis.call('RPUSH', log, sid .. ' ' .. ARGV[3])
else
  sid = redis.call('XADD', stream, 'MAXLEN', '~', ARGV[1], '*', 'u', ARGV[2])
end

local head = redis.call('LINDEX', log, 0)
if not head then return sid end
local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
if not oldest then
  redis.call('DEL', index, log)
  return sid
end
local function before(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, bm = tonumber(am), tonumber(bm)
  if am ~= bm then return am < bm end
  return tonumber(as) < tonumber(bs)
end
local function split(entry)
  local space = string.find(entry, ' ', 1, true)
  return string.sub(entry, 1, space - 1), string.sub(entry, space + 1)
end
while head do
  local hsid, hid = split(head)
  if not before(hsid, oldest[1]) then break end
  redis.call('LPOP', log)
  if redis.call('HGET', index, hid) == hsid then
    local nextSid = false
    local length = redis.call('LLEN', log)
    local from = 0
    while from < length and not nextSid do
      for _, entry in ipairs(redis.call('LRANGE', log, from, from + 63)) do
        local esid, eid = split(entry)
        if eid == hid then
          nextSid = esid
          break
        end
      end
      from = from + 64
    end
    if nextSid then redis.call('HSET', index, hid, nextSid) else redis.call('HDEL', index, hid) end
  end
  head = redis.call('LINDEX', log, 0)
end
return sid
`;
