-- Forget finished deliveries. ARGV: id, delivery_count, repeated. A delivery whose count no
-- longer matches (its deadline passed and the message was handed out again) is left alone.
local inflight, body, redeliver = KEYS[3], KEYS[4], KEYS[5]
local n = #ARGV / 2
if n == 0 then return 0 end
local mids = {}
for i = 1, n do
  mids[i] = ARGV[2 * i - 1]
end
local previous = redis.call('HMGET', redeliver, unpack(mids))
local done = {}
for i = 1, n do
  if (tonumber(previous[i]) or 0) + 1 == tonumber(ARGV[2 * i]) then
    done[#done + 1] = mids[i]
  end
end
if #done > 0 then
  redis.call('ZREM', inflight, unpack(done))
  redis.call('HDEL', body, unpack(done))
  redis.call('HDEL', redeliver, unpack(done))
end
return #done
