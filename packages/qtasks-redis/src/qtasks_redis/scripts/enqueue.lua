-- Queue messages. KEYS: the queue keys (see keys.py). ARGV: uuid, priority, eta, body,
-- repeated per message; eta is epoch seconds or '' for "due now".
-- Each message gets an id <seq>:<priority>:<uuid>; its bytes go to the body hash, its id to
-- the ready zset (scored by priority) or to the delayed zset (scored by due time).
local ready, delayed, body, index, wake, seq = KEYS[1], KEYS[2], KEYS[4], KEYS[6], KEYS[7], KEYS[8]
local n = #ARGV / 4
if n == 0 then return 0 end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local first = redis.call('INCRBY', seq, n) - n
local bodies, ids, due, later = {}, {}, {}, {}
for i = 1, n do
  local j = (i - 1) * 4
  local uuid, priority, eta = ARGV[j + 1], ARGV[j + 2], ARGV[j + 3]
  local mid = string.format('%016x', first + i) .. ':' .. priority .. ':' .. uuid
  bodies[#bodies + 1] = mid
  bodies[#bodies + 1] = ARGV[j + 4]
  if uuid ~= '' then
    ids[#ids + 1] = uuid
    ids[#ids + 1] = mid
  end
  if eta ~= '' and tonumber(eta) > now then
    later[#later + 1] = eta
    later[#later + 1] = mid
  else
    due[#due + 1] = priority
    due[#due + 1] = mid
  end
end
local function bulk(command, key, items)
  for i = 1, #items, 1000 do
    redis.call(command, key, unpack(items, i, math.min(i + 999, #items)))
  end
end
bulk('HSET', body, bodies)
bulk('HSET', index, ids)
bulk('ZADD', ready, due)
bulk('ZADD', delayed, later)
if redis.call('LLEN', wake) == 0 then
  redis.call('RPUSH', wake, 1)
end
return n
