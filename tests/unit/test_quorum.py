"""Properties of the pure quorum arithmetic (majorityredis.quorum)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from majorityredis.quorum import Tally, quorum_size

sizes = st.integers(min_value=1, max_value=200)


@given(sizes)
def test_quorum_is_a_strict_majority(n):
    q = quorum_size(n)
    assert 2 * q > n          # a strict majority ...
    assert 2 * (q - 1) <= n   # ... and the smallest one
    assert 1 <= q <= n


@given(sizes, st.data())
def test_any_two_quorums_intersect(n, data):
    q = quorum_size(n)
    nodes = list(range(n))
    a = set(data.draw(st.permutations(nodes))[:q])
    b = set(data.draw(st.permutations(nodes))[:q])
    assert a & b


def test_any_two_quorums_intersect_exhaustively_for_small_clusters():
    for n in range(1, 8):
        quorums = [set(c) for c in itertools.combinations(range(n), quorum_size(n))]
        assert all(a & b for a in quorums for b in quorums)


@pytest.mark.parametrize("n", [0, -1, -5])
def test_quorum_of_no_servers_is_an_error(n):
    with pytest.raises(ValueError, match="n_servers"):
        quorum_size(n)


@st.composite
def tallies(draw):
    n = draw(sizes)
    agreed = draw(st.integers(0, n))
    refused = draw(st.integers(0, n - agreed))
    return Tally(n, quorum_size(n), agreed, refused)


@given(tallies())
def test_reached_and_impossible_are_never_both_true(tally):
    assert not (tally.reached and tally.impossible)
    assert tally.decided == (tally.reached or tally.impossible)
    assert tally.reached == (tally.agreed >= tally.quorum)
    assert tally.undecided == tally.n_servers - tally.agreed - tally.refused >= 0


@given(sizes, st.data())
def test_decided_is_monotone_as_votes_arrive(n, data):
    """Once decided, more votes never undo the decision nor flip it between reached and impossible."""
    votes = data.draw(st.lists(st.booleans(), max_size=n))
    q = quorum_size(n)
    agreed = refused = 0
    first: tuple[bool, bool] | None = None
    for vote in votes:
        agreed, refused = agreed + vote, refused + (not vote)
        tally = Tally(n, q, agreed, refused)
        if first is not None:
            assert tally.decided
            assert (tally.reached, tally.impossible) == first
        elif tally.decided:
            first = (tally.reached, tally.impossible)
    if len(votes) == n:
        assert Tally(n, q, agreed, refused).decided  # every vote in: always decided


@given(st.integers(1, 50), st.data())
def test_servers_without_a_client_stay_undecided(n_clients, data):
    """n_servers > clients: servers nobody asked are undecided votes, never counted as agreement."""
    n = n_clients + data.draw(st.integers(0, n_clients))
    q = quorum_size(n)
    refused = data.draw(st.integers(0, n_clients))
    tally = Tally(n, q, n_clients - refused, refused)   # every client answered
    assert tally.undecided == n - n_clients
    assert tally.reached == (n_clients - refused >= q)
    # so a caller must judge "reached" after the fan-out ends, not wait for "decided"
    assert tally.decided or n_clients - refused + tally.undecided >= q


@pytest.mark.parametrize(("n", "agreed", "refused", "undecided", "reached", "impossible"), [
    # n  agreed refused  undecided reached impossible     (quorum = n // 2 + 1)
    (1, 0, 0, 1, False, False),
    (1, 1, 0, 0, True, False),
    (1, 0, 1, 0, False, True),
    (2, 1, 0, 1, False, False),   # quorum 2: one yes, one to come
    (2, 1, 1, 0, False, True),    # quorum 2: one no is enough to fail
    (2, 2, 0, 0, True, False),
    (3, 2, 0, 1, True, False),
    (3, 1, 1, 1, False, False),   # the last vote decides
    (3, 0, 2, 1, False, True),
    (4, 2, 1, 1, False, False),   # quorum 3: 2 + 1 undecided can still make it
    (4, 2, 2, 0, False, True),
    (4, 1, 2, 1, False, True),    # 1 + 1 < 3
    (4, 3, 1, 0, True, False),
    (5, 3, 2, 0, True, False),
    (5, 2, 2, 1, False, False),
    (5, 2, 3, 0, False, True),
    (5, 0, 0, 5, False, False),
])
def test_tally_examples_computed_by_hand(n, agreed, refused, undecided, reached, impossible):
    tally = Tally(n, quorum_size(n), agreed, refused)
    assert (tally.undecided, tally.reached, tally.impossible, tally.decided) == (
        undecided, reached, impossible, reached or impossible)


def test_tally_counts_servers_without_a_client_as_undecided():
    """5 servers, 3 clients that all answered (2 yes, 1 no): quorum 3 is still possible, not reached."""
    tally = Tally(5, 3, 2, 1)
    assert (tally.undecided, tally.reached, tally.impossible, tally.decided) == (2, False, False, False)
