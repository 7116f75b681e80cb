"""The Lua scripts the index runs in Redis, so an event costs few commands.

Each command costs the client about 10 µs to pack and parse, and an event touches a dozen
blocking keys: reading them one command each, and writing them one command each, was half of
an event's ~50 commands. A script does that work inside Redis, in one command, atomically.
Every key a script touches is passed in KEYS and carries the index's one hash tag, so the
scripts run unchanged on a Redis Cluster shard (README: Redis Cluster and capacity).

`PREFETCH` ranks candidates exactly as `candidates.ranked_candidates` does (tested against it).
"""

from __future__ import annotations

__all__ = ["COMMIT_RECORD", "MERGE_CHILD", "PREFETCH", "RECORDS", "RESOLVE", "UNBLOCK"]

#: What every event reads before scoring, in one command. KEYS: the event's stored result,
#: the record count, the sequence, then `n_tf` term-frequency keys, then per blocking key its
#: bucket and its overflow (keys.Keys.block). ARGV: n_tf, candidates kept, then per blocking
#: key the members read from it (newest first; 0: none; an engine batch reads fewer where its
#: own newer records fill the window), then per blocking key its field in its bucket.
#: Returns {stored result} if the event was decided already (nothing else is done), else
#: {'', record count, this event's sequence number, {term counts}, {sequence, shared keys,
#: ...}}: the candidates, by sequence number, ranked (most shared keys, then newest) and
#: capped.
PREFETCH = """
local stored = redis.call('GET', KEYS[1])
if stored then return {stored} end
local n_tf, keep = tonumber(ARGV[1]), tonumber(ARGV[2])
local n_block = (#KEYS - 3 - n_tf) / 2
local counts, seqs = {}, {}
local function visit(m)
  local c = counts[m]
  if c then counts[m] = c + 1 else counts[m] = 1; seqs[#seqs + 1] = m end
end
for i = 1, n_block do
  local cap = tonumber(ARGV[2 + i])
  if cap > 0 then
    local inline = redis.call('HGET', KEYS[2 + n_tf + 2 * i], ARGV[2 + n_block + i])
    if inline then
      local members = {}
      for m in string.gmatch(inline, '%d+') do members[#members + 1] = tonumber(m) end
      table.sort(members)
      for j = #members, math.max(1, #members - cap + 1), -1 do visit(members[j]) end
    else
      local page = redis.call('ZREVRANGE', KEYS[3 + n_tf + 2 * i], 0, cap - 1)
      for j = 1, #page do visit(tonumber(page[j])) end
    end
  end
end
-- Ranked by shared keys, then newest: grouped by count, each group sorted by Lua's own
-- comparison (a Lua comparator function costs Redis ~15% more CPU at 60k records).
local groups, most = {}, 0
for i = 1, #seqs do
  local m = seqs[i]
  local c = counts[m]
  local group = groups[c]
  if group then group[#group + 1] = m else groups[c] = {m}; most = math.max(most, c) end
end
local ranked, left = {}, keep
for c = most, 1, -1 do
  local group = groups[c]
  if left <= 0 then break end
  if group then
    table.sort(group)
    local last = math.max(1, #group - left + 1)
    for j = #group, last, -1 do
      ranked[#ranked + 1] = group[j]
      ranked[#ranked + 1] = c
    end
    left = left - (#group - last + 1)
  end
end
local tf = {}
for i = 1, n_tf do tf[i] = redis.call('GET', KEYS[3 + i]) or '0' end
return {'', redis.call('GET', KEYS[2]) or '0', redis.call('INCR', KEYS[3]), tf, ranked}
"""

#: Records by sequence number (PREFETCH's candidates), in one command. KEYS: the bucket of
#: each (keys.Keys.record); ARGV: their fields (the sequence numbers), in the same order.
#: Returns the stored records ('' for none: deleted since).
RECORDS = """
local out = {}
for i = 1, #ARGV do out[i] = redis.call('HGET', KEYS[i], ARGV[i]) or '' end
return out
"""

#: The child that now stands for each child id, following merges. KEYS: the redirect hash.
#: ARGV: child ids. Returns the current child of each, in order (at most 64 hops).
RESOLVE = """
local out = {}
for i, cid in ipairs(ARGV) do
  local cur, hops = cid, 0
  while hops < 64 do
    local nxt = redis.call('HGET', KEYS[1], cur)
    if not nxt then break end
    cur, hops = nxt, hops + 1
  end
  out[i] = cur
end
return out
"""

