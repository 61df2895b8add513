-- Before a write's SQL runs: mark it pending on each of its models' pending-write sets (scored by expiry, on the
-- server's clock) and give fresh tokens to its clocks and generations, atomically. Guarded stores refuse while any
-- unexpired mark exists; the after-commit bump removes it. A write that never settles (rollback, crash, a failing
-- commit hook) expires after the pending TTL.
-- KEYS[1 .. npending] pending-write sets, then the token keys.
-- ARGV[1] the write's id; ARGV[2] pending TTL ms; ARGV[3] generation TTL ms; ARGV[4] npending;
-- ARGV[5 ..] one fresh token per token key, in order.
local npending = tonumber(ARGV[4])
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local ttl = tonumber(ARGV[2])
for i = 1, npending do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now_ms)
  redis.call('ZADD', KEYS[i], now_ms + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], ttl)
end
for i = npending + 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[4 + i - npending], 'PX', ARGV[3])
end
return 1
