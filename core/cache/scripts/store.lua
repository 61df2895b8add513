-- Write an entry atomically with its header. Nothing is written when a generation the ticket read, or (guarded)
-- a write clock, changed since the lookup, or while a write to a guarded model is pending (begun, not yet settled
-- after its commit): the value may predate that write, so it must never be served.
-- KEYS[1] entry; then ndeps generations from the ticket, nguards write clocks, nguards pending-write sets (one per
-- clock, same order), and the extra generations.
-- ARGV[1] ndeps; ARGV[2] nguards; ARGV[3] payload; ARGV[4] entry TTL ms; ARGV[5] fresh token for missing extra
-- generations; ARGV[6] generation TTL ms; ARGV[7 ..] the ticket's tokens for the deps, then the guards ('' = absent).
local function mget(keys, first, last)
  local values = {}
  for start = first, last, 1000 do
    local chunk = redis.call('MGET', unpack(keys, start, math.min(start + 999, last)))
    for i = 1, #chunk do values[#values + 1] = chunk[i] end
  end
  return values
end

local ndeps, nguards = tonumber(ARGV[1]), tonumber(ARGV[2])
local checked = ndeps + nguards
if checked > 0 then
  local current = mget(KEYS, 2, checked + 1)
  for i = 1, checked do
    if (current[i] or '') ~= ARGV[6 + i] then
      return 0
    end
  end
end
if nguards > 0 then
  local now = redis.call('TIME')
  local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  for i = checked + 2, checked + 1 + nguards do
    if redis.call('ZCOUNT', KEYS[i], now_ms, '+inf') > 0 then
      return 0
    end
  end
end

local header = {}
for i = 1, ndeps do
  header[#header + 1] = KEYS[i + 1]
  header[#header + 1] = ARGV[6 + i]
end
local first_extra = checked + nguards + 2
if #KEYS >= first_extra then
  local extra = mget(KEYS, first_extra, #KEYS)
  for i = first_extra, #KEYS do
    local token = extra[i - first_extra + 1]
    if not token then
      token = ARGV[5]
      redis.call('SET', KEYS[i], token, 'PX', ARGV[6])
    end
    header[#header + 1] = KEYS[i]
    header[#header + 1] = token
  end
end
redis.call('SET', KEYS[1], table.concat(header, '\t') .. '\n' .. ARGV[3], 'PX', ARGV[4])
return 1
