"""Lock semantics on real redis-server nodes: every public method, the keys it leaves, healing, fencing."""

from __future__ import annotations

import threading
import time

import pytest

from majorityredis import LockNotAcquired, LockNotOwned, MajorityRedis, MajorityRedisError
from majorityredis.fanout import Command
from majorityredis.lock import ACQUIRE, EXTEND, RELEASE
from tests.support.waiting import acquire_bound, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def mr(redis3):
    with MajorityRedis.from_urls(redis3.urls, socket_timeout=0.5) as instance:
        # open one connection per node first: a call that decides early does not wait for a
        # node that is still connecting, and these tests inspect every node
        instance.fanout.call(Command(("PING",)))
        yield instance


# -- acquire / token / validity / release -----------------------------------------------------

def test_acquire_sets_value_with_expiry_and_counter_on_every_node_and_release_deletes(mr, redis3):
    lock = mr.lock("L", ttl=5.0)
    before = time.monotonic()
    assert lock.acquire(blocking=False)
    assert lock.token == 1
    assert 0 < lock.validity() <= 5.0 - lock.drift
    assert lock.validity() <= 5.0 - lock.drift - (time.monotonic() - before) + 0.001
    assert lock.locked()
    # the decision needed 2 of 3 replies; the third node's request may still be running
    wait_until(lambda: all(redis3.direct(i).exists("L") for i in range(3)), 2.0)
    values = set()
    for i in range(3):
        node = redis3.direct(i)
        values.add(node.get("L"))
        assert 4000 < node.pttl("L") <= 5000
    # the first acquisition of a name finds no counters: it writes token 1 back to every node
    wait_until(lambda: all(redis3.direct(i).get("L:fence") == b"1" for i in range(3)), 2.0)
    assert all(redis3.direct(i).ttl("L:fence") == -1 for i in range(3))  # the counter never expires
    assert len(values) == 1 and len(values.pop()) >= 40  # one fresh value of >= 20 random bytes (hex)
    lock.release()
    assert lock.validity() == 0.0
    with pytest.raises(LockNotOwned):
        _ = lock.token
    with pytest.raises(LockNotOwned):
        lock.release()
    # release returned at a quorum; every node gets the RELEASE
    wait_until(lambda: all(redis3.direct(i).exists("L") == 0 for i in range(3)), 2.0)


def test_each_acquisition_uses_a_fresh_value_and_a_larger_token(mr, redis3):
    lock = mr.lock("L", ttl=5.0)
    seen_values, tokens = set(), []
    for _ in range(3):
        assert lock.acquire()
        tokens.append(lock.token)
        wait_until(lambda: redis3.direct(0).exists("L"), 2.0)
        seen_values.add(redis3.direct(0).get("L"))
        lock.release()
    assert tokens == [1, 2, 3]
    assert len(seen_values) == 3


def test_a_held_lock_is_refused_to_others_until_released(mr):
    holder, other = mr.lock("L", ttl=5.0), mr.lock("L", ttl=5.0)
    assert holder.acquire()
    assert other.acquire(blocking=False) is False
    started = time.monotonic()
    assert other.acquire(timeout=0.3) is False
    waited = time.monotonic() - started
    # it retried until the timeout, then gave up within the documented bound (timeout plus about
    # three client timeouts)
    assert 0.3 <= waited < acquire_bound(0.3, mr.timeout)
    assert other.last_failure is not None and other.last_failure.agreed <= 1   # the holder has a quorum
    assert "held by another client" in str(other.last_failure)
    holder.release()
    assert other.acquire(blocking=False)
    assert other.token == 2
    other.release()


def test_acquiring_twice_on_one_object_raises(mr):
    lock = mr.lock("L", ttl=5.0)
    assert lock.acquire()
    with pytest.raises(MajorityRedisError, match="already held"):
        lock.acquire()
    lock.release()


