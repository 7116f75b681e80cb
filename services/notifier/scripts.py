"""The one place for the notifier's atomic Redis updates: Lua scripts with their contracts.

Each script runs whole or not at all, so a crash never leaves an inbox entry without its
delivery record, a delivered channel without its mark, or an acknowledgement with its
escalation still scheduled. Every key a script touches shares the hash tag {prefix}.
"""

from __future__ import annotations

__all__ = ["ACCEPT", "ACKNOWLEDGE", "CLAIM", "COMPLETE"]

#: Accept one alert for one recipient, once: fold it into an earlier one, or store it and
#: schedule its jobs.
#: KEYS[1] alert JSON (STRING)          KEYS[2] the recipient's inbox (ZSET)
#: KEYS[3] delivery record (HASH)       KEYS[4] fold slot (STRING "<alert id> <created unix s>")
#: KEYS[5] the recipient's repeats (HASH)  KEYS[6] job schedule (ZSET)
#: ARGV[1] alert id  ARGV[2] alert JSON  ARGV[3] created_at unix s  ARGV[4] fold window s
#: (0 = never)  ARGV[5] fold slot TTL ms  ARGV[6] now unix s
#: then per job, three ARGVs: channel, job member, due unix s.
#: Returns {status, shown}: status "new" (stored, jobs scheduled), "folded" (the recipient
#: sees `shown` instead), or "seen" (accepted before: a replay; nothing changed).
ACCEPT = """
if redis.call('EXISTS', KEYS[3]) == 1 then
  return {'seen', redis.call('HGET', KEYS[3], 'shown')}
end
local window = tonumber(ARGV[4])
local created = tonumber(ARGV[3])
if window > 0 then
  local slot = redis.call('GET', KEYS[4])
  if slot then
    local into, first = string.match(slot, '^(%S+) (%S+)$')
    if into ~= ARGV[1] and math.abs(created - tonumber(first)) <= window then
      redis.call('HSET', KEYS[3], 'state', 'folded', 'shown', into, 'accepted', ARGV[6])
      redis.call('HINCRBY', KEYS[5], into, 1)
      return {'folded', into}
    end
  end
  redis.call('SET', KEYS[4], ARGV[1] .. ' ' .. ARGV[3], 'PX', ARGV[5])
end
redis.call('SET', KEYS[1], ARGV[2], 'NX')
redis.call('ZADD', KEYS[2], 'NX', created, ARGV[1])
redis.call('HSET', KEYS[3], 'state', 'new', 'shown', ARGV[1], 'accepted', ARGV[6])
for i = 7, #ARGV, 3 do
  redis.call('HSET', KEYS[3], ARGV[i], 'pending')
  redis.call('ZADD', KEYS[6], 'NX', ARGV[i + 2], ARGV[i + 1])
end
return {'new', ARGV[1]}
"""

#: Claim the jobs that are due, hiding each until its claim lapses (a crashed worker's job
#: comes back then).
#: KEYS[1] job schedule (ZSET)
#: ARGV[1] now unix s  ARGV[2] claim lapses at, unix s  ARGV[3] most jobs to claim
#: Returns the claimed job members.
CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, job in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[2], job)
end
return due
"""

#: Finish a job: its channel's state and time in the delivery record, and out of the schedule,
#: in one step, so a crash cannot leave a delivered alert scheduled to be sent again.
#: KEYS[1] delivery record (HASH)  KEYS[2] job schedule (ZSET)
#: ARGV[1] channel  ARGV[2] final state  ARGV[3] job member  ARGV[4] ISO time
#: Returns 1 if this call finished it, 0 if it was finished already (a lapsed claim's twin).
COMPLETE = """
if redis.call('ZREM', KEYS[2], ARGV[3]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], ARGV[1] .. ':at', ARGV[4])
return 1
"""

#: Acknowledge an alert for one recipient; the first acknowledgement wins and stops escalation.
#: KEYS[1] the recipient's acks (HASH)  KEYS[2] delivery record (HASH)  KEYS[3] schedule (ZSET)
#: ARGV[1] alert id  ARGV[2] ISO time  ARGV[3] escalation job member
#: Returns 1 for the first acknowledgement, 0 for a repeat.
ACKNOWLEDGE = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
if redis.call('ZREM', KEYS[3], ARGV[3]) == 1 then
  redis.call('HSET', KEYS[2], 'escalate', 'acknowledged', 'escalate:at', ARGV[2])
end
return 1
"""
