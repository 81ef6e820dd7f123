"""Admission: a node that lost its data abstains until it is safe to count it again.

Every node carries markers of the library's own. A node restarted empty (or
brand new) has none; the scripts of the Lock, the LockingQueue and the
Register check for them *inside* the script that does the work (one EXISTS
on the hot path, no extra round trip) and answer ``ABSTAIN`` instead of
doing anything. An abstention is neither a grant nor a refusal: the pure
decision functions leave it out of every quorum (see `is_abstain`).

Keys (the same on every node; independent of any lock, queue or register name)::

    mr:admitted          the node may vote for locks and queue holds (no expiry)
    mr:recovery          the recovery period: PX = max_ttl on the node's own clock
    mr:recovery:started  a recovery period was started (no expiry: tells "expired" from "never")
    mr:register-synced   the node may vote for the register (written by a resync, no expiry)

Lock and queue (time): the first script that meets a node without
``mr:admitted`` starts the recovery period (``mr:recovery`` set with PX =
max_ttl, only if absent) and abstains; a script that meets it after the
period expired writes ``mr:admitted`` and votes. Every hold granted before
the node lost its data was granted for at most max_ttl, so it has expired
by then — the delayed-restart rule, enforced by the node. Both keys live on
the node and expire by its clock: a node clock running fast shortens the
period by the same factor as it shortens holds (the drift assumption).

Register (data): a node without ``mr:register-synced`` abstains from reads and
writes until a resync copied, from a quorum of voting nodes, the newest
version of every register key (`majorityredis.register.Register.resync`).

Limit: the markers detect a node that lost *all* its data. A partial loss
(``appendfsync everysec`` losing its last second) keeps the old marker and
is not detected: use ``appendfsync always`` or no persistence at all.

``max_ttl`` of ``0`` in a script call means "recovery off": no check at all
(`MajorityRedis(recovery=False)`: the delayed-restart rule is the operator's
again). Every client of a cluster must use the same setting.
"""

from __future__ import annotations

from typing import Any

ADMITTED_KEY = "mr:admitted"
RECOVERY_KEY = "mr:recovery"
RECOVERY_STARTED_KEY = "mr:recovery:started"
SYNCED_KEY = "mr:register-synced"
ABSTAIN = b"ABSTAIN"
DEFAULT_MAX_TTL = 60.0

# A Lua function, prepended to the Lock's and the queue's scripts: true when the node must
# abstain. One EXISTS when the node is admitted (the hot path).
TIME_ADMISSION_LUA = """\
-- admission (majorityredis.admission): true when this node must abstain (lost its data, or new)
local function mr_abstains(max_ttl)
  if max_ttl == '0' or redis.call('EXISTS', 'mr:admitted') == 1 then
    return false
  end
  if redis.call('EXISTS', 'mr:recovery:started') == 0 then
    redis.call('SET', 'mr:recovery', '1', 'NX', 'PX', max_ttl)
    redis.call('SET', 'mr:recovery:started', '1')
    return true
  end
  if redis.call('EXISTS', 'mr:recovery') == 1 then
    return true
  end
  redis.call('SET', 'mr:admitted', '1')
  redis.call('DEL', 'mr:recovery:started')
  return false
end
"""

# The register's check: the node abstains until a resync marked it synced.
SYNC_ADMISSION_LUA = """\
-- admission (majorityredis.admission): true when this node must abstain (not resynchronised)
local function mr_abstains(check)
  return check ~= '0' and redis.call('EXISTS', 'mr:register-synced') == 0
end
"""


def is_abstain(reply: Any) -> bool:
    """Whether a script reply is an abstention (the node lost its data and is not yet safe)."""
    return bool(reply == ABSTAIN or reply == "ABSTAIN")


def max_ttl_ms(max_ttl: float | None) -> int:
    """The ARGV the scripts get: max_ttl in ms, 0 when recovery is off (None)."""
    return 0 if max_ttl is None else max(1, int(max_ttl * 1000))


def check_hold_ttl(ttl: float, max_ttl: float | None, what: str) -> None:
    """ValueError when a hold asks for longer than the cluster's max_ttl (recovery would not cover it)."""
    if max_ttl is not None and ttl > max_ttl:
        raise ValueError(f"{what} ttl={ttl:g} s is longer than max_ttl={max_ttl:g} s: a node that lost its "
                         "data abstains for max_ttl only, so longer holds are not protected "
                         "(raise MajorityRedis(max_ttl=...) on every client of the cluster)")


def bootstrap_command() -> Any:
    """The command that admits a node outright (bootstrap of a brand-new cluster)."""
    from majorityredis.fanout import Command

    return Command(("MSET", ADMITTED_KEY, "1", SYNCED_KEY, "1"))

