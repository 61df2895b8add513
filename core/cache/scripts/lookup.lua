-- One round trip for a read: serve the entry if every generation its header lists still holds the listed token;
-- otherwise return the probed generations (creating missing ones) and write clocks, so a miss needs no second trip.
-- KEYS[1] entry; KEYS[2 .. ngens+1] generations to probe (KEYS[2] is the epoch); the rest write clocks.
-- ARGV[1] ngens; ARGV[2] a fresh token for missing probes; ARGV[3] the fill window in ms: what a read creates
-- lives that long unless a stored entry claims it (store.lua extends it to the entry's TTL); ARGV[4] '1' to skip
-- the entry and only read the generations (a ticket for an overwrite); ARGV[5] the pending TTL in ms.
-- Header generations are read without being declared in KEYS: fine on a single Redis, not on Cluster.
local entry = ARGV[4] ~= '1' and redis.call('GET', KEYS[1])
if entry then
  local newline = string.find(entry, '\n', 1, true)
  if newline then
    local names, tokens = {}, {}
    for name, token in string.gmatch(string.sub(entry, 1, newline - 1), '([^\t]+)\t([^\t]+)') do
      names[#names + 1] = name
      tokens[#tokens + 1] = token
    end
    local valid = #names > 0
    if valid then
      local current = mget(names, 1, #names)
      for i = 1, #names do
        if current[i] ~= tokens[i] then
          valid = false
          break
        end
      end
    end
    if valid then
      return {1, string.sub(entry, newline + 1)}
    end
  end
end

local ngens = tonumber(ARGV[1])
local values = mget(KEYS, 2, ngens + 1)
for i = 1, ngens do
  if not values[i] then
    if i == 1 then
      redis.call('SET', KEYS[i + 1], ARGV[2])  -- the epoch never expires: losing it would empty the whole cache
    else
      redis.call('SET', KEYS[i + 1], ARGV[2], 'PX', ARGV[3])
    end
    values[i] = ARGV[2]
  end
end
-- Missing write clocks are created too: a guard read as "absent" would still match after a bumped clock was
-- evicted, and let a racing fill store.
local now = nil
for i = ngens + 2, #KEYS do
  local token = redis.call('HGET', KEYS[i], 't')
  if not token then
    now = now or now_ms()
    ensure_clock(KEYS[i], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[5]), now)
    token = redis.call('HGET', KEYS[i], 't')
  end
  values[#values + 1] = token
end
return {0, values}
