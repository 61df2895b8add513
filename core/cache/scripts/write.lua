-- An invalidation, atomically: fresh tokens for write clocks and generations, the entries of tag sets deleted, and
-- for a write's begin a pending mark on each clock (expiring after the pending TTL, on the server's clock), for its
-- settle the mark lifted. Guarded stores refuse while any unexpired mark exists. A write that never settles
-- (rollback, crash, a failing commit hook) lets its mark expire.
-- A tag set that Redis evicted can no longer name the entries that show its row. So a write that empties tag sets
-- compares Redis's evicted-keys count with the one its model's clock recorded at the model's last such write, and
-- if keys were evicted since (or the clock is new), also moves the fallback generations: the model's type families,
-- one of which every entry showing a row of the model lists.
-- KEYS: nclocks write clocks, ngens generations, ntags tag sets, then the fallback generations.
-- ARGV[1] the write's id ('' for a plain bump); ARGV[2] '+' begin, '-' settle, '' bump; ARGV[3] pending TTL ms;
-- ARGV[4] write clock TTL ms; ARGV[5] nclocks; ARGV[6] ngens; ARGV[7] ntags; ARGV[8 ..] one fresh token per clock
-- and generation, in order, then one per fallback generation.
local write_id, action = ARGV[1], ARGV[2]
local pending_ms, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local nclocks, ngens, ntags = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local now = now_ms()
local evictions = ntags > 0 and tostring(evicted_count()) or nil
local fall_back = false
for i = 1, nclocks do
  local clock = KEYS[i]
  ensure_clock(clock, ARGV[7 + i], ttl, pending_ms, now)
  drop_expired(clock, now)
  redis.call('HSET', clock, 't', ARGV[7 + i])
  if action == '+' then
    redis.call('HSET', clock, write_id, now + pending_ms)
  elseif action == '-' then
    redis.call('HDEL', clock, write_id)
  end
  if evictions and redis.call('HGET', clock, 'e') ~= evictions then
    fall_back = true
    redis.call('HSET', clock, 'e', evictions)
  end
  redis.call('PEXPIRE', clock, ttl, 'GT')
end
-- A generation gets its new token only if it exists, and keeps its lifetime: a missing generation already means
-- "invalid" to every entry and ticket, and one created here would outlive the entries that need it by the TTL.
for i = nclocks + 1, nclocks + ngens do
  redis.call('SET', KEYS[i], ARGV[7 + i], 'XX', 'KEEPTTL')
end
local first_fallback = nclocks + ngens + ntags + 1
for i = nclocks + ngens + 1, first_fallback - 1 do
  empty_tag(KEYS[i])
end
if fall_back then
  for i = first_fallback, #KEYS do
    redis.call('SET', KEYS[i], ARGV[7 + i - ntags], 'XX', 'KEEPTTL')
  end
end
return 1
