-- An invalidation, atomically: fresh tokens for write clocks and generations, and for a write's begin a pending
-- mark on each clock (expiring after the pending TTL, on the server's clock), for its settle the mark lifted.
-- Guarded stores refuse while any unexpired mark exists. A write that never settles (rollback, crash, a failing
-- commit hook) lets its mark expire.
-- KEYS[1 .. nclocks] write clocks, then generations.
-- ARGV[1] the write's id ('' for a plain bump); ARGV[2] '+' begin, '-' settle, '' bump; ARGV[3] pending TTL ms;
-- ARGV[4] write clock TTL ms; ARGV[5] nclocks; ARGV[6 ..] one fresh token per key, in order.
local write_id, action = ARGV[1], ARGV[2]
local pending_ms, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local nclocks = tonumber(ARGV[5])
local now = now_ms()
for i = 1, nclocks do
  local clock = KEYS[i]
  ensure_clock(clock, ARGV[5 + i], ttl, pending_ms, now)
  drop_expired(clock, now)
  redis.call('HSET', clock, 't', ARGV[5 + i])
  if action == '+' then
    redis.call('HSET', clock, write_id, now + pending_ms)
  elseif action == '-' then
    redis.call('HDEL', clock, write_id)
  end
  redis.call('PEXPIRE', clock, ttl, 'GT')
end
-- A generation gets its new token only if it exists, and keeps its lifetime: a missing generation already means
-- "invalid" to every entry and ticket, and one created here would outlive the entries that need it by the TTL.
for i = nclocks + 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[5 + i], 'XX', 'KEEPTTL')
end
return 1
