-- Hand deliveries back. ARGV: delay (seconds), counted (1: the hand-back counts as a delivery,
-- 0: the worker never started them), then id, delivery_count, repeated. Each goes back to its
-- old place (same id, same priority) now, or to the delayed zset.
local ready, delayed, inflight, redeliver, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[5], KEYS[7]
local delay, counted = tonumber(ARGV[1]), ARGV[2] == '1'

local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local moved = 0
for i = 3, #ARGV, 2 do
  local mid = ARGV[i]
  local previous = tonumber(redis.call('HGET', redeliver, mid)) or 0
  if previous + 1 == tonumber(ARGV[i + 1]) and redis.call('ZREM', inflight, mid) == 1 then
    if counted then
      redis.call('HINCRBY', redeliver, mid, 1)
    end
    if delay > 0 then
      redis.call('ZADD', delayed, now + delay, mid)
    else
      redis.call('ZADD', ready, string.match(mid, '^%x+:(%-?%d+):') or '0', mid)
    end
    moved = moved + 1
  end
end
if moved > 0 and redis.call('LLEN', wake) == 0 then
  redis.call('RPUSH', wake, 1)
end
return moved
