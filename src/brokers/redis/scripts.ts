/**
 * The Lua script the Redis broker publishes with, so that checking a publisher id, numbering an update,
 * appending it, bounding its lane and keeping the id index in step happen atomically (one round trip,
 * no interleaving between instances).
 *
 * Keys (one hash tag, so that Redis Cluster keeps them in one slot): `meta` (a hash: `last`, the last
 * stream id given out; `bytes:<lane>`, the weight a lane holds; `lost:<lane>`, the newest stream id a
 * lane discarded), `index` (a hash: publisher id → stream id of its retained update), `lost` (a sorted
 * set of the per-topic lanes that discarded something: member `"<stream id> <lane>"`, score the
 * stream id's time, so that a replay finds the ones that lost updates after its cursor), then the
 * stream the update goes to and the log of its lane (a list of `"<stream id> <weight>[ <publisher
 * id>]"`, oldest first). A lane of a retention rule that gives each topic a lane of its own shares the
 * rule's stream with the other topics of the rule, and has a log of its own.
 */

/**
 * Appends one update to its stream and trims its lane to its bounds (count, bytes, age).
 *
 * KEYS: meta, index, lost, stream, log.
 * ARGV: deadline (ms on the server's clock; empty for none), lane name, most updates, most bytes, the
 * update JSON, its weight, longest age in ms (0: none), 1 when the lane is a topic's own (recorded in
 * `lost`), the name of the rule behind such a lane (empty otherwise), and the publisher id if there is
 * one. When a topic's lane discards an update with alternate topics, the rule is recorded in `lost`
 * too (`"<stream id> <rule>"`, and `lost:<rule>` in `meta`): a subscriber of an alternate topic may
 * have missed it.
 * Returns the new stream id; or `{stream id}` (a one-element array) when the publisher id is already
 * retained: nothing is stored, and the publish resolves with that update (idempotent publish, across
 * instances); or the error `SSEHUB_LATE` (nothing stored) when the script runs after the deadline: a
 * publisher that was answered 503 because Redis did not reply in time (frozen, or far behind) must be
 * able to trust that the update was not stored, and will not be delivered later.
 *
 * Stream ids come from one sequence over all streams (`<ms>-<seq>`, the scheme of `XADD *`), so that
 * the streams merge into one hub-wide order, and the time in each is when the update was stored.
 */
export const PUBLISH_LUA = `
local meta, index, lostSet, stream, log = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local name = ARGV[2]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if ARGV[1] ~= '' and now > tonumber(ARGV[1]) then
  return redis.error_reply('SSEHUB_LATE the publish reached redis after its deadline and was not stored')
end

local publisherId = ARGV[10]
if publisherId then
  local retained = redis.call('HGET', index, publisherId)
  if retained then return { retained } end
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
local fields = publisherId and { 'u', ARGV[5], 'i', publisherId } or { 'u', ARGV[5] }
local sid = string.format('%.0f-%.0f', ms, seq)
if type(redis.pcall('XADD', stream, sid, unpack(fields))) == 'table' then
  -- Something else wrote a newer entry into the stream (not ssehub): number after it.
  local top = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1][1]
  local tm, ts = string.match(top, '^(%d+)-(%d+)$')
  sid = string.format('%.0f-%.0f', tonumber(tm), tonumber(ts) + 1)
  redis.call('XADD', stream, sid, unpack(fields))
end
if publisherId then
  redis.call('HSET', index, publisherId, sid)
  redis.call('RPUSH', log, sid .. ' ' .. ARGV[6] .. ' ' .. publisherId)
else
  redis.call('RPUSH', log, sid .. ' ' .. ARGV[6])
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

local maxCount, maxBytes, maxAge = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[7])
local bytes = redis.call('HINCRBY', meta, 'bytes:' .. name, ARGV[6])
local count = redis.call('LLEN', log)
local lost = false
local ruleLost = false
-- True for an entry whose update has several topics, without decoding it: the codec writes \`t\` first
-- and \`d\` right after, and JSON escapes every quote inside a string.
local function hasAlternates(sid)
  local entry = redis.call('XRANGE', stream, sid, sid)[1]
  if not entry then return false end
  local f = entry[2]
  for i = 1, #f, 2 do
    if f[i] == 'u' then
      local e = string.find(f[i + 1], '],"d":', 1, true)
      return e ~= nil and string.find(string.sub(f[i + 1], 1, e), '","', 1, true) ~= nil
    end
  end
  return false
end
while count > 0 do
  local head = redis.call('LINDEX', log, 0)
  local hsid = parse(head)
  local hms = tonumber(string.match(hsid, '^(%d+)-'))
  if not (count > maxCount or bytes > maxBytes or (maxAge > 0 and hms <= now - maxAge)) then break end
  if ARGV[8] == '1' and hasAlternates(hsid) then ruleLost = hsid end
  local _, weight, hid = parse(redis.call('LPOP', log))
  count = count - 1
  redis.call('XDEL', stream, hsid)
  bytes = redis.call('HINCRBY', meta, 'bytes:' .. name, -weight)
  lost = hsid
  if hid and redis.call('HGET', index, hid) == hsid then redis.call('HDEL', index, hid) end
end
if lost then
  if ARGV[8] == '1' then
    local before = redis.call('HGET', meta, 'lost:' .. name)
    if before then redis.call('ZREM', lostSet, before .. ' ' .. name) end
    redis.call('ZADD', lostSet, tonumber(string.match(lost, '^(%d+)-')), lost .. ' ' .. name)
  end
  redis.call('HSET', meta, 'lost:' .. name, lost)
end
if ruleLost then
  local rule = ARGV[9]
  local before = redis.call('HGET', meta, 'lost:' .. rule)
  if before then redis.call('ZREM', lostSet, before .. ' ' .. rule) end
  redis.call('ZADD', lostSet, tonumber(string.match(ruleLost, '^(%d+)-')), ruleLost .. ' ' .. rule)
  redis.call('HSET', meta, 'lost:' .. rule, ruleLost)
end
if count == 0 then redis.call('HDEL', meta, 'bytes:' .. name) end
return sid
`;
