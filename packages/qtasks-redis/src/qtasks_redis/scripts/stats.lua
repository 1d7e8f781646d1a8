-- Count one queue: {delayed, in flight, dead, priority, ready at that priority, ...}.
-- Walks the distinct priorities of the ready zset (one range query per priority).
local ready, delayed, inflight, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[9]
local out = {redis.call('ZCARD', delayed), redis.call('ZCARD', inflight), redis.call('XLEN', dead)}
local head = redis.call('ZRANGE', ready, 0, 0, 'WITHSCORES')
local seen = 0
while #head > 0 and seen < 10000 do
  local priority = head[2]
  out[#out + 1] = priority
  out[#out + 1] = redis.call('ZCOUNT', ready, priority, priority)
  head = redis.call('ZRANGEBYSCORE', ready, '(' .. priority, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  seen = seen + 1
end
return out