def test_expired_hold_lets_another_in_and_cannot_be_extended_or_released_cleanly(mr, redis3):
    first = mr.lock("L", ttl=0.2, drift_ms=0)
    assert first.acquire()
    time.sleep(0.3)
    assert first.validity() == 0.0
    second = mr.lock("L", ttl=5.0)
    assert second.acquire(blocking=False)
    assert second.token > first.token
    assert first.extend() is False      # never resurrects an expired hold
    assert first.lost.is_set()
    with pytest.raises(LockNotOwned, match="expired|lost"):
        first.release()
    # the second holder's keys are untouched (its grant on the third node may land a moment after it returned)
    wait_until(lambda: all(redis3.direct(i).exists("L") for i in range(3)), 2.0)
    assert second.validity() > 4.0
    second.release()


# -- extend -------------------------------------------------------------------------------------

def test_extend_renews_expiry_on_every_node_and_restarts_validity(mr, redis3):
    lock = mr.lock("L", ttl=1.0)
    assert lock.acquire()
    time.sleep(0.2)
    assert lock.validity() < 0.85
    assert lock.extend(ttl=10.0)
    assert 9.0 < lock.validity() <= 10.0
    wait_until(lambda: all(redis3.direct(i).pttl("L") > 8000 for i in range(3)), 2.0)
    assert lock.extend()            # default: the lock's ttl
    assert lock.validity() <= 1.0
    lock.release()
    with pytest.raises(LockNotOwned):
        lock.extend()


def test_extend_fails_and_marks_lost_when_someone_else_took_the_keys(mr, redis3):
    lock = mr.lock("L", ttl=5.0)
    assert lock.acquire()
    token = lock.token
    for i in range(2):  # a majority now has another value (as if our hold expired and another came)
        redis3.direct(i).set("L", "intruder", px=5000)
    assert lock.extend() is False
    assert lock.lost.is_set()
    assert lock.validity() == 0.0
    assert lock.token == token         # still readable for logs until release
    with pytest.raises(LockNotOwned, match="lost"):
        lock.release()
    assert redis3.direct(0).get("L") == b"intruder"  # release never deletes another value


def test_extend_heals_a_node_restarted_empty_when_recovery_is_off(redis3):
    with MajorityRedis.from_urls(redis3.urls, socket_timeout=0.5, recovery=False) as mr:
        mr.fanout.call(Command(("PING",)))
        _extend_heals_a_node_restarted_empty(mr, redis3)


def _extend_heals_a_node_restarted_empty(mr, redis3):
    lock = mr.lock("L", ttl=5.0)
    assert lock.acquire()
    value = redis3.direct(1).get("L")
    redis3.servers[0].restart(empty=True)
    healed = redis3.direct(0)
    assert healed.exists("L") == 0 and healed.get("L:fence") is None  # the fault happened
    # Extends return once a quorum renewed: the restarted node is reached on a new connection,
    # which may come up after the decision (its EXTEND then runs just after the call returned).
    extends = 0

    def extended_and_healed() -> bool:
        nonlocal extends
        assert lock.extend()
        extends += 1
        return healed.get("L") == value
    wait_until(extended_and_healed, 5.0, lambda: healed.get("L"))
    assert extends >= 1 and healed.get("L") == value
    assert 4000 < healed.pttl("L") <= 5000
    assert healed.get("L:fence") == str(lock.token).encode()
    lock.release()
    wait_until(lambda: healed.exists("L") == 0, 2.0)


# -- context manager ------------------------------------------------------------------------------

def test_context_manager_holds_inside_and_releases_after(mr, redis3):
    with mr.lock("L", ttl=5.0, timeout=1.0) as held:
        assert held.locked() and held.token == 1
        assert redis3.direct(0).exists("L") == 1
    wait_until(lambda: redis3.direct(0).exists("L") == 0, 2.0)   # released (at a quorum: maybe not node 0 yet)
    assert held.validity() == 0.0


def test_context_manager_raises_lock_not_acquired_and_never_runs_the_block(mr):
    holder = mr.lock("L", ttl=5.0)
    assert holder.acquire()
    ran = []
    with pytest.raises(LockNotAcquired, match="'L'") as caught:
        with mr.lock("L", ttl=5.0, timeout=0.2):
            ran.append(True)
    assert ran == []
    assert caught.value.__cause__ is not None   # the last attempt's NoQuorum says why
    holder.release()


def test_context_manager_releases_when_the_block_raises(mr, redis3):
    with pytest.raises(KeyError):
        with mr.lock("L", ttl=5.0, timeout=1.0):
            raise KeyError("boom")
    wait_until(lambda: redis3.direct(0).exists("L") == 0, 2.0)


