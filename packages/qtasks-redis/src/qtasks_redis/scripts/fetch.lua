-- Take up to ARGV[1] messages for one consumer. ARGV: limit, visibility timeout (seconds),
-- the most delayed or expired messages to move per call.
-- First due delayed messages join the ready set and expired deliveries come back (their
-- redelivery count goes up); then the best ready messages move to the in-flight zset with
-- a deadline. Returns {wake_at, id, body, delivery_count, ...}; wake_at ('' when something
-- was taken or nothing is pending) is when a delayed message or a deadline comes due.
local ready, delayed, inflight, body, redeliver, index, wake, seq =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local limit = tonumber(ARGV[1])
local visibility = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000

local function priority_of(mid)
  return string.match(mid, '^%x+:(%-?%d+):') or '0'
end
local function bulk(command, key, items)
  for i = 1, #items, 1000 do
    redis.call(command, key, unpack(items, i, math.min(i + 999, #items)))
  end
end
-- Move ids from the zset ``from`` to the ready set, each at the priority its id carries.
local function to_ready(from, mids)
  local add = {}
  for _, mid in ipairs(mids) do
    add[#add + 1] = priority_of(mid)
    add[#add + 1] = mid
  end
  bulk('ZADD', ready, add)
  bulk('ZREM', from, mids)
end

local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, cap)
if #due > 0 then
  to_ready(delayed, due)
end

local lost = redis.call('ZRANGEBYSCORE', inflight, '-inf', now, 'LIMIT', 0, cap)
if #lost > 0 then
  for _, mid in ipairs(lost) do
    redis.call('HINCRBY', redeliver, mid, 1)
  end
  to_ready(inflight, lost)
end

local out = {''}
if limit > 0 then
  local popped = redis.call('ZPOPMIN', ready, limit)
  local count = #popped / 2
  if count > 0 then
    local mids = {}
    for i = 1, count do
      mids[i] = popped[2 * i - 1]
    end
    local bodies = redis.call('HMGET', body, unpack(mids))
    for i = 1, count do
      if not bodies[i] then
        -- Pushed by another program (ZADD ready <priority> <bytes>): the member is the
        -- message. Give it an id of our own so it can be acked, retried and dead-lettered.
        local score = math.floor(tonumber(popped[2 * i]) or 0)
        score = math.max(-9007199254740992, math.min(9007199254740992, score))
        local mid = string.format('%016x:%d:', redis.call('INCR', seq), score)
        redis.call('HSET', body, mid, mids[i])
        bodies[i] = mids[i]
        mids[i] = mid
      end
    end
    local deadline = now + visibility
    local lease, uuids = {}, {}
    for i = 1, count do
      lease[#lease + 1] = deadline
      lease[#lease + 1] = mids[i]
      local uuid = string.match(mids[i], '^%x+:%-?%d+:(.+)$')
      if uuid then
        uuids[#uuids + 1] = uuid
      end
    end
    redis.call('ZADD', inflight, unpack(lease))
    if #uuids > 0 then
      redis.call('HDEL', index, unpack(uuids))
    end
    local previous = redis.call('HMGET', redeliver, unpack(mids))
    for i = 1, count do
      out[#out + 1] = mids[i]
      out[#out + 1] = bodies[i]
      out[#out + 1] = (tonumber(previous[i]) or 0) + 1
    end
    if count == limit and redis.call('LLEN', wake) == 0 and redis.call('ZCARD', ready) > 0 then
      redis.call('RPUSH', wake, 1)  -- more is waiting: let another idle consumer wake up
    end
  end
end

if #out == 1 then
  local next_due = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')[2]
  local deadline = redis.call('ZRANGE', inflight, 0, 0, 'WITHSCORES')[2]
  if next_due and deadline then
    if tonumber(deadline) < tonumber(next_due) then next_due = deadline end
  elseif deadline then
    next_due = deadline
  end
  out[1] = next_due or ''
end
return out