#: One event's record and what it changes, in one command (queued in the commit's MULTI after
#: any merge the event makes, and before its review item). KEYS: [1] the record's bucket
#: (keys.Keys.record), [2] the child (keys.Keys.child), [3] its agency record's bucket
#: (keys.Keys.agency_record), [4] the overflow of the agency record's own blocking key
#: (blocking.record_key: its members are the agency record's events, which a correction
#: replaces, so it is never trimmed), [5] the event's stored result, [6] the dashboard
#: bucket, [7] the recent scores, then per blocking key its bucket and overflow, then the
#: record count and the term-frequency keys.
#: ARGV: [1] member, [2] sequence (the record's field in its bucket), [3] n_block, [4]
#: members kept per overflowing blocking key (0: no trim), [5] the sealed record, [6] '1' for
#: a new child, [7] the agency record's field in its bucket, [8] the child id, [9] agency id,
#: [10] agency kind, [11] practitioner id, [12] practitioner JSON, [13] '1' if the event is
#: shielded, [14] the stored result, [15] its expiry in ms or 0, [16] the outcome ('' counts
#: nothing), [17] the bucket's expiry in s, [18] the best candidate's score ('' none), [19]
#: scores kept, [20] the longest inline value of a blocking key, then per blocking key its
#: field.
COMMIT_RECORD = """
local member, seq, n_block, keep = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local inline_max = tonumber(ARGV[20])
if ARGV[6] == '1' then redis.call('HSET', KEYS[2], 'created', seq, 'shielded', '0') end
redis.call('HSET', KEYS[1], seq, ARGV[5])
for i = 1, n_block do
  local bucket, over, field = KEYS[6 + 2 * i], KEYS[7 + 2 * i], ARGV[20 + i]
  local inline = redis.call('HGET', bucket, field)
  if inline then
    inline = inline .. ',' .. seq
    if #inline > inline_max then
      local args = {}
      for m in string.gmatch(inline, '%d+') do
        args[#args + 1] = m
        args[#args + 1] = m
      end
      redis.call('ZADD', over, unpack(args))
      redis.call('HDEL', bucket, field)
    else
      redis.call('HSET', bucket, field, inline)
    end
  elseif redis.call('EXISTS', over) == 1 then
    redis.call('ZADD', over, seq, seq)
    if keep > 0 and over ~= KEYS[4] then redis.call('ZREMRANGEBYRANK', over, 0, -keep - 1) end
  else
    redis.call('HSET', bucket, field, seq)
  end
end
for i = 8 + 2 * n_block, #KEYS do redis.call('INCR', KEYS[i]) end
redis.call('HSET', KEYS[2], 'r:' .. member, seq, 'a:' .. ARGV[9], ARGV[10],
           'p:' .. ARGV[11], ARGV[12])
redis.call('HSETNX', KEYS[3], ARGV[7], ARGV[8])
if ARGV[13] == '1' then redis.call('HSET', KEYS[2], 'shielded', '1') end
if tonumber(ARGV[15]) > 0 then
  redis.call('SET', KEYS[5], ARGV[14], 'PX', ARGV[15])
else
  redis.call('SET', KEYS[5], ARGV[14])
end
if ARGV[16] ~= '' then
  redis.call('HINCRBY', KEYS[6], ARGV[16], 1)
  redis.call('EXPIRE', KEYS[6], ARGV[17])
  redis.call('LPUSH', KEYS[7], ARGV[18])
  redis.call('LTRIM', KEYS[7], 0, tonumber(ARGV[19]) - 1)
end
return n_block
"""

#: A record taken out of the blocking index and deleted (a correction supersedes it, or its
#: child is forgotten). KEYS: the record's bucket (keys.Keys.record), then per blocking key
#: its bucket and overflow. ARGV: its sequence number, then per blocking key its field.
UNBLOCK = """
local seq = ARGV[1]
redis.call('HDEL', KEYS[1], seq)
for i = 1, (#KEYS - 1) / 2 do
  local bucket, over, field = KEYS[2 * i], KEYS[2 * i + 1], ARGV[1 + i]
  local inline = redis.call('HGET', bucket, field)
  if inline then
    local kept = {}
    for m in string.gmatch(inline, '%d+') do
      if m ~= seq then kept[#kept + 1] = m end
    end
    if #kept > 0 then
      redis.call('HSET', bucket, field, table.concat(kept, ','))
    else
      redis.call('HDEL', bucket, field)
    end
  else
    redis.call('ZREM', over, seq)
  end
end
return 1
"""

#: Everything of one child moved onto another, read and written inside Redis, so a merge
#: queued in a transaction sees what the transaction wrote before it (an engine batch links
#: events to a child and merges it in one MULTI). KEYS: the winner's child hash and
#: cannot-link set, the loser's two, the redirect hash. ARGV: loser id, winner id.
#: The loser's agencies, practitioners and records (keys.Keys.child's prefixed fields) are
#: set on the winner, and its shielding carried over; the winner keeps its own creation.
MERGE_CHILD = """
local fields = redis.call('HGETALL', KEYS[3])
for i = 1, #fields, 2 do
  local name, value = fields[i], fields[i + 1]
  local head = string.sub(name, 1, 2)
  if head == 'a:' or head == 'p:' or head == 'r:' or (name == 'shielded' and value == '1') then
    redis.call('HSET', KEYS[1], name, value)
  end
end
redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[4])
redis.call('HSET', KEYS[5], ARGV[1], ARGV[2])
redis.call('DEL', KEYS[3], KEYS[4])
return 1
"""
