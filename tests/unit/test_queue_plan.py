"""The LockingQueue's pure parts: ids, candidate order, replies, tokens, Message validity, arguments.

No server is needed: redis-py clients do not connect until first used.
"""

from __future__ import annotations

import re

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from majorityredis import MajorityRedis
from majorityredis.fanout import Replies
from majorityredis.queue import LockingQueue, Message
from majorityredis.queue import scripts as queue_scripts
from majorityredis.queue.message import Lease
from majorityredis.queue.plan import (
    Candidate,
    Grant,
    ItemIds,
    Offer,
    QueueKeys,
    fencing_token,
    merge_candidates,
    parse_grant,
    parse_scan,
    priority_of,
    score_of,
)
from majorityredis.scripts import Script
from majorityredis.validity import hold_deadline


class SteppingClock:
    def __init__(self, *times: float) -> None:
        self.times = list(times)

    def __call__(self) -> float:
        return self.times.pop(0) if len(self.times) > 1 else self.times[0]


# -- item ids --------------------------------------------------------------------------------------
def test_ids_have_the_documented_shape_and_sort_by_time():
    ids = ItemIds(SteppingClock(1.000001, 2.5), token_hex=lambda n: "ab" * n)
    first, second = ids.next(), ids.next()
    assert first == "0000000001000001-abababababab"
    assert second == "0000000002500000-abababababab"
    assert first < second


def test_ids_of_one_producer_increase_even_when_the_wall_clock_stalls_or_steps_back():
    ids = ItemIds(SteppingClock(10.0, 10.0, 9.0, 10.0), token_hex=lambda n: "00" * n)
    made = [ids.next() for _ in range(4)]
    assert made == sorted(made) and len(set(made)) == 4
    assert [int(i.split("-")[0]) for i in made] == [10_000_000, 10_000_001, 10_000_002, 10_000_003]


def test_ids_of_different_producers_differ_in_the_same_microsecond():
    a, b = ItemIds(lambda: 5.0), ItemIds(lambda: 5.0)
    assert a.next() != b.next()


# -- priorities and candidates ---------------------------------------------------------------------
@given(st.integers(-2 ** 53, 2 ** 53))
def test_score_round_trips_through_the_redis_text_form(priority):
    score = score_of(priority)
    assert priority_of(repr(float(score)).encode()) == priority
    assert priority_of(str(score).encode()) == priority


@pytest.mark.parametrize("bad", [1.5, "3", True, None, 2 ** 53 + 1])
def test_priority_must_be_an_exact_int(bad):
    with pytest.raises(ValueError, match="priority"):
        score_of(bad)


def test_candidates_sort_by_priority_then_age_and_merge_without_duplicates():
    node_a = parse_scan([b"0002-x", b"0", 1, b"0003-x", b"0", 1])
    node_b = parse_scan([b"0009-x", b"-5", 1, b"0002-x", b"0", 1])
    node_c = parse_scan([b"0001-x", b"0", 1])
    merged = merge_candidates([node_a, node_b, node_c])
    assert [c.id for c in merged] == ["0009-x", "0001-x", "0002-x", "0003-x"]
    assert merged[0].priority == 5 and merged[1].priority == 0


def test_items_reported_held_by_some_node_go_last_and_held_only_items_are_not_candidates():
    node_a = parse_scan([b"0001-x", b"0", 1, b"0002-x", b"0", 1, b"0003-x", b"0", 1])
    node_b = parse_scan([b"0001-x", b"0", 0, b"0004-x", b"0", 0, b"0003-x", b"0", 1])
    assert node_b[0] == Offer(Candidate(0, "0001-x"), False)
    merged = merge_candidates([node_a, node_b])
    assert [c.id for c in merged] == ["0002-x", "0003-x", "0001-x"]


def test_scan_reply_must_be_triples():
    with pytest.raises(ValueError):
        parse_scan([b"id", b"0"])
    assert parse_scan([]) == []


def test_grant_replies():
    assert parse_grant([1, 7, b"payload"]) == Grant(1, 7, b"payload")
    assert parse_grant([1, 8]) == Grant(1, 8, None)       # granted, node lacks the item
    assert not parse_grant([0]).granted                    # held by another
    assert parse_grant([-1]).status == -1                  # completed there
    with pytest.raises(ValueError):
        parse_grant(b"OK")


