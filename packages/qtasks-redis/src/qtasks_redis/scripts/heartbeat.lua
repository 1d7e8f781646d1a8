-- Push the deadline of deliveries still being worked on. ARGV: visibility timeout, ids.
-- XX: a delivery that already went back to the queue is not put in flight again.
local inflight = KEYS[3]
local clock = redis.call('TIME')
local deadline = tonumber(clock[1]) + tonumber(clock[2]) / 1000000 + tonumber(ARGV[1])
local pairs_ = {}
for i = 2, #ARGV do
  pairs_[#pairs_ + 1] = deadline
  pairs_[#pairs_ + 1] = ARGV[i]
end
if #pairs_ == 0 then return 0 end
return redis.call('ZADD', inflight, 'XX', 'CH', unpack(pairs_))
