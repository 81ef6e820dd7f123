"""Lock under contention and faults: mutual exclusion, token order, minority and majority failures.

What raises and what returns False when a majority is down:
`acquire` returns False (its `last_failure` is a NoQuorum naming the failed nodes);
`extend` returns False and sets `lost`; `release` raises NoQuorum;
`with lock:` raises LockNotAcquired caused by that NoQuorum.
"""

from __future__ import annotations

import threading
import time

import pytest

from majorityredis import LockNotAcquired, LockNotOwned, MajorityRedis, NoQuorum
from tests.support.waiting import acquire_bound, wait_until

pytestmark = pytest.mark.integration


def _mr(nodes, socket_timeout: float = 0.5) -> MajorityRedis:
    return MajorityRedis.from_urls(nodes.urls, socket_timeout=socket_timeout)


def test_eight_threads_contending_never_overlap_and_tokens_increase(redis5):
    threads, rounds = 8, 100
    holds: list[tuple[float, float, int]] = []   # (entered, left, token) of every critical section
    shared = {"counter": 0}
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    with _mr(redis5) as mr:
        def worker(seed: int) -> None:
            import random
            lock = mr.lock("contended", ttl=5.0, retry_delay=(0.0005, 0.003), rng=random.Random(seed))
            start.wait()
            try:
                for _ in range(rounds):
                    assert lock.acquire(timeout=30.0), "starved for 30 s"
                    entered = time.monotonic()
                    seen = shared["counter"]          # protected only by the lock
                    time.sleep(0)                     # invite a thread switch inside the section
                    shared["counter"] = seen + 1
                    token = lock.token
                    left = time.monotonic()
                    holds.append((entered, left, token))   # list.append is atomic
                    lock.release()
            except BaseException as error:  # noqa: BLE001 - reported by the main thread
                errors.append(error)

        pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join(timeout=120)
    assert not errors, errors
    assert shared["counter"] == threads * rounds == len(holds)
    holds.sort()
    for (_, left, token), (entered, _, next_token) in zip(holds, holds[1:]):
        assert entered >= left, "two holders overlapped"
        assert next_token > token, "tokens must strictly increase in acquisition order"


def test_a_minority_killed_changes_nothing_for_the_lock(redis5):
    with _mr(redis5) as mr:
        lock = mr.lock("L", ttl=5.0)
        assert lock.acquire()
        before = lock.token
        redis5.servers[0].kill()
        redis5.servers[3].kill()
        assert not redis5.servers[0].is_running()          # the fault happened
        assert lock.extend()
        lock.release()
        assert lock.acquire(timeout=2.0)
        assert lock.token > before
        assert mr.lock("L", ttl=5.0).acquire(blocking=False) is False   # still exclusive
        lock.release()
        with mr.lock("L", ttl=5.0, timeout=2.0) as held:
            assert held.token > before + 1


def test_majority_killed_acquire_returns_false_within_the_timeout(redis3):
    with _mr(redis3) as mr:
        redis3.servers[0].kill()
        redis3.servers[1].kill()
        lock = mr.lock("L", ttl=5.0, retry_delay=(0.01, 0.05))
        started = time.monotonic()
        assert lock.acquire(timeout=1.0) is False
        assert time.monotonic() - started < acquire_bound(1.0, mr.timeout)   # the documented bound
        failure = lock.last_failure
        assert isinstance(failure, NoQuorum) and failure.quorum == 2 and failure.agreed <= 1
        assert len([e for e in failure.errors.values() if isinstance(e, Exception)]) >= 2
        with pytest.raises(LockNotAcquired) as caught:
            with mr.lock("L", ttl=5.0, timeout=0.2):
                pytest.fail("the block ran without the lock")
        assert isinstance(caught.value.__cause__, NoQuorum)
        # the one live node granted and was undone (sent, not waited for)
        wait_until(lambda: redis3.direct(2).exists("L") == 0, 2.0)


def test_majority_paused_acquire_returns_false_within_the_timeout(redis3):
    with _mr(redis3, socket_timeout=0.3) as mr:
        lock = mr.lock("L", ttl=5.0)
        assert lock.acquire() and lock.release() is None   # connections are open before the pause
        redis3.servers[0].pause()
        redis3.servers[1].pause()
        try:
            started = time.monotonic()
            assert lock.acquire(timeout=1.0) is False
            assert time.monotonic() - started < acquire_bound(1.0, mr.timeout)
            assert "no reply" in str(lock.last_failure) or "Timeout" in str(lock.last_failure)
        finally:
            redis3.servers[0].resume()
            redis3.servers[1].resume()


def test_majority_lost_while_held_extend_returns_false_and_release_raises_no_quorum(redis3):
    with _mr(redis3) as mr:
        lock = mr.lock("L", ttl=5.0)
        assert lock.acquire()
        redis3.servers[1].kill()
        redis3.servers[2].kill()
        with pytest.raises(NoQuorum) as caught:
            lock.release()                    # still valid, but only 1 of 3 nodes confirmed
        assert caught.value.agreed == 1 and caught.value.quorum == 2
        wait_until(lambda: redis3.direct(0).exists("L") == 0, 2.0)   # the reachable node did release
        with pytest.raises(LockNotOwned):
            _ = lock.token                    # the object holds nothing after release, whatever happened

        redis3.servers[1].start()
        redis3.bootstrap(1)  # as after its recovery period (majorityredis.admission)
        redis3.servers[2].start()
        redis3.bootstrap(2)  # as after its recovery period (majorityredis.admission)
        other = mr.lock("M", ttl=5.0)
        assert other.acquire(timeout=2.0)
        redis3.servers[1].kill()
        redis3.servers[2].kill()
        assert other.extend() is False
        assert other.lost.is_set() and other.validity() == 0.0


def test_restarted_empty_node_gets_its_counter_back_and_tokens_keep_increasing(redis3):
    with _mr(redis3) as mr:
        lock = mr.lock("L", ttl=5.0)
        tokens = []
        for _ in range(3):
            assert lock.acquire()
            tokens.append(lock.token)
            lock.release()
        redis3.servers[1].restart(empty=True)
        redis3.bootstrap(1)  # as after its recovery period (majorityredis.admission)
        assert redis3.direct(1).get("L:fence") is None          # the fault happened: counter lost
        # an acquisition heals the nodes whose replies it read; on a loaded machine the restarted
        # node can be the slow one for a few rounds, so go on until it is healed (3 to 50 rounds)
        for round_ in range(50):
            assert lock.acquire(timeout=2.0)
            tokens.append(lock.token)
            lock.release()
            deadline = time.monotonic() + 0.2
            while int(redis3.direct(1).get("L:fence") or 0) < tokens[-1] and time.monotonic() < deadline:
                time.sleep(0.01)
            if round_ >= 2 and int(redis3.direct(1).get("L:fence") or 0) >= tokens[-1]:
                break
        assert tokens == sorted(set(tokens))                      # strictly increasing
        assert int(redis3.direct(1).get("L:fence")) >= tokens[-1]   # written back to the empty node