# -- fencing tokens --------------------------------------------------------------------------------
def test_token_is_safe_when_a_quorum_of_granting_nodes_is_at_the_maximum():
    assert fencing_token({0: 5, 1: 5, 2: 4}, quorum=2) == (5, False)


def test_token_needs_write_back_when_the_maximum_is_on_fewer_than_a_quorum():
    assert fencing_token({0: 9, 1: 5, 2: 5}, quorum=2) == (9, True)
    assert fencing_token({0: 3, 1: 3, 2: 3, 3: 2}, quorum=4) == (3, True)


@given(st.dictionaries(st.integers(0, 8), st.integers(1, 100), min_size=1), st.integers(1, 9))
def test_token_is_the_maximum_and_write_back_exactly_when_too_few_hold_it(fences, quorum):
    token, write_back = fencing_token(fences, quorum)
    assert token == max(fences.values())
    assert write_back == (list(fences.values()).count(token) < quorum)


@pytest.mark.parametrize(("fences", "quorum", "expected"), [
    ({0: 7}, 1, (7, False)),                          # one node, quorum 1: 7 is on the quorum
    ({0: 1, 1: 2}, 2, (2, True)),                     # 2 nodes: max 2 on one node only
    ({0: 4, 1: 4}, 2, (4, False)),
    ({0: 2, 1: 10, 2: 3}, 2, (10, True)),             # the max is not the first or the last
    ({0: 6, 2: 6}, 2, (6, False)),                    # node 1 did not grant: not counted
    ({0: 5, 1: 3, 2: 5, 3: 5}, 3, (5, False)),        # 4 nodes, quorum 3, three at 5
    ({0: 5, 1: 5, 2: 3, 3: 4}, 3, (5, True)),         # only two at 5
    ({0: 8, 1: 9, 2: 8, 3: 8, 4: 8}, 3, (9, True)),   # four at 8, but the token is 9
])
def test_token_examples_computed_by_hand(fences, quorum, expected):
    assert fencing_token(fences, quorum) == expected


def test_token_of_no_grants_is_an_error():
    with pytest.raises(ValueError):
        fencing_token({}, quorum=2)


# -- holds and messages ----------------------------------------------------------------------------
def test_hold_deadline_subtracts_the_drift_allowance():
    assert hold_deadline(100.0, 10.0, 0.01, 2.0) == pytest.approx(100.0 + 10.0 - 0.102)


def make_message(clock, deadline: float = 10.0) -> Message:
    return Message("0001-aa", b"x", 3, 0, "q", "holder" * 4, Lease(deadline, 5.0, clock))


def test_message_validity_counts_down_on_the_queue_clock_and_ends():
    now = [4.0]
    msg = make_message(lambda: now[0])
    assert msg.validity() == pytest.approx(6.0) and msg.held
    now[0] = 11.0
    assert msg.validity() == 0.0 and not msg.held
    now[0] = 5.0
    msg._lease.end()
    assert msg.validity() == 0.0 and msg.deadline == float("-inf")


def test_message_is_frozen_and_hides_its_holder_value():
    msg = make_message(lambda: 0.0)
    with pytest.raises(AttributeError):
        msg.token = 4  # type: ignore[misc]
    assert "holder" not in repr(msg)
    assert msg.ttl == 5.0


# -- keys and scripts ------------------------------------------------------------------------------
def test_keys_of_a_queue():
    keys = QueueKeys("emails")
    assert keys.per_item("7") == ("mr:q:emails:items", "mr:q:emails:order",
                                  "mr:q:emails:hold:7", "mr:q:emails:done:7")
    assert keys.fence == "mr:q:emails:fence" and keys.prefix == "mr:q:emails:"


def test_every_script_states_keys_argv_and_return_in_its_header():
    scripts = [v for v in vars(queue_scripts).values() if isinstance(v, Script)]
    assert len(scripts) == 10
    for script in scripts:
        header = "\n".join(line for line in script.source.splitlines() if line.startswith("--"))
        assert re.search(r"KEYS\[1\]", header), script.name
        assert "Returns" in header, script.name
        assert "ARGV" in header, script.name


# -- arguments -------------------------------------------------------------------------------------
@pytest.fixture
def mr():
    clients = [redis.Redis(host="127.0.0.1", port=1 + i) for i in range(3)]
    return MajorityRedis(clients)


