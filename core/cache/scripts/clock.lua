-- Shared by the scripts that touch write clocks (prepended when they are loaded).
-- A model's write clock is one hash: field 't' holds its token (new when the clock is created, and at every write
-- of the whole model: a bulk write, a manual invalidation), 'n' a counter every write of the model increments, 'e'
-- Redis's evicted-keys count at the model's last write that emptied tag fields (write.lua), and every other field a
-- pending write's mark: its expiry (ms, server clock), followed by the families it moves for a write of known rows
-- ("<expiry>\t<family>\t..."); a mark without families holds off every fill of the model. Eviction can only take
-- the token and the marks together. A missing clock is created with a fresh token and, if Redis has evicted any
-- key since it started, a blanket mark '~' for the pending TTL: a write's mark may have gone with the evicted clock,
-- and no guarded fill may be stored until it would have expired.
-- Next to it, the model's stamps (`_s:<label>`, a hash): for each family a write of known rows moved,
-- "f:<family>" = "<n> <ms>", the clock's counter and the server time of that write; 'since' the counter when the
-- hash was created (a fill whose ticket is older cannot trust it: stamps may have gone with an evicted hash); 'p'
-- its size after the last prune. A guarded fill is refused only if something it shows was written meanwhile.
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
  return field ~= 't' and field ~= 'e' and field ~= 'n'
end

-- A mark's expiry, and the set of families it covers (nil: the whole model).
local function parse_mark(value)
  local tab = string.find(value, '\t', 1, true)
  if not tab then
    return tonumber(value), nil
  end
  local families = {}
  for family in string.gmatch(string.sub(value, tab + 1), '[^\t]+') do
    families[family] = true
  end
  return tonumber(string.sub(value, 1, tab - 1)), families
end

-- True while an unexpired mark covers the whole model or one of the families in `shown` (a set).
local function blocked(key, now, shown)
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    if is_mark(fields[i]) then
      local expiry, families = parse_mark(fields[i + 1])
      if expiry > now then
        if families == nil then
          return true
        end
        for family in pairs(families) do
          if shown[family] then
            return true
          end
        end
      end
    end
  end
  return false
end

-- Record that a write (counter n) moved these families, and drop stamps older than keep_ms once the hash has
-- doubled since its last prune (so a write costs O(1) amortised). No ticket older than the pending TTL is stored,
-- and keep_ms is twice that.
local function stamp(key, families, n, now, keep_ms)
  if redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, 'since', n, 'p', 0)
  end
  local value = n .. ' ' .. now
  for _, family in ipairs(families) do
    redis.call('HSET', key, 'f:' .. family, value)
  end
  if redis.call('HLEN', key) > 2 * tonumber(redis.call('HGET', key, 'p') or '0') + 64 then
    local fields = redis.call('HGETALL', key)
    for i = 1, #fields, 2 do
      if string.sub(fields[i], 1, 2) == 'f:' then
        local at = tonumber(string.match(fields[i + 1], ' (%d+)$'))
        if at < now - keep_ms then
          redis.call('HDEL', key, fields[i])
        end
      end
    end
    redis.call('HSET', key, 'p', redis.call('HLEN', key))
  end
  redis.call('PEXPIRE', key, keep_ms)
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

-- Drop expired marks (a write that never settled), keeping the token and the blanket while it holds.
local function drop_expired(key, now)
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    if is_mark(fields[i]) and parse_mark(fields[i + 1]) <= now then
      redis.call('HDEL', key, fields[i])
    end
  end
end