# -- auto-extend ---------------------------------------------------------------------------------

def test_auto_extend_keeps_the_lock_beyond_its_ttl(mr):
    ttl = 0.5
    lock = mr.lock("L", ttl=ttl, auto_extend=True)
    assert lock.acquire()
    first_expiry = mr.clock() + lock.validity()

    def held_and_renewed_past_three_ttls() -> bool:
        assert lock.validity() > 0.0 and not lock.lost.is_set()   # held at every look
        return mr.clock() + lock.validity() > first_expiry + 3 * ttl
    wait_until(held_and_renewed_past_three_ttls, 10.0)
    assert mr.lock("L", ttl=1.0).acquire(blocking=False) is False
    lock.release()
    assert lock._renewer is None   # release stopped the renewer
    assert mr.lock("L", ttl=1.0).acquire(blocking=False)


def test_auto_extend_sets_lost_when_a_renewal_fails(mr, redis3):
    lock = mr.lock("L", ttl=0.3, auto_extend=True)
    assert lock.acquire()
    for i in range(3):
        redis3.direct(i).set("L", "intruder", px=5000)
    assert lock.lost.wait(timeout=2.0)
    assert lock.validity() == 0.0
    with pytest.raises(LockNotOwned):
        lock.release()


# -- scripts, passwords ---------------------------------------------------------------------------

def test_scripts_are_reloaded_after_script_flush(mr, redis3):
    lock = mr.lock("L", ttl=5.0)
    assert lock.acquire()
    lock.release()
    for i in range(3):
        redis3.direct(i).script_flush()
        assert redis3.direct(i).script_exists(ACQUIRE.sha) == [False]   # the fault happened
    assert lock.acquire()
    assert lock.extend()
    lock.release()
    # release returns at a quorum; the third node gets its RELEASE too (as EVAL: it runs there)
    wait_until(lambda: all(redis3.direct(i).script_exists(RELEASE.sha)[0] for i in range(3)), 2.0)
    cached = [redis3.direct(i).script_exists(ACQUIRE.sha, EXTEND.sha, RELEASE.sha) for i in range(3)]
    assert sum(a and e for a, e, _r in cached) >= 2          # acquire/extend needed a quorum
    wait_until(lambda: all(redis3.direct(i).exists("L") == 0 for i in range(3)), 2.0)


def test_requirepass_servers_through_password_urls(redis_nodes):
    nodes = redis_nodes(3, password="s3cret")
    assert all(":s3cret@" in url for url in nodes.urls)
    with MajorityRedis.from_urls(nodes.urls, socket_timeout=0.5) as mr:
        lock = mr.lock("L", ttl=5.0)
        assert lock.acquire()
        assert sum(nodes.direct(i).exists("L") for i in range(3)) >= 2
        lock.release()
    wrong = [url.replace("s3cret", "wrong") for url in nodes.urls]
    with MajorityRedis.from_urls(wrong, socket_timeout=0.5) as mr:
        lock = mr.lock("L", ttl=5.0)
        assert lock.acquire(blocking=False) is False
        assert lock.last_failure is not None
        assert "auth" in str(lock.last_failure).lower() or "password" in str(lock.last_failure).lower()


# -- undo and fencing ---------------------------------------------------------------------------

def test_a_partial_acquisition_is_undone_and_leaves_nothing_behind(mr, redis3):
    for i in range(3):
        redis3.direct(i).set("L:fence", 5)
    for i in (0, 1):
        redis3.direct(i).set("L", "other", px=10_000)
    lock = mr.lock("L", ttl=5.0)
    assert lock.acquire(blocking=False) is False
    third = redis3.direct(2)
    assert third.get("L:fence") == b"6"    # node 3 granted (its counter moved) ...
    # ... and the grant was undone (the undo is sent, not waited for)
    wait_until(lambda: third.exists("L") == 0, 2.0)
    assert [redis3.direct(i).get("L") for i in (0, 1)] == [b"other", b"other"]


