-- Write an entry atomically with its header. Nothing is written when a generation the ticket read, or (guarded)
-- a write clock, changed since the lookup, or while a write to a guarded model is pending (begun, not yet settled
-- after its commit): the value may predate that write, so it must never be served. A clock that is missing (evicted,
-- expired) cannot vouch for anything, so it refuses too.
-- Every generation and clock the entry lists is made to live at least as long as the entry (never shortened):
-- a key a read created goes when the last entry that needs it goes. The entry is added to the tag set of every row
-- it shows (a write of the row deletes the set's entries), which lives as long as its longest entry.
-- KEYS[1] entry; then ndeps generations from the ticket, nguards write clocks, the extra generations, and ntags tag
-- sets (last).
-- ARGV[1] ndeps; ARGV[2] nguards; ARGV[3] payload; ARGV[4] entry TTL ms; ARGV[5] fresh token for missing extra
-- generations; ARGV[6] ntags; ARGV[7] the size above which a tag set drops its expired entries; ARGV[8 ..] the
-- ticket's tokens for the deps, then for the guards.
local ndeps, nguards, ntags = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[6])
local ttl = ARGV[4]
if ndeps > 0 then
  local current = mget(KEYS, 2, ndeps + 1)
  for i = 1, ndeps do
    if current[i] ~= ARGV[7 + i] then
      return 0
    end
  end
end
if nguards > 0 then
  local now = now_ms()
  for i = 1, nguards do
    local clock = KEYS[ndeps + 1 + i]
    if redis.call('HGET', clock, 't') ~= ARGV[7 + ndeps + i] or pending(clock, now) then
      return 0
    end
  end
end

local header = {}
for i = 1, ndeps do
  header[#header + 1] = KEYS[i + 1]
  header[#header + 1] = ARGV[7 + i]
end
local first_extra = ndeps + nguards + 2
local last_extra = #KEYS - ntags
if last_extra >= first_extra then
  local extra = mget(KEYS, first_extra, last_extra)
  for i = first_extra, last_extra do
    local token = extra[i - first_extra + 1]
    if not token then
      token = ARGV[5]
      redis.call('SET', KEYS[i], token, 'PX', ttl)
    end
    header[#header + 1] = KEYS[i]
    header[#header + 1] = token
  end
end
for i = 2, last_extra do
  redis.call('PEXPIRE', KEYS[i], ttl, 'GT')  -- a key without a TTL (the epoch) counts as infinite: left alone
end
redis.call('SET', KEYS[1], table.concat(header, '\t') .. '\n' .. ARGV[3], 'PX', ttl)
local prune_at = tonumber(ARGV[7])
for i = last_extra + 1, #KEYS do
  local tag = KEYS[i]
  redis.call('SADD', tag, KEYS[1])
  if redis.call('PTTL', tag) < tonumber(ttl) then  -- a new set has none (-1)
    redis.call('PEXPIRE', tag, ttl)
  end
  if redis.call('SCARD', tag) > prune_at then
    for _, entry in ipairs(redis.call('SMEMBERS', tag)) do
      if redis.call('EXISTS', entry) == 0 then
        redis.call('SREM', tag, entry)
      end
    end
  end
end
return 1
