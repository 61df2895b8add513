-- Shared by the scripts that touch write clocks (prepended when they are loaded).
-- A write clock is one hash: field 't' holds its token, field 'e' Redis's evicted-keys count at the model's last
-- write that emptied tag sets (write.lua), every other field the expiry (ms, server clock) of a pending write's mark. Eviction can only take the token and the marks together. A missing clock is created with
-- a fresh token and, if Redis has evicted any key since it started, a blanket mark '~' for the pending TTL: a
-- write's mark may have gone with the evicted clock, and no guarded fill may be stored until it would have expired.
local function now_ms()
  local now = redis.call('TIME')
  return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
end

local function evicted_count()
  return tonumber(string.match(redis.call('INFO', 'stats'), 'evicted_keys:(%d+)') or '0')
end

local function evicted()
  return evicted_count() > 0
end

local function is_mark(field)
  return field ~= 't' and field ~= 'e'
end

-- Create clock `key` with `token` if it is missing; returns true when it was. A blanket mark keeps the clock alive
-- `ttl_ms` past its own expiry, so that fills can claim (and extend) the clock once it has lifted.
local function ensure_clock(key, token, ttl_ms, pending_ms, now)
  if redis.call('EXISTS', key) == 1 then
    return false
  end
  if evicted() then
    redis.call('HSET', key, 't', token, '~', now + pending_ms)
    redis.call('PEXPIRE', key, ttl_ms + pending_ms)
  else
    redis.call('HSET', key, 't', token)
    redis.call('PEXPIRE', key, ttl_ms)
  end
  return true
end

-- True while any mark on the clock is unexpired.
local function pending(key, now)
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    if is_mark(fields[i]) and tonumber(fields[i + 1]) > now then
      return true
    end
  end
  return false
end

-- Drop expired marks (a write that never settled), keeping the token and the blanket while it holds.
local function drop_expired(key, now)
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    if is_mark(fields[i]) and tonumber(fields[i + 1]) <= now then
      redis.call('HDEL', key, fields[i])
    end
  end
end

-- Delete the entries a tag set names, and the set.
local function empty_tag(tag)
  local entries = redis.call('SMEMBERS', tag)
  for start = 1, #entries, 1000 do
    redis.call('UNLINK', unpack(entries, start, math.min(start + 999, #entries)))
  end
  redis.call('DEL', tag)
end

local function mget(keys, first, last)
  local values = {}
  for start = first, last, 1000 do
    local chunk = redis.call('MGET', unpack(keys, start, math.min(start + 999, last)))
    for i = 1, #chunk do values[#values + 1] = chunk[i] end
  end
  return values
end
