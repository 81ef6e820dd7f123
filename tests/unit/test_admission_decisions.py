"""Property tests of the abstention rules (majorityredis.admission) in the pure decisions.

A node that lost its data answers ABSTAIN: neither a grant nor a refusal, never counted toward
a quorum, and its counter (it has none) never shapes a token.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from majorityredis.admission import ABSTAIN, check_hold_ttl, is_abstain, max_ttl_ms
from majorityredis.lock import (
    ABSTAINED,
    Vote,
    as_vote,
    decide_acquire,
    decide_write_back,
    slow_path_token,
)
from majorityredis.queue.plan import ABSTAINED as QUEUE_ABSTAINED
from majorityredis.queue.plan import parse_grant
from majorityredis.quorum import quorum_size

cluster_sizes = st.sampled_from([1, 2, 3, 4, 5, 7])
real_votes = st.one_of(st.none(), st.tuples(st.booleans(), st.integers(0, 6), st.booleans()))
votes_ = st.one_of(st.just(ABSTAINED), real_votes)


@st.composite
def votes_with_abstentions(draw: st.DrawFn) -> tuple[int, dict[int, Vote]]:
    n = draw(cluster_sizes)
    answered = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))
    return n, {node: draw(votes_) for node in answered}


def _voters(votes: dict[int, Vote]) -> dict[int, Vote]:
    return {node: v for node, v in votes.items() if v is not ABSTAINED}


@given(votes_with_abstentions(), st.booleans())
def test_an_acquisition_needs_a_quorum_of_non_abstaining_grants(case, final):
    n, votes = case
    q = quorum_size(n)
    decision = decide_acquire(votes, n, q, final=final)
    grants = [v for v in _voters(votes).values() if isinstance(v, tuple) and v[0]]
    if decision.outcome == "acquired":
        assert sum(1 for v in grants if v[2] and v[1] == decision.token) >= q
    if decision.outcome == "write_back":
        assert len(grants) >= q


@given(votes_with_abstentions(), st.booleans())
def test_an_abstention_decides_like_a_node_that_can_never_grant(case, final):
    """Neither grant nor refusal: the outcome is that of a refusal without a counter (a node
    that cannot grant and whose counter is unknown), and the abstainer's identity is never
    reported as a refusal."""
    n, votes = case
    q = quorum_size(n)
    as_refusal = {node: ((False, 0, False) if v is ABSTAINED else v) for node, v in votes.items()}
    assert decide_acquire(votes, n, q, final=final) == decide_acquire(as_refusal, n, q, final=final)


@given(votes_with_abstentions())
def test_abstentions_never_shape_the_slow_path_token(case):
    _, votes = case
    assert slow_path_token(votes) == slow_path_token(_voters(votes))


@given(st.sampled_from([1, 3, 5]).flatmap(lambda n: st.tuples(st.just(n), st.dictionaries(
    st.integers(0, n - 1), votes_))), st.integers(1, 6))
def test_write_back_success_never_counts_an_abstention(case, token):
    n, votes = case
    decision = decide_write_back(votes, token, n, quorum_size(n))
    if decision.outcome == "acquired":
        held = [v for v in _voters(votes).values() if isinstance(v, tuple) and v[0] and v[1] >= token]
        assert len(held) >= quorum_size(n)


def test_all_abstaining_is_refused_never_acquired():
    votes = {0: ABSTAINED, 1: ABSTAINED, 2: (True, 4, True)}
    assert decide_acquire(votes, 3, 2).outcome == "refused"
    assert decide_acquire({0: (True, 4, True), 1: ABSTAINED}, 3, 2).outcome == "wait"
    assert decide_acquire({0: (True, 4, True), 1: ABSTAINED, 2: (True, 4, True)}, 3, 2).token == 4


def test_abstain_replies_are_read_as_such_and_nothing_else_is():
    assert is_abstain(ABSTAIN) and is_abstain("ABSTAIN")
    assert not is_abstain(b"ABSTAINED") and not is_abstain(0) and not is_abstain([b"ABSTAIN"])
    assert as_vote(b"ABSTAIN") is ABSTAINED
    assert as_vote(b"OK") is None and as_vote([1, 2, 1]) == (True, 2, True)
    assert parse_grant(b"ABSTAIN").status == QUEUE_ABSTAINED
    assert not parse_grant(b"ABSTAIN").granted


def test_max_ttl_bounds_every_hold_and_off_means_no_check():
    assert max_ttl_ms(None) == 0 and max_ttl_ms(60.0) == 60000 and max_ttl_ms(0.0001) == 1
    check_hold_ttl(60.0, 60.0, "lock 'L':")
    check_hold_ttl(1e6, None, "lock 'L':")  # recovery off: no limit
    with pytest.raises(ValueError, match="max_ttl=60"):
        check_hold_ttl(60.5, 60.0, "lock 'L':")
