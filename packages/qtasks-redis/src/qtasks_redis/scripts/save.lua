-- Write task records. KEYS: record keys (qtasks:<ns>:task:<uuid>). ARGV: allowed statuses
-- as ",new,retry," for a conditional write ('' for an unconditional one), ttl in ms of a
-- finished record and of an unfinished one ('' = keep), the length of the record-key prefix,
-- the done-channel prefix, then one value ("<status>|<record>") per key.
-- A conditional write skips a record whose stored status is not allowed. A finished record
-- is also published on <done prefix><uuid>. Returns 1 (written) or 0 (skipped) per key.
local allowed, final_ttl, pending_ttl = ARGV[1], ARGV[2], ARGV[3]
local prefix_len, done_prefix = tonumber(ARGV[4]), ARGV[5]
local final = {success = true, error = true, cancel = true}
local written = {}
for i, key in ipairs(KEYS) do
  local value = ARGV[5 + i]
  local ok = true
  if allowed ~= '' then
    local head = redis.call('GETRANGE', key, 0, 15)
    if head ~= '' then
      local status = string.match(head, '^(%a+)|')
      if status and not string.find(allowed, ',' .. status .. ',', 1, true) then
        ok = false
      end
    end
  end
  if ok then
    local is_final = final[string.match(value, '^(%a+)|')]
    local ttl = is_final and final_ttl or pending_ttl
    if ttl ~= '' then
      redis.call('SET', key, value, 'PX', ttl)
    else
      redis.call('SET', key, value)
    end
    if is_final then
      redis.call('PUBLISH', done_prefix .. string.sub(key, prefix_len + 1), value)
    end
    written[i] = 1
  else
    written[i] = 0
  end
end
return written
