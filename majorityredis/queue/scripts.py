"""Lua scripts of the LockingQueue, one per step; each runs atomically on one node.

Keys of a queue named Q on every node (see majorityredis.queue.plan.QueueKeys)::

    mr:q:Q:items       hash   item id -> payload
    mr:q:Q:order       zset   item id, score = -priority (equal scores sort by id = put time)
    mr:q:Q:hold:<id>   string the holder's random value, PX = the hold's ttl
    mr:q:Q:done:<id>   string completed marker, PX = the queue's retention
    mr:q:Q:fence       int    fencing counter (Message.token)

`items` and `order` are always changed together, so an id is in both or in
neither. SCAN_AVAILABLE reads hold/done keys it derives from the prefix it
is given (standalone Redis allows undeclared keys; Redis Cluster does not —
this library talks to independent servers, never to a cluster). Every other
script declares all its keys.
"""

from __future__ import annotations

from majorityredis.admission import TIME_ADMISSION_LUA
from majorityredis.scripts import Script

PUT = Script("queue_put", """\
-- Store a new item on this node (unless it was already completed here).
-- KEYS[1]: items hash   KEYS[2]: order zset   KEYS[3]: done marker of this id
-- ARGV[1]: item id   ARGV[2]: payload   ARGV[3]: score (= -priority)
-- Returns 1 stored, 2 not stored because the id is already completed here: a consumer got the
-- item from a node this put reached first and consumed it before this node was reached (ids are
-- unique per put, so that is this very item; the put counts as stored).
if redis.call('EXISTS', KEYS[3]) == 1 then
  return 2
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
""")

SCAN_AVAILABLE = Script("queue_scan_available", """\
-- The first ids in queue order that nobody holds or completed on this node, and the held ids
-- met before them (so the caller can tell an item held elsewhere from one that is free).
-- KEYS[1]: order zset
-- ARGV[1]: key prefix 'mr:q:<name>:' (hold and done keys are prefix..'hold:'..id / prefix..'done:'..id)
-- ARGV[2]: how many free ids to return at most   ARGV[3]: how many order entries to examine at most
-- ARGV[4]: how many held ids to report at most
-- Returns a flat array {id1, score1, free1, id2, score2, free2, ...} in queue order (scores as
-- strings; free = 1 nobody holds it here, 0 held here).
-- Housekeeping: an id found with a done marker is removed from items and order here.
local prefix, want, limit, report = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local items = prefix .. 'items'
local out, free, held, start, examined, batch = {}, 0, 0, 0, 0, 64
while free < want and examined < limit do
  local page = redis.call('ZRANGE', KEYS[1], start, start + batch - 1, 'WITHSCORES')
  if #page == 0 then break end
  local removed = 0
  for i = 1, #page, 2 do
    local id = page[i]
    examined = examined + 1
    if redis.call('EXISTS', prefix .. 'done:' .. id) == 1 then
      redis.call('HDEL', items, id)
      redis.call('ZREM', KEYS[1], id)
      removed = removed + 1
    elseif redis.call('EXISTS', prefix .. 'hold:' .. id) == 0 then
      out[#out + 1] = id
      out[#out + 1] = page[i + 1]
      out[#out + 1] = 1
      free = free + 1
      if free >= want then break end
    elseif held < report then
      out[#out + 1] = id
      out[#out + 1] = page[i + 1]
      out[#out + 1] = 0
      held = held + 1
    end
  end
  start = start + batch - removed
end
return out
""")

GRANT = Script("queue_grant", """\
-- Hold one item on this node for a new holder, if nobody holds it and it is not completed.
-- KEYS[1]: items hash   KEYS[2]: order zset   KEYS[3]: hold key of the id   KEYS[4]: done marker
-- KEYS[5]: fence counter
-- ARGV[1]: item id   ARGV[2]: the holder's random value   ARGV[3]: hold ttl in ms
-- ARGV[4]: the largest payload (bytes) the caller can fetch in time; 0 = no limit
-- ARGV[5]: max_ttl in ms (0: recovery off)
-- Returns {1, fence, payload} granted, {1, fence} granted but this node lacks the item (the
-- caller heals it), {0} held by someone else, {-1} completed here (stale copies are removed),
-- {-2, size} not granted: the payload is larger than ARGV[4] (the caller skips the item),
-- 'ABSTAIN' (nothing changed) while the node is not admitted (majorityredis.admission).
""" + TIME_ADMISSION_LUA + """\
if mr_abstains(ARGV[5]) then
  return 'ABSTAIN'
end
if redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {-1}
end
local limit = tonumber(ARGV[4] or '0')
if limit > 0 then
  local size = redis.call('HSTRLEN', KEYS[1], ARGV[1])
  if size > limit then
    return {-2, size}
  end
end
if not redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[3]) then
  return {0}
end
local fence = redis.call('INCR', KEYS[5])
local payload = redis.call('HGET', KEYS[1], ARGV[1])
if payload then
  return {1, fence, payload}
end
return {1, fence}
""")

