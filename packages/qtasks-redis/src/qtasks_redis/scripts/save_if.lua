-- Write a task record only if the stored one is missing or in an allowed status.
-- KEYS[1]: the record key. ARGV: value ("<status>|<record>"), allowed statuses as
-- ",new,retry,", ttl in ms ('' = keep), channel to publish the value on ('' = none).
local head = redis.call('GETRANGE', KEYS[1], 0, 15)
if head ~= '' then
  local status = string.match(head, '^(%a+)|')
  if status and not string.find(ARGV[2], ',' .. status .. ',', 1, true) then
    return 0
  end
end
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
if ARGV[4] ~= '' then
  redis.call('PUBLISH', ARGV[4], ARGV[1])
end
return 1
