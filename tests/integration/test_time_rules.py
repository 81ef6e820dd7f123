"""The time rules of the Lock and the LockingQueue, on real redis-server nodes and a hand-driven clock.

`MajorityRedis(clock=FakeClock())` with its fan-out wrapped in `SlowFanout`:
the replies are real, but the test decides how long each round trip took, so
every validity is known exactly. Each test pins one rule (the one-line break
it was checked against is named in its docstring):

- validity is counted from *before* the request (acquire, extend, get, extend_lock);
- a grant whose validity was used up during the call is undone, not handed out
  (acquire on the fast and on the slow path; the queue's hand-out);
- an extend counts only if its quorum came while the hold was still valid
  (Lock.extend; LockingQueue.extend_lock);
- the drift allowance ttl * drift_factor + drift_ms is subtracted as documented.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from majorityredis import MajorityRedis
from majorityredis.fanout import Command
from majorityredis.lock import ACQUIRE, EXTEND, RELEASE, WRITE_BACK
from majorityredis.queue import scripts as queue_scripts
from tests.support.fake_time import FakeClock, SlowFanout
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

LOCK_SCRIPTS = (ACQUIRE, EXTEND, RELEASE, WRITE_BACK)
QUEUE_SCRIPTS = tuple(value for value in vars(queue_scripts).values()
                      if isinstance(value, type(ACQUIRE)))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mr(redis3, clock: FakeClock) -> Iterator[MajorityRedis]:
    with MajorityRedis(redis3.clients(socket_timeout=0.5), clock=clock) as instance:
        instance.fanout.call(Command(("PING",)))  # a connection per node: no call waits on a connect
        instance.fanout = SlowFanout(instance.fanout, clock, LOCK_SCRIPTS + QUEUE_SCRIPTS)
        yield instance


def slow(mr: MajorityRedis) -> SlowFanout:
    assert isinstance(mr.fanout, SlowFanout)
    return mr.fanout


def warm_up(mr: MajorityRedis, name: str) -> None:
    """One acquisition and release, so every node has a counter and the next acquire takes the fast path."""
    lock = mr.lock(name, ttl=2.0)
    assert lock.acquire(blocking=False)
    lock.release()
    wait_until(lambda: all(c.get(f"{name}:fence") == b"1" for c in mr.clients), 2.0)
    slow(mr).calls.clear()


def nodes_with(mr: MajorityRedis, key: str) -> int:
    return sum(1 for c in mr.clients if c.exists(key))


# -- Lock ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["fast", "slow"])
def test_lock_validity_is_counted_from_before_the_acquire_request(mr, path: str) -> None:
    """Break tried: in do_acquire, `expires_at = hold_deadline(clock(), ...)` (after the reply)."""
    if path == "fast":
        warm_up(mr, "L")
    slow(mr).delays[ACQUIRE.name] = 0.4
    lock = mr.lock("L", ttl=2.0, drift_factor=0.0, drift_ms=0.0)
    assert lock.acquire(blocking=False)
    assert lock.validity() == pytest.approx(2.0 - 0.4)
    assert (WRITE_BACK.name in slow(mr).calls) == (path == "slow")


@pytest.mark.parametrize("used_up_in", [ACQUIRE.name, WRITE_BACK.name])
def test_lock_acquisition_whose_validity_ran_out_during_the_call_is_undone(mr, clock, used_up_in: str) -> None:
    """Break tried: in do_acquire, `if token is not None and clock() < expires_at:` -> `if token is not None:`.

    ACQUIRE: the fast path (counters in step) — the quorum came 1.9 s into a
    hold whose ttl minus drift is 1.9 s. WRITE_BACK: the slow path (fresh
    nodes, counters unknown) — the write-back's quorum came too late.
    """
    if used_up_in == ACQUIRE.name:
        warm_up(mr, "L")
    lock = mr.lock("L", ttl=2.0, drift_factor=0.0, drift_ms=100)
    slow(mr).delays[used_up_in] = 1.9
    assert not lock.acquire(blocking=False)
    assert lock.validity() == 0.0
    assert lock.last_failure is not None and "validity" in lock.last_failure.errors
    assert used_up_in in slow(mr).calls and RELEASE.name in slow(mr).calls  # the attempt was undone
    wait_until(lambda: nodes_with(mr, "L") == 0, 2.0, lambda: nodes_with(mr, "L"))


def test_lock_acquisition_just_inside_its_validity_holds(mr) -> None:
    """The other side of the late guard: 1 ms of validity left is a hold.

    Break tried: `clock() < expires_at` -> `clock() < expires_at - 0.01` (a guard too strict).
    """
    warm_up(mr, "L")
    lock = mr.lock("L", ttl=2.0, drift_factor=0.0, drift_ms=100)
    slow(mr).delays[ACQUIRE.name] = 1.899
    assert lock.acquire(blocking=False)
    assert lock.validity() == pytest.approx(0.001)


def test_lock_drift_factor_and_drift_ms_are_subtracted_from_every_validity(mr) -> None:
    """validity = ttl - elapsed - (ttl * drift_factor + drift_ms / 1000), on acquire and on extend.

    Breaks tried: in validity.drift_seconds, `drift_ms / 1000.0` -> `drift_ms / 100.0`, and
    `ttl * drift_factor + ...` -> `drift_factor + ...`.
    """
    lock = mr.lock("L", ttl=2.0, drift_factor=0.1, drift_ms=50)
    assert lock.drift == pytest.approx(0.25)
    slow(mr).delays[ACQUIRE.name] = 0.3
    assert lock.acquire(blocking=False)
    assert lock.validity() == pytest.approx(2.0 - 0.3 - 0.2 - 0.05)
    slow(mr).delays[EXTEND.name] = 0.1
    assert lock.extend(ttl=4.0)
    assert lock.validity() == pytest.approx(4.0 - 0.1 - 0.4 - 0.05)


def test_lock_extend_validity_is_counted_from_before_the_request(mr, clock) -> None:
    """Break tried: in do_extend, `return hold_deadline(clock(), ttl, ...)` (after the reply)."""
    lock = mr.lock("L", ttl=2.0, drift_factor=0.0, drift_ms=0.0)
    assert lock.acquire(blocking=False)
    clock.advance(1.0)
    slow(mr).delays[EXTEND.name] = 0.5
    assert lock.extend()
    assert lock.validity() == pytest.approx(2.0 - 0.5)


def test_lock_extend_whose_quorum_came_after_the_validity_ended_loses_the_lock(mr, clock) -> None:
    """Break tried: in do_extend, `... >= quorum and clock() < hold.expires_at:` -> `... >= quorum:`.

    The hold has 0.5 s left; the EXTEND round takes 0.6 s. The nodes renewed,
    but the client cannot know that they did so before the hold lapsed
    (another client may have been granted it in between): the lock is lost.
    """
    lock = mr.lock("L", ttl=2.0, drift_factor=0.0, drift_ms=0.0)
    assert lock.acquire(blocking=False)
    clock.advance(1.5)
    slow(mr).delays[EXTEND.name] = 0.6
    assert not lock.extend(ttl=5.0)
    assert lock.lost.is_set() and lock.validity() == 0.0
    assert slow(mr).calls.count(EXTEND.name) == 1


def test_lock_extend_of_an_expired_hold_sends_nothing(mr, clock) -> None:
    """Break tried: in do_extend, `if hold.lost or remaining <= 0:` -> `if hold.lost:`."""
    lock = mr.lock("L", ttl=2.0, drift_factor=0.0, drift_ms=0.0)
    assert lock.acquire(blocking=False)
    clock.advance(2.0)
    assert not lock.extend()
    assert lock.lost.is_set()
    assert EXTEND.name not in slow(mr).calls


# -- LockingQueue -------------------------------------------------------------------------------

def test_queue_lease_is_counted_from_before_the_grant_request(mr) -> None:
    """Break tried: in _hand_out, `Lease(hold_deadline(self.mr.clock(), ttl, ...), ...)` (after the reply)."""
    queue = mr.queue("q", drift_factor=0.0, drift_ms=0.0)
    queue.put("a")
    slow(mr).delays[queue_scripts.SCAN_AVAILABLE.name] = 0.3   # before the hold was asked for: not counted
    slow(mr).delays[queue_scripts.GRANT.name] = 0.4
    msg = queue.get(ttl=2.0)
    assert msg is not None and msg.item == b"a"
    assert msg.validity() == pytest.approx(2.0 - 0.4)


def test_queue_hold_whose_validity_ran_out_during_the_grant_is_abandoned(mr) -> None:
    """Break tried: in _hand_out, `if lease.deadline <= self.mr.clock():` -> `if False:`."""
    queue = mr.queue("q", drift_factor=0.0, drift_ms=100)
    item_id = queue.put("a")
    slow(mr).delays[queue_scripts.GRANT.name] = 1.9   # ttl 2 s minus 0.1 s drift: nothing left
    assert queue.get(ttl=2.0) is None
    assert queue_scripts.ABANDON.name in slow(mr).calls
    hold_key = queue.keys.hold(item_id)
    wait_until(lambda: nodes_with(mr, hold_key) == 0, 2.0, lambda: nodes_with(mr, hold_key))
    slow(mr).delays.clear()
    again = queue.get(ttl=2.0)  # the item is free again at once, not after the 2 s ttl
    assert again is not None and again.id == item_id


def test_queue_drift_factor_and_drift_ms_are_subtracted_from_the_lease(mr) -> None:
    """Breaks tried: the two drift_seconds breaks of the Lock's drift test (shared rule)."""
    queue = mr.queue("q", drift_factor=0.1, drift_ms=50)
    queue.put("a")
    slow(mr).delays[queue_scripts.GRANT.name] = 0.3
    msg = queue.get(ttl=2.0)
    assert msg is not None
    assert msg.validity() == pytest.approx(2.0 - 0.3 - 0.2 - 0.05)
    slow(mr).delays[queue_scripts.EXTEND.name] = 0.1
    assert queue.extend_lock(msg, ttl=4.0)
    assert msg.validity() == pytest.approx(4.0 - 0.1 - 0.4 - 0.05)


