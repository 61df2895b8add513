-- An invalidation, atomically: the entries of the written rows' tag fields deleted, fresh tokens for generations, and on each write
-- clock the counter moved, and for a write of the whole model (rows unknown: a bulk write, a manual invalidation)
-- a fresh token, for a write of known rows a stamp of every family it moves (clock.lua); for a write's begin a
-- pending mark on each clock (expiring after the pending TTL, on the server's clock; naming the families for a
-- write of known rows), for its settle the mark lifted. A write that never settles (rollback, crash, a failing
-- commit hook) lets its mark expire.
-- A tag hash that Redis evicted can no longer name the entries that show its rows. So a write that empties tag fields
-- compares Redis's evicted-keys count with the one its model's clock recorded at the model's last such write, and
-- if keys were evicted since (or the clock is new), also moves the fallback generations: the model's type families,
-- one of which every entry showing a row of the model lists.
-- KEYS: nclocks write clocks, their nclocks stamp hashes, ngens generations, ntags tag hashes (one per row, so a hash
-- may repeat), the fallback generations.
-- ARGV[1] the write's id ('' for a plain bump); ARGV[2] '+' begin, '-' settle, '' bump; ARGV[3] pending TTL ms;
-- ARGV[4] write clock TTL ms; ARGV[5] nclocks; ARGV[6] ngens; ARGV[7] ntags; ARGV[8] '1' for a write of the whole
-- model, '0' for known rows; ARGV[9] nfamilies; ARGV[10 ..] one fresh token per clock and generation, in order,
-- then one per fallback generation, then the ntags rows (fields of the tag hashes, in order), then the nfamilies
-- families the write moves (stamped for known rows).
local write_id, action = ARGV[1], ARGV[2]
local pending_ms, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local nclocks, ngens, ntags = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local whole, nfamilies = ARGV[8] == '1', tonumber(ARGV[9])
local first_gen, first_tag = 2 * nclocks + 1, 2 * nclocks + ngens + 1
local first_fallback = first_tag + ntags
local function token_of(i)  -- the fresh token for KEYS[i] (a clock, a generation or a fallback generation)
  if i <= nclocks then
    return ARGV[9 + i]
  elseif i < first_fallback then
    return ARGV[9 + i - nclocks]
  end
  return ARGV[9 + i - nclocks - ntags]
end
local families = {}
for i = #ARGV - nfamilies + 1, #ARGV do
  families[#families + 1] = ARGV[i]
end
local now = now_ms()
local evictions = ntags > 0 and tostring(evicted_count()) or nil
local fall_back = false
for i = 1, nclocks do
  local clock = KEYS[i]
  ensure_clock(clock, token_of(i), ttl, pending_ms, now)
  drop_expired(clock, now)
  local n = redis.call('HINCRBY', clock, 'n', 1)
  if whole then
    redis.call('HSET', clock, 't', token_of(i))
  else
    stamp(KEYS[nclocks + i], families, n, now, 2 * pending_ms)
  end
  if action == '+' then
    local mark = tostring(now + pending_ms)
    if not whole and #families > 0 then
      mark = mark .. '\t' .. table.concat(families, '\t')
    end
    redis.call('HSET', clock, write_id, mark)
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
for i = first_gen, first_tag - 1 do
  redis.call('SET', KEYS[i], token_of(i), 'XX', 'KEEPTTL')
end
local first_row = #ARGV - nfamilies - ntags
for i = first_tag, first_fallback - 1 do
  empty_tag(KEYS[i], ARGV[first_row + i - first_tag + 1])
end
if fall_back then
  for i = first_fallback, #KEYS do
    redis.call('SET', KEYS[i], token_of(i), 'XX', 'KEEPTTL')
  end
end
return 1