def test_counters_out_of_step_are_written_back_and_the_next_token_is_larger(mr, redis3):
    for i, fence in enumerate((5, 9)):
        redis3.direct(i).set("L:fence", fence)
    assert redis3.direct(2).get("L:fence") is None  # node 3 has no counter: it reports unknown
    lock = mr.lock("L", ttl=5.0)
    assert lock.acquire()
    first = lock.token
    # The grants counted 6, 10 and unknown: no two are equal. Whichever two nodes answer first,
    # either both are known (6 and 10: the highest, 10, is taken) or one is unknown, which makes
    # the attempt wait for every node (10 again). The token is written back to every node.
    # (With known counters only, a quorum of grants decides without the third node — the order
    # of replies would choose the token — so that rule is proved in tests/unit/test_lock_decisions.py.)
    assert first == 10
    wait_until(lambda: all(int(redis3.direct(i).get("L:fence")) == 10 for i in range(3)), 2.0)
    lock.release()
    assert lock.acquire()
    assert lock.token > first
    assert lock.token == 11                  # counters in step again: the one-round-trip path
    lock.release()


def test_do_acquire_primitive_reports_the_token_and_expiry(mr, redis3):
    lock = mr.lock("L", ttl=2.0)
    attempt = lock.do_acquire(b"v" * 40, 2.0, 0.5)
    assert attempt.token == 1 and attempt.failure is None
    assert 0 < attempt.expires_at - mr.clock() <= 2.0
    again = lock.do_acquire(b"w" * 40, 2.0, 0.5)
    assert again.token is None and again.failure is not None
    confirmed, _replies = lock.do_release(b"v" * 40)
    assert confirmed >= 2                    # it returns once a quorum confirmed ...
    wait_until(lambda: all(redis3.direct(i).exists("L") == 0 for i in range(3)), 2.0)   # ... all get it


def test_acquiring_again_after_a_lost_hold_clears_its_leftover_keys(mr, redis3):
    lock = mr.lock("L", ttl=5.0)
    assert lock.acquire()
    old_value = redis3.direct(2).get("L")
    for i in (0, 1):
        redis3.direct(i).set("L", "intruder", px=5000)
    assert lock.extend() is False and lock.lost.is_set()
    for i in (0, 1):
        redis3.direct(i).delete("L")            # the intruder went away; node 3 still has our old value
    assert redis3.direct(2).get("L") == old_value
    assert lock.acquire(blocking=False)
    assert not lock.lost.is_set()
    values = [redis3.direct(i).get("L") for i in range(3)]
    assert old_value not in values and len(set(values)) == 1   # the leftover was deleted, then re-granted
    lock.release()


def test_retry_delays_come_from_the_injected_rng(mr):
    import random

    holder = mr.lock("L", ttl=5.0)
    assert holder.acquire()
    waiter = mr.lock("L", ttl=5.0, retry_delay=(0.01, 0.02), rng=random.Random(7))
    delays: list[float] = []
    waiter.sleep = delays.append            # no real pause: attempts repeat until the timeout
    assert waiter.acquire(timeout=0.1) is False
    expected = random.Random(7)
    assert len(delays) >= 3
    # each pause is the rng's next draw, cut short only near the timeout
    assert delays[:3] == [expected.uniform(0.01, 0.02) for _ in range(3)]
    assert all(0 < d <= 0.02 for d in delays)
    holder.release()


def test_context_manager_without_timeout_waits_until_the_lock_is_free(mr):
    holder = mr.lock("L", ttl=5.0)
    assert holder.acquire()
    threading.Timer(0.3, holder.release).start()
    started = time.monotonic()
    with mr.lock("L", ttl=5.0, timeout=None, retry_delay=(0.01, 0.02)) as held:
        assert held.locked()
        assert time.monotonic() - started >= 0.25     # it really waited for the release
        assert held.token == 2


def test_nodes_without_a_counter_never_decide_the_token(mr, redis3):
    # node 1 carries the counter; node 2 restarted empty and node 3 never took part: both have none.
    # Their two grants would be an equal quorum at 1 if a missing counter counted as 0.
    redis3.direct(0).set("L:fence", 7)
    lock = mr.lock("L", ttl=5.0)
    assert lock.acquire()
    assert lock.token == 8                     # heard node 1 (7 -> 8) before deciding
    wait_until(lambda: [redis3.direct(i).get("L:fence") for i in range(3)] == [b"8"] * 3, 2.0)
    lock.release()