RAISE_FENCE = Script("queue_raise_fence", """\
-- Raise this node's fencing counter to at least a given value (never lowers it).
-- KEYS[1]: fence counter   ARGV[1]: the value
-- Returns the counter after the call.
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if current < wanted then
  redis.call('SET', KEYS[1], ARGV[1])
  return wanted
end
return current
""")

HEAL = Script("queue_heal", """\
-- Re-create an item and its hold on a node that lost them (restarted empty, missed the put).
-- KEYS[1]: items hash   KEYS[2]: order zset   KEYS[3]: hold key of the id   KEYS[4]: done marker
-- ARGV[1]: item id   ARGV[2]: payload   ARGV[3]: score   ARGV[4]: holder value   ARGV[5]: hold ttl ms
-- Returns 1 healed (item present, hold ours), 0 refused: completed here or held by someone else.
if redis.call('EXISTS', KEYS[4]) == 1 then
  return 0
end
local holder = redis.call('GET', KEYS[3])
if holder and holder ~= ARGV[4] then
  return 0
end
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[1])
if not holder then
  redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5])
end
return 1
""")

EXTEND = Script("queue_extend", """\
-- Renew this holder's hold on one item on this node.
-- KEYS[1]: items hash   KEYS[2]: hold key of the id   KEYS[3]: done marker
-- ARGV[1]: item id   ARGV[2]: holder value   ARGV[3]: new ttl in ms
-- ARGV[4]: '1' when the caller's hold is still valid (on a quorum): take the hold here too if nobody holds it
-- ARGV[5]: max_ttl in ms (0: recovery off); 'ABSTAIN' (nothing changed) while the node is not admitted
-- Returns 1 renewed, 2 renewed but the item is missing here (heal it), 4 taken here (ARGV[4] = '1',
-- nobody held it: the get's grant never reached this node, or it lost it), 5 taken here but the
-- item is missing (heal it), 3 no hold here (nothing changed; heal it if the hold is kept
-- elsewhere), 0 held by someone else, -1 no hold and the item is completed here.
""" + TIME_ADMISSION_LUA + """\
if mr_abstains(ARGV[5]) then
  return 'ABSTAIN'
end
local holder = redis.call('GET', KEYS[2])
if holder == ARGV[2] then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then
    return 1
  end
  return 2
end
if holder then
  return 0
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  return -1
end
if ARGV[4] ~= '1' then
  return 3
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return 4
end
return 5
""")

CONSUME = Script("queue_consume", """\
-- Complete an item on this node if this holder holds it here.
-- KEYS[1]: items hash   KEYS[2]: order zset   KEYS[3]: hold key of the id   KEYS[4]: done marker
-- ARGV[1]: item id   ARGV[2]: holder value   ARGV[3]: retention in ms
-- ARGV[4]: '1' when the caller's hold is still valid (on a quorum): complete here too if nobody holds it
-- Returns 1 completed (item removed, marker = holder value set for the retention, hold deleted;
-- also when this holder already completed it here: a retried consume counts this node again),
-- 2 completed here without a hold (ARGV[4] = '1': the get's grant never reached this node, or it
-- lost it; a marker already here is kept), 3 no hold here (nothing changed), 0 held by someone
-- else (nothing changed).
local holder = redis.call('GET', KEYS[3])
if holder == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[3])
  return 1
end
if holder then
  return 0
end
local marker = redis.call('GET', KEYS[4])
if marker == ARGV[2] then
  return 1
end
if ARGV[4] == '1' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  if not marker then
    redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[3])
  end
  return 2
end
return 3
""")

COMPLETE = Script("queue_complete", """\
-- Mark an item completed on this node without a hold check on the item itself: used to heal
-- a node after a successful consume, and to purge a stale copy once a completed marker was seen.
-- KEYS[1]: items hash   KEYS[2]: order zset   KEYS[3]: hold key of the id   KEYS[4]: done marker
-- ARGV[1]: item id   ARGV[2]: the caller's holder value ('' = none)   ARGV[3]: retention in ms
-- Returns 1. Removes the item, sets the marker unless one exists (an older one keeps its expiry),
-- deletes the hold only if it is the caller's (another holder's hold simply expires).
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[3])
if ARGV[2] ~= '' and redis.call('GET', KEYS[3]) == ARGV[2] then
  redis.call('DEL', KEYS[3])
end
return 1
""")

ABANDON = Script("queue_abandon", """\
-- Delete this holder's hold on one item on this node (release, or undo of a failed get).
-- KEYS[1]: hold key of the id   ARGV[1]: holder value
-- Returns 1 deleted, 0 the hold here is not ours (absent, expired, or someone else's).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
""")

COUNT = Script("queue_count", """\
-- The items (waiting or held) this node stores, with their ids when there are few enough.
-- KEYS[1]: order zset   ARGV[1]: the most ids to return
-- Returns {count, id1, id2, ...}: the ids only when count <= ARGV[1], else just {count}.
local count = redis.call('ZCARD', KEYS[1])
if count > tonumber(ARGV[1]) then
  return {count}
end
local out = redis.call('ZRANGE', KEYS[1], 0, -1)
table.insert(out, 1, count)
return out
""")