def test_queue_extend_lock_validity_is_counted_from_before_the_request(mr, clock) -> None:
    """Break tried: in extend_lock, `deadline = hold_deadline(self.mr.clock(), ttl, ...)`."""
    queue = mr.queue("q", drift_factor=0.0, drift_ms=0.0)
    queue.put("a")
    msg = queue.get(ttl=2.0)
    assert msg is not None
    clock.advance(1.0)
    slow(mr).delays[queue_scripts.EXTEND.name] = 0.5
    assert queue.extend_lock(msg)
    assert msg.validity() == pytest.approx(2.0 - 0.5)


def test_queue_extend_lock_whose_new_validity_was_used_up_during_the_call_fails(mr, clock) -> None:
    """Break tried: in extend_lock, `if deadline > self.mr.clock():` -> `if True:`."""
    queue = mr.queue("q", drift_factor=0.0, drift_ms=100)
    queue.put("a")
    msg = queue.get(ttl=2.0)
    assert msg is not None
    slow(mr).delays[queue_scripts.EXTEND.name] = 1.0   # asks for 1 s (0.9 s after drift): used up
    assert not queue.extend_lock(msg, ttl=1.0)
    assert msg.validity() == 0.0
    hold_key = queue.keys.hold(msg.id)
    wait_until(lambda: nodes_with(mr, hold_key) == 0, 2.0, lambda: nodes_with(mr, hold_key))


