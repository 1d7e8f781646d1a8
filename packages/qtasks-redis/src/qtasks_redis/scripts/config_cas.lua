-- Compare-and-set of one global-config value. KEYS: the value key, the config index.
-- ARGV: '1' and the bytes the caller read ('0' and '' when the key was absent), the new
-- bytes ('' to delete the key), the ttl in ms ('' = none), the config key name (the index
-- member), its expiry time for the index.
-- The caller compared decoded values; this writes only if the stored bytes are still the
-- ones it read, so a write by another client in between makes it read and compare again.
-- Returns 1 when written, 0 when the value changed in between.
local key, index = KEYS[1], KEYS[2]
local current = redis.call('GET', key)
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then
  return 0
end
if ARGV[3] == '' then
  redis.call('DEL', key)
  redis.call('ZREM', index, ARGV[5])
  return 1
end
if ARGV[4] ~= '' then
  redis.call('SET', key, ARGV[3], 'PX', ARGV[4])
else
  redis.call('SET', key, ARGV[3])
end
redis.call('ZADD', index, ARGV[6], ARGV[5])
return 1
