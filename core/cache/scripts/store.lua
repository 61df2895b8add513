-- Write an entry atomically with its header. Nothing is written when a generation the ticket read changed since
-- the lookup, or (guarded) when a write clock says that something the entry shows was written meanwhile: its token
-- changed (a write of the whole model, or a clock re-created after eviction), a pending write (begun, not yet
-- settled after its commit) covers the whole model or one of the entry's families, or a write of known rows
-- stamped one of them after the ticket (clock.lua). The value may predate that write, so it must never be served.
-- A ticket older than the pending TTL is refused: a write that began meanwhile and never settled has let its mark
-- expire.
-- Every generation and clock the entry lists is made to live at least as long as the entry (never shortened):
-- a key a read created goes when the last entry that needs it goes. The entry is added to the tag field of every row
-- it shows (a write of the row deletes the entries its field lists; clock.lua), and a few random fields whose
-- entries have all expired leave each tag hash it touches.
-- KEYS[1] entry; then ndeps generations from the ticket, nguards write clocks, their nguards stamp hashes, the
-- extra generations, and ntags tag hashes (last; one per row shown, so a hash may repeat).
-- ARGV[1] ndeps; ARGV[2] nguards; ARGV[3] payload; ARGV[4] entry TTL ms; ARGV[5] fresh token for missing extra
-- generations; ARGV[6] ntags; ARGV[7] the length (bytes) above which a tag field drops its expired entries; ARGV[8]
-- the pending TTL ms; ARGV[9] nfamilies; ARGV[10 ..] the ticket's tokens for the deps, then its clock values for the
-- guards ("<token> <counter> <ms>"), then the ntags rows (the fields in the tag hashes, in order), then the
-- nfamilies families the entry lists (generations and tags).
local ndeps, nguards, ntags = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[6])
local pending_ms, nfamilies = tonumber(ARGV[8]), tonumber(ARGV[9])
local ttl = ARGV[4]
if ndeps > 0 then
  local current = mget(KEYS, 2, ndeps + 1)
  for i = 1, ndeps do
    if current[i] ~= ARGV[9 + i] then
      return 0
    end
  end
end
if nguards > 0 then
  local now = now_ms()
  local shown, names = {}, {}
  for i = #ARGV - nfamilies + 1, #ARGV do
    shown[ARGV[i]] = true
    names[#names + 1] = 'f:' .. ARGV[i]
  end
  for i = 1, nguards do
    local clock, stamps = KEYS[ndeps + 1 + i], KEYS[ndeps + 1 + nguards + i]
    local token, n, at = string.match(ARGV[9 + ndeps + i], '^(%S+) (%d+) (%d+)$')
    if not token or redis.call('HGET', clock, 't') ~= token or now - tonumber(at) > pending_ms then
      return 0
    end
    if blocked(clock, now, shown) then
      return 0
    end
    if tonumber(redis.call('HGET', clock, 'n') or '0') > tonumber(n) then
      -- Written since the ticket: by something this entry shows?
      local since = redis.call('HGET', stamps, 'since')
      if not since or tonumber(since) > tonumber(n) then
        return 0  -- stamps from before the ticket may have gone with an evicted hash
      end
      if #names > 0 then
        for _, value in ipairs(redis.call('HMGET', stamps, unpack(names))) do
          if value and tonumber(string.match(value, '^(%d+)')) > tonumber(n) then
            return 0
          end
        end
      end
    end
  end
end

local header = {}
for i = 1, ndeps do
  header[#header + 1] = KEYS[i + 1]
  header[#header + 1] = ARGV[9 + i]
end
local first_extra = ndeps + 2 * nguards + 2
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
  if i <= ndeps + nguards + 1 or i >= first_extra then  -- stamp hashes keep their own lifetime
    redis.call('PEXPIRE', KEYS[i], ttl, 'GT')  -- a key without a TTL (the epoch) counts as infinite: left alone
  end
end
redis.call('SET', KEYS[1], table.concat(header, '\t') .. '\n' .. ARGV[3], 'PX', ttl)
local prune_bytes, now = tonumber(ARGV[7]), now_ms()
local expiry, first_row, swept = now + tonumber(ttl), #ARGV - nfamilies - ntags, {}
for i = last_extra + 1, #KEYS do
  local tag = KEYS[i]
  add_tag(tag, ARGV[first_row + i - last_extra], KEYS[1], expiry, tonumber(ttl), now, prune_bytes)
  if not swept[tag] then
    swept[tag] = true
    sweep_tag(tag, 2, now)
  end
end
return 1
