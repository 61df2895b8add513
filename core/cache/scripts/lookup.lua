-- A miss's ticket in one round trip: the generations to probe and the write clocks, creating missing ones (a hit is
-- read with plain commands: RedisStore._hit).
-- KEYS[1 .. ngens] generations to probe (KEYS[1] is the epoch); the rest write clocks.
-- ARGV[1] ngens; ARGV[2] a fresh token for missing probes; ARGV[3] the fill window in ms: what a read creates lives
-- that long unless a stored entry claims it (store.lua extends it to the entry's TTL); ARGV[4] the pending TTL in ms.
local ngens = tonumber(ARGV[1])
local values = mget(KEYS, 1, ngens)
for i = 1, ngens do
  if not values[i] then
    if i == 1 then
      redis.call('SET', KEYS[i], ARGV[2])  -- the epoch never expires: losing it would empty the whole cache
    else
      redis.call('SET', KEYS[i], ARGV[2], 'PX', ARGV[3])
    end
    values[i] = ARGV[2]
  end
end
-- Missing write clocks are created too: a guard read as "absent" would still match after a bumped clock was
-- evicted, and let a racing fill store. A clock's value in the ticket is "<token> <counter> <server ms>".
local now = now_ms()
for i = ngens + 1, #KEYS do
  if not redis.call('HGET', KEYS[i], 't') then
    ensure_clock(KEYS[i], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), now)
  end
  local clock = redis.call('HMGET', KEYS[i], 't', 'n')
  values[#values + 1] = clock[1] .. ' ' .. (clock[2] or '0') .. ' ' .. now
end
return values
