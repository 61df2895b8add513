-- Drop from the given fields (ARGV: rows) of a tag hash (KEYS[1]) the entries that no longer exist or have expired,
-- and the fields left empty: after a glob clear deleted entries, their rows' fields would otherwise name them until
-- they expire. An entry stored meanwhile exists, so it stays listed: a tag is never lost.
local now = now_ms()
for _, row in ipairs(ARGV) do
  local items = redis.call('HGET', KEYS[1], row)
  if items then
    local kept = {}
    for entry, at in pairs(tag_entries(items)) do
      if at > now and redis.call('EXISTS', entry) == 1 then
        kept[#kept + 1] = at .. ' ' .. entry .. '\n'
      end
    end
    if #kept == 0 then
      redis.call('HDEL', KEYS[1], row)
    else
      redis.call('HSET', KEYS[1], row, table.concat(kept))
    end
  end
end
return 1
