-- Send dead letters back to the ready set with a fresh delivery count. ARGV: stream ids.
local ready, body, index, wake, seq, dead = KEYS[1], KEYS[4], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local moved = 0
for _, id in ipairs(ARGV) do
  local entries = redis.call('XRANGE', dead, id, id)
  if #entries > 0 then
    local flat, fields = entries[1][2], {}
    for i = 1, #flat, 2 do
      fields[flat[i]] = flat[i + 1]
    end
    local priority = fields['priority'] or '0'
    local uuid = fields['uuid'] or ''
    local mid = string.format('%016x', redis.call('INCR', seq)) .. ':' .. priority .. ':' .. uuid
    redis.call('HSET', body, mid, fields['body'] or '')
    if uuid ~= '' then
      redis.call('HSET', index, uuid, mid)
    end
    redis.call('ZADD', ready, priority, mid)
    redis.call('XDEL', dead, id)
    moved = moved + 1
  end
end
if moved > 0 and redis.call('LLEN', wake) == 0 then
  redis.call('RPUSH', wake, 1)
end
return moved
