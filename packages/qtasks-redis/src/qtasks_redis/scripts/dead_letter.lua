-- Move one delivery to the dead-letter stream. ARGV: id, delivery_count, reason,
-- max entries ('' = no limit), max age in seconds ('' = no limit).
local inflight, body, redeliver, dead = KEYS[3], KEYS[4], KEYS[5], KEYS[9]
local mid, count, reason, maxlen, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local previous = tonumber(redis.call('HGET', redeliver, mid)) or 0
if previous + 1 ~= tonumber(count) or redis.call('ZREM', inflight, mid) == 0 then
  return 0
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local data = redis.call('HGET', body, mid) or mid
local args = {dead}
if maxlen ~= '' then
  args[#args + 1] = 'MAXLEN'
  args[#args + 1] = maxlen
end
args[#args + 1] = '*'
for _, value in ipairs({
  'body', data, 'reason', reason,
  'uuid', string.match(mid, '^%x+:%-?%d+:(.+)$') or '',
  'priority', string.match(mid, '^%x+:(%-?%d+):') or '0',
  'at', string.format('%.6f', now),
}) do
  args[#args + 1] = value
end
redis.call('XADD', unpack(args))
if ttl ~= '' then
  local seconds = tonumber(ttl)
  redis.call('XTRIM', dead, 'MINID', string.format('%d', math.floor((now - seconds) * 1000)))
  redis.call('PEXPIRE', dead, math.ceil(seconds * 1000))
end
redis.call('HDEL', body, mid)
redis.call('HDEL', redeliver, mid)
return 1
