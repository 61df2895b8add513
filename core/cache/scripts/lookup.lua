-- One round trip for a read: serve the entry if every generation its header lists still holds the listed token;
-- otherwise return the probed generations (creating missing ones) and write clocks, so a miss needs no second trip.
-- KEYS[1] entry; KEYS[2 .. ngens+1] generations to probe (KEYS[2] is the epoch); the rest write clocks.
-- ARGV[1] ngens (unused now: every missing probe is created); ARGV[2] a fresh token for missing probes;
-- ARGV[3] generation TTL in ms;
-- ARGV[4] '1' to skip the entry and only read the generations (a ticket for an overwrite).
-- Header generations are read without being declared in KEYS: fine on a single Redis, not on Cluster.
local function mget(keys, first, last)
  local values = {}
  for start = first, last, 1000 do
    local chunk = redis.call('MGET', unpack(keys, start, math.min(start + 999, last)))
    for i = 1, #chunk do values[#values + 1] = chunk[i] end
  end
  return values
end

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

-- Missing write clocks are created too: a guard read as "absent" would still match after a bumped clock was
-- evicted, and let a racing fill store.
local values = mget(KEYS, 2, #KEYS)
for i = 1, #values do
  if not values[i] then
    if i == 1 then
      redis.call('SET', KEYS[i + 1], ARGV[2])  -- the epoch never expires: losing it would empty the whole cache
    else
      redis.call('SET', KEYS[i + 1], ARGV[2], 'PX', ARGV[3])
    end
    values[i] = ARGV[2]
  end
end
return {0, values}
