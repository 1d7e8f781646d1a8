-- Remove a message that is still queued (ready or delayed). ARGV: uuid. Returns 1 if removed.
local ready, delayed, body, redeliver, index = KEYS[1], KEYS[2], KEYS[4], KEYS[5], KEYS[6]
local mid = redis.call('HGET', index, ARGV[1])
if not mid then return 0 end
redis.call('HDEL', index, ARGV[1])
if redis.call('ZREM', ready, mid) + redis.call('ZREM', delayed, mid) == 0 then
  return 0
end
redis.call('HDEL', body, mid)
redis.call('HDEL', redeliver, mid)
return 1