def held_on_one_node_after_1_5_s(mr: MajorityRedis, clock: FakeClock) -> tuple[Any, Any, str]:
    """An item held for 2 s (no drift) whose hold is then lost on two of the three nodes, 1.5 s on."""
    queue = mr.queue("q", drift_factor=0.0, drift_ms=0.0)
    queue.put("a")
    msg = queue.get(ttl=2.0)
    assert msg is not None
    hold_key = queue.keys.hold(msg.id)
    wait_until(lambda: nodes_with(mr, hold_key) == 3, 2.0)
    for client in mr.clients[1:]:
        client.delete(hold_key)
    clock.advance(1.5)
    return queue, msg, hold_key


def test_queue_extend_lock_cannot_take_free_nodes_once_the_hold_lapsed_during_the_call(mr, clock) -> None:
    """A hold valid when extend_lock started may take nodes where nobody holds the item — but only
    if the quorum came while it was still valid: later, another consumer may have held the item
    in between, and the extend would silently re-acquire it (the module docstring, point 4).

    Here the hold is ours on one node only (lost on two: a restart, or a grant that missed
    them); the EXTEND round outlives the old validity. The extend fails (not NoQuorum: the
    takes left our hold on those nodes, and a retry would count them as renewals) and the
    hold is released everywhere. Break tried (it is the bug this test found): after the
    EXTEND call, `late = valid and self.mr.clock() >= lease.deadline` -> `late = False`;
    extend_lock then counted the two takes and returned True.
    """
    queue, msg, hold_key = held_on_one_node_after_1_5_s(mr, clock)
    slow(mr).delays[queue_scripts.EXTEND.name] = 0.6  # the quorum came 0.1 s after the old validity ended
    assert not queue.extend_lock(msg, ttl=5.0)
    assert msg.validity() == 0.0
    wait_until(lambda: nodes_with(mr, hold_key) == 0, 2.0, lambda: nodes_with(mr, hold_key))


def test_queue_extend_lock_takes_free_nodes_while_the_hold_is_valid(mr, clock) -> None:
    """The same extend, its quorum inside the old validity: the takes count (design point 4)."""
    queue, msg, hold_key = held_on_one_node_after_1_5_s(mr, clock)
    slow(mr).delays[queue_scripts.EXTEND.name] = 0.4
    assert queue.extend_lock(msg, ttl=5.0)
    assert msg.validity() == pytest.approx(5.0 - 0.4)
    wait_until(lambda: nodes_with(mr, hold_key) >= 2, 2.0, lambda: nodes_with(mr, hold_key))