-- A model's tag hash (`_t:<label>`) has one field per row that live entries show: "<expiry ms> <entry>\n" for each
-- entry stored while showing the row (its expiry on the server's clock). A write of the row deletes those entries
-- and the field (empty_tag); a store adds its entry to the fields of the rows it shows (add_tag).

-- The entries a field lists, each with its latest expiry.
local function tag_entries(items)
  local entries = {}
  for expiry, entry in string.gmatch(items, '(%d+) ([^\n]+)\n') do
    local at = tonumber(expiry)
    if not entries[entry] or entries[entry] < at then
      entries[entry] = at
    end
  end
  return entries
end

-- Delete the entries a row's field names, and the field.
local function empty_tag(tag, row)
  local items = redis.call('HGET', tag, row)
  if not items then
    return
  end
  local names = {}
  for entry in pairs(tag_entries(items)) do
    names[#names + 1] = entry
  end
  for start = 1, #names, 1000 do
    redis.call('UNLINK', unpack(names, start, math.min(start + 999, #names)))
  end
  redis.call('HDEL', tag, row)
end

-- The items of a field without the expired entries and without `skip` (and one item per entry); '' when none is
-- left.
local function live_items(items, now, skip)
  local kept = {}
  for entry, at in pairs(tag_entries(items)) do
    if at > now and entry ~= skip then
      kept[#kept + 1] = at .. ' ' .. entry .. '\n'
    end
  end
  return table.concat(kept)
end

-- A field without its leading expired items. Items are appended as entries are stored, so the oldest lead: each
-- item is parsed here once, when it goes, whatever the length of the field behind it.
local function drop_expired_head(items, now)
  local from = 1
  while true do
    local expiry, after = string.match(items, '^(%d+) [^\n]*\n()', from)
    if not expiry or tonumber(expiry) > now then
      break
    end
    from = after
  end
  return from > 1 and string.sub(items, from) or items
end

-- Whether a field growing from `before` to `after` bytes passes prune_bytes or a doubling of it (2x, 4x, ...): a
-- field is parsed whole once per doubling of its length, so adding to a long field costs no parse.
local function passes_a_doubling(before, after, prune_bytes)
  if after <= prune_bytes then
    return false
  end
  if before <= prune_bytes then
    return true
  end
  local doublings = function(length) return math.floor(math.log(length / prune_bytes) / math.log(2)) end
  return doublings(after) > doublings(before)
end

-- Add `entry` (expiring at `expiry`) to a row's field. An entry listed already (stored again after a refill) has
-- its item replaced, so a field holds one item per entry. Expired items at the head of the field go at once; the
-- whole field is parsed (every expired item dropped) when its length passes prune_bytes or a doubling of it, so an
-- item behind a long-lived one is dropped too. The hash lives as long as its longest entry (never shortened).
local function add_tag(tag, row, entry, expiry, ttl_ms, now, prune_bytes)
  local items = redis.call('HGET', tag, row) or ''
  local at = string.find(items, ' ' .. entry .. '\n', 1, true)
  local start = at
  while start and start > 1 and string.sub(items, start - 1, start - 1) ~= '\n' do
    start = start - 1
  end
  if at and string.match(string.sub(items, start, at - 1), '^%d+$') then
    items = string.sub(items, 1, start - 1) .. string.sub(items, at + #entry + 2)
  elseif at then
    items = live_items(items, now, entry)  -- (a match inside another item: the whole field parsed)
  end
  items = drop_expired_head(items, now)
  local item = expiry .. ' ' .. entry .. '\n'
  if passes_a_doubling(#items, #items + #item, prune_bytes) then
    items = live_items(items, now, entry)
  end
  redis.call('HSET', tag, row, items .. item)
  if redis.call('PTTL', tag) < ttl_ms then  -- a new hash has none (-1)
    redis.call('PEXPIRE', tag, ttl_ms)
  end
end

-- The expiry of a field's last item (the latest stored), nil for an empty field.
local function last_expiry(items)
  local start = #items - 1
  while start > 0 and string.byte(items, start) ~= 10 do
    start = start - 1
  end
  return tonumber(string.match(items, '^(%d+) ', start + 1))
end

-- Drop the fields of `count` random rows whose entries have all expired: rows no live entry shows any more leave
-- the hash at about the rate stores add them, so a busy model's hash does not grow with every row ever shown. A
-- field whose latest item is live is kept without parsing it.
local function sweep_tag(tag, count, now)
  local sample = redis.call('HRANDFIELD', tag, count, 'WITHVALUES')
  for i = 1, #sample, 2 do
    local items = sample[i + 1]
    if not ((last_expiry(items) or 0) > now) and live_items(items, now) == '' then
      redis.call('HDEL', tag, sample[i])
    end
  end
end

local function mget(keys, first, last)
  local values = {}
  for start = first, last, 1000 do
    local chunk = redis.call('MGET', unpack(keys, start, math.min(start + 999, last)))
    for i = 1, #chunk do values[#values + 1] = chunk[i] end
  end
  return values
end