@pytest.mark.parametrize("kwargs, match", [
    ({"retention": 0}, "retention"),
    ({"candidates": 0}, "candidates"),
    ({"candidates": 10, "scan_limit": 5}, "candidates"),
    ({"retry_delay": -1}, "retry_delay"),
    ({"drift_ms": -1}, "drift_ms"),
    ({"size_limit": -1}, "size_limit"),
])
def test_bad_queue_arguments_raise_value_error(mr, kwargs, match):
    with pytest.raises(ValueError, match=match):
        mr.queue("q", **kwargs)


def test_empty_name_is_an_error(mr):
    with pytest.raises(ValueError, match="name"):
        LockingQueue(mr, "")


@pytest.mark.parametrize("ttl", [0, -1.0, 0.002])
def test_get_needs_a_ttl_longer_than_the_drift_margin(mr, ttl):
    with pytest.raises(ValueError, match="ttl"):
        mr.queue("q").get(ttl=ttl)


def test_extend_needs_a_ttl_longer_than_the_drift_margin(mr):
    with pytest.raises(ValueError, match="drift margin"):
        mr.queue("q").extend_lock(make_message(lambda: 0.0), ttl=0.001)


def test_get_needs_a_non_negative_timeout(mr):
    with pytest.raises(ValueError, match="timeout"):
        mr.queue("q").get(timeout=-1)


def test_put_rejects_items_that_are_not_text_or_bytes(mr):
    with pytest.raises(TypeError, match="str or bytes"):
        mr.queue("q").put(12)  # type: ignore[arg-type]


def test_a_message_of_another_queue_is_refused(mr):
    msg = make_message(lambda: 0.0)  # belongs to "q"
    with pytest.raises(ValueError, match="belongs to queue 'q'"):
        mr.queue("other").consume(msg)
    with pytest.raises(TypeError):
        mr.queue("q").release("not a message")  # type: ignore[arg-type]


def test_queue_instances_come_from_the_client(mr):
    q = mr.queue("jobs", retention=10.0)
    assert isinstance(q, LockingQueue) and q.name == "jobs" and q.retention == 10.0
    assert q.keys == QueueKeys("jobs")


def test_candidate_order_is_higher_priority_first_then_older():
    assert sorted([Candidate(0, "b"), Candidate(0, "a"), Candidate(-1, "z")]) == [
        Candidate(-1, "z"), Candidate(0, "a"), Candidate(0, "b")]


# -- when a fan-out round is decided (the callbacks handed to Fanout.call) -------------------------
def replies(n: int, values: dict) -> Replies:
    return Replies(n, dict(values))


@pytest.fixture
def q5():
    clients = [redis.Redis(host="127.0.0.1", port=1 + i) for i in range(5)]
    return MajorityRedis(clients).queue("q")


def test_a_grant_round_waits_for_the_payload_once_a_quorum_granted(q5):
    bare = [1, 4]
    assert not q5._grant_decided(replies(5, {0: bare, 1: bare, 2: bare}))         # nobody sent the item yet
    assert q5._grant_decided(replies(5, {0: bare, 1: bare, 2: [1, 4, b"x"]}))     # one did
    assert q5._grant_decided(replies(5, {i: bare for i in range(5)}))              # everyone answered
    assert q5._grant_decided(replies(5, {0: [0], 1: [0], 2: [-1]}))                 # a quorum is impossible
    assert not q5._grant_decided(replies(5, {0: [0], 1: [1, 2, b"x"]}))


def test_a_scan_round_waits_for_every_node_while_the_quorum_offers_nothing(q5):
    empty, held_only, offers = [], [b"1-a", b"0", 0], [b"1-a", b"0", 1]
    assert not q5._scan_decided(replies(5, {0: empty, 1: empty, 2: held_only}))
    assert q5._scan_decided(replies(5, {0: empty, 1: empty, 2: offers}))
    assert q5._scan_decided(replies(5, {i: empty for i in range(5)}))
    assert q5._scan_decided(replies(5, {0: ConnectionError(), 1: ConnectionError(), 2: TimeoutError()}))
    assert not q5._scan_decided(replies(5, {0: offers, 1: offers}))  # not yet a quorum


def test_failure_for_lack_of_answers_is_told_apart_from_refusals(q5):
    from majorityredis.queue.queue import _renewed
    refused = replies(5, {0: 0, 1: 3, 2: -1, 3: 1})
    assert not q5._for_lack_of_answers(refused, _renewed)           # the hold is certainly lost
    silent = replies(5, {0: 1, 1: 1, 2: TimeoutError(), 3: TimeoutError(), 4: 0})
    assert q5._for_lack_of_answers(silent, _renewed)                # it might still be held
