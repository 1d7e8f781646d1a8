-- Drop up to ARGV[1] ready and delayed messages with their bodies; returns how many went.
-- The caller repeats until it returns 0, so one call never blocks the server for long.
local ready, delayed, body, redeliver, index = KEYS[1], KEYS[2], KEYS[4], KEYS[5], KEYS[6]
local batch = tonumber(ARGV[1])
local removed = 0
for _, key in ipairs({ready, delayed}) do
  local mids = redis.call('ZRANGE', key, 0, batch - 1)
  if #mids > 0 then
    local uuids = {}
    for _, mid in ipairs(mids) do
      local uuid = string.match(mid, '^%x+:%-?%d+:(.+)$')
      if uuid then uuids[#uuids + 1] = uuid end
    end
    redis.call('ZREM', key, unpack(mids))
    redis.call('HDEL', body, unpack(mids))
    redis.call('HDEL', redeliver, unpack(mids))
    if #uuids > 0 then redis.call('HDEL', index, unpack(uuids)) end
    removed = removed + #mids
  end
end
return removed
