"""The Lua scripts the index runs in Redis, so an event costs few commands.

Each command costs the client about 10 µs to pack and parse, and an event touches a dozen
blocking keys: reading them one command each, and writing them one command each, was half of
an event's ~50 commands. A script does that work inside Redis, in one command, atomically.
Every key a script touches is passed in KEYS and carries the index's one hash tag, so the
scripts run unchanged on a Redis Cluster shard (README: Redis Cluster and capacity).

`PREFETCH` ranks candidates exactly as `candidates.ranked_candidates` does (tested against it).
"""

from __future__ import annotations

__all__ = ["INDEX_RECORD", "PREFETCH", "RESOLVE"]

#: What every event reads before scoring, in one command. KEYS: the event's stored result,
#: the record count, the sequence, then `n_tf` term-frequency keys, then the blocking keys.
#: ARGV: n_tf, members read per blocking key (newest first), candidates kept.
#: Returns {stored result} if the event was decided already (nothing else is done), else
#: {'', record count, this event's sequence number, {term counts}, {candidate members}}.
PREFETCH = """
local stored = redis.call('GET', KEYS[1])
if stored then return {stored} end
local n_tf, cap, keep = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local counts, order, ids = {}, {}, {}
for i = 4 + n_tf, #KEYS do
  for _, m in ipairs(redis.call('ZREVRANGE', KEYS[i], 0, cap - 1)) do
    local c = counts[m]
    if c then
      counts[m] = c + 1
    else
      counts[m] = 1
      ids[#ids + 1] = m
      order[m] = #ids
    end
  end
end
if #ids > keep then
  table.sort(ids, function(a, b)
    if counts[a] ~= counts[b] then return counts[a] > counts[b] end
    return order[a] < order[b]
  end)
  for i = #ids, keep + 1, -1 do ids[i] = nil end
end
local tf = {}
for i = 1, n_tf do tf[i] = redis.call('GET', KEYS[3 + i]) or '0' end
return {'', redis.call('GET', KEYS[2]) or '0', redis.call('INCR', KEYS[3]), tf, ids}
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

#: A new record into the blocking index and the term counts. KEYS: `n_block` blocking keys,
#: then the record count and the term-frequency keys. ARGV: member, sequence, n_block, and
#: the number of members to keep per blocking key or 0 (no trim this time).
INDEX_RECORD = """
local n_block, keep = tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 1, n_block do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[1])
  if keep > 0 then redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -keep - 1) end
end
for i = n_block + 1, #KEYS do redis.call('INCR', KEYS[i]) end
return n_block
"""
