"""Property tests of the lock's pure decision logic (no Redis).

Two levels: the decision functions on arbitrary replies, and a model of N
nodes (lock key + fencing counter each) on which many clients acquire, write
back, extend, release and expire with arbitrary reachability and reply order,
driven only through the same decision functions. The model checks the two
promises: no acquisition succeeds while another hold is valid, and tokens of
successful acquisitions strictly increase.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from majorityredis.lock import (
    AcquireDecision,
    Vote,
    as_vote,
    decide_acquire,
    decide_write_back,
    slow_path_token,
)
from majorityredis.quorum import quorum_size
from majorityredis.validity import drift_seconds

cluster_sizes = st.sampled_from([1, 2, 3, 4, 5, 7])


@st.composite
def partial_votes(draw: st.DrawFn) -> tuple[int, dict[int, Vote]]:
    """A cluster size and the replies of some of its nodes (errors as None)."""
    n = draw(cluster_sizes)
    answered = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))
    return n, {node: draw(votes_) for node in answered}


votes_ = st.one_of(st.none(), st.tuples(st.booleans(), st.integers(0, 6), st.booleans()))


def _granted(votes: dict[int, Vote]) -> list[int]:
    """Counters of the granting nodes that have one."""
    return [v[1] for v in votes.values() if v is not None and v[0] and v[2]]


def _n_granted(votes: dict[int, Vote]) -> int:
    return sum(1 for v in votes.values() if v is not None and v[0])


@given(partial_votes(), st.booleans())
def test_acquired_means_a_quorum_granted_with_known_counter_equal_to_the_token(case, final):
    n, votes = case
    q = quorum_size(n)
    decision = decide_acquire(votes, n, q, final=final)
    known_grants = _granted(votes)
    granted = _n_granted(votes)
    unanswered = n - len(votes)
    if decision.outcome == "acquired":
        assert known_grants.count(decision.token) >= q
    elif decision.outcome == "write_back":
        # once every node answered (or no more answers come), or a quorum of the grants has
        # known counters (then the silent nodes cannot raise the token it needs)
        assert granted >= q and (final or unanswered == 0 or len(known_grants) >= q)
        assert all(known_grants.count(f) < q for f in known_grants)
        assert decision.token == slow_path_token(votes)
    elif decision.outcome == "refused":
        assert granted + unanswered < q
    else:
        assert decision.outcome == "wait"
        assert granted + unanswered >= q
        assert granted < q or (not final and unanswered > 0)


@pytest.mark.parametrize(("votes", "expected"), [
    ({}, 1),                                                  # nothing known: at least 1
    ({0: (True, 0, False), 1: (True, 0, False)}, 1),          # fresh nodes: counters unknown
    ({0: None, 1: None, 2: None}, 1),                         # only errors
    ({0: (True, 4, True), 1: (True, 6, True)}, 6),            # grants: their INCRed counters
    ({0: (True, 4, True), 1: (False, 6, True)}, 7),           # a refusal may carry token 6: 6 + 1
    ({0: (True, 9, True), 1: (False, 6, True)}, 9),           # ... unless a grant went further
    ({0: (True, 3, True), 1: (True, 99, False)}, 3),          # an unknown counter is ignored
    ({0: (False, 5, False), 1: (True, 2, True), 2: None}, 2),  # so is an unknown refusal's
    ({0: (False, 0, True), 1: (True, 0, False)}, 1),          # a known 0 refused: 0 + 1
])
def test_slow_path_token_examples_computed_by_hand(votes, expected):
    assert slow_path_token(votes) == expected


@given(st.dictionaries(st.integers(0, 6), votes_))
def test_slow_path_token_exceeds_every_counter_a_node_kept_and_every_incr(votes):
    token = slow_path_token(votes)
    assert token >= 1
    for v in votes.values():
        if v is not None and v[2]:
            # a granting node's INCR produced v[1]; a refusing node may hold the last token itself
            assert token >= v[1] if v[0] else token > v[1]


@given(partial_votes(), st.data())
def test_acquire_decisions_are_final(case, data):
    """More replies never undo "acquired" (same token) or "refused": deciding early is safe."""
    n, votes = case
    q = quorum_size(n)
    first = decide_acquire(votes, n, q)
    missing = [node for node in range(n) if node not in votes]
    more = dict(votes)
    for node in data.draw(st.lists(st.sampled_from(missing), unique=True) if missing else st.just([])):
        more[node] = data.draw(votes_)
    later = decide_acquire(more, n, q)
    if first.outcome in ("acquired", "refused"):
        assert later == first


@given(st.sampled_from([1, 3, 5]).flatmap(lambda n: st.tuples(st.just(n), st.dictionaries(
    st.integers(0, n - 1), st.one_of(st.none(), st.tuples(st.booleans(), st.integers(0, 6), st.just(True)))))),
    st.integers(0, 6))
def test_write_back_success_means_a_quorum_holds_with_counter_at_least_the_token(case, token):
    n, votes = case
    q = quorum_size(n)
    decision = decide_write_back(votes, token, n, q)
    holding = [v for v in votes.values() if v is not None and v[0] and v[1] >= token]
    assert (decision.outcome == "acquired") == (len(holding) >= q)
    if decision.outcome == "refused":
        assert len(holding) + n - len(votes) < q
    if decision.outcome == "acquired":
        assert decision.token == token


def test_examples_of_the_three_paths():
    q = quorum_size(5)
    equal = {0: (True, 7, True), 1: (True, 7, True), 2: (True, 7, True)}
    assert decide_acquire(equal, 5, q) == AcquireDecision("acquired", 7)
    # counters out of step: a quorum granted with known counters but no value has a quorum ->
    # write back the highest counter at once (the silent nodes are not waited for) ...
    behind = {0: (True, 7, True), 1: (True, 3, True), 2: (True, 7, True)}
    assert decide_acquire(behind, 5, q) == AcquireDecision("write_back", 7)
    # ... counting a refusing node's counter + 1 among those that answered
    assert decide_acquire({**behind, 3: (False, 9, True), 4: None}, 5, q) == AcquireDecision("write_back", 10)
    # an unknown counter in the granting quorum: wait for every node (one may carry the token)
    partly = {0: (True, 7, True), 1: (True, 0, False), 2: (True, 7, True)}
    assert decide_acquire(partly, 5, q).outcome == "wait"
    assert decide_acquire(partly, 5, q, final=True) == AcquireDecision("write_back", 7)
    # nodes without a counter never make a fast-path token, however many agree
    fresh = {0: (True, 0, False), 1: (True, 0, False), 2: (True, 0, False)}
    assert decide_acquire(fresh, 5, q).outcome == "wait"
    assert decide_acquire({**fresh, 3: (True, 4, True), 4: None}, 5, q) == AcquireDecision("write_back", 4)
    assert decide_acquire(fresh, 3, 2) == AcquireDecision("write_back", 1)   # the very first acquisition
    # a quorum with equal counters wins even if another granting node is ahead
    ahead = {0: (True, 4, True), 1: (True, 4, True), 2: (True, 9, True), 3: (True, 4, True)}
    assert decide_acquire(ahead, 5, q).token == 4
    assert decide_acquire({0: (False, 7, True), 1: None, 2: (False, 7, True)}, 5, q).outcome == "refused"
    assert decide_acquire({0: (True, 1, True), 1: None}, 5, q).outcome == "wait"


def test_as_vote_reads_script_replies_and_rejects_everything_else():
    assert as_vote([1, 5, 1]) == (True, 5, True)
    assert as_vote([1, 0, 0]) == (True, 0, False)
    assert as_vote([0, 3]) == (False, 3, True)       # WRITE_BACK replies: the counter is known
    assert as_vote(ConnectionError("down")) is None
    assert as_vote(b"OK") is None
    assert as_vote([1]) is None


def test_drift_is_ttl_times_factor_plus_ms():
    assert abs(drift_seconds(5.0, 0.01, 2) - 0.052) < 1e-12


# --------------------------------------------------------------------------------------------
# A model of the whole protocol on N nodes
# --------------------------------------------------------------------------------------------

@dataclass
class Node:
    value: str | None = None
    fence: int | None = None   # None: no counter key (never written, or the node lost its data)

    # the Lua scripts, in the model
    def acquire(self, value: str) -> Vote:
        if self.value is None:
            self.value = value
            if self.fence is None:
                return (True, 0, False)
            self.fence += 1
            return (True, self.fence, True)
        return (False, self.fence or 0, self.fence is not None)

    def write_back(self, value: str, token: int) -> Vote:
        self.fence = max(self.fence or 0, token)
        return (self.value == value, self.fence, True)

    def extend(self, value: str, token: int) -> int:
        if self.value not in (None, value):
            return 0
        healed = self.value is None
        self.value = value
        self.fence = max(self.fence or 0, token)
        return 2 if healed else 1

    def release(self, value: str) -> None:
        if self.value == value:
            self.value = None


@dataclass
class Model:
    nodes: list[Node]
    holder: tuple[str, int] | None = None      # the valid hold: (value, token)
    tokens: list[int] = field(default_factory=list)
    serial: int = 0
    lost_data: bool = False                    # one node restarted empty (at most once per run)

    @property
    def quorum(self) -> int:
        return quorum_size(len(self.nodes))


def _reach(data: st.DataObject, n: int, everyone: bool = False) -> list[int]:
    """The nodes a request reaches, in the order their replies arrive (all of them if `everyone`)."""
    return data.draw(st.permutations(range(n)).flatmap(
        lambda order: st.integers(n if everyone else 0, n).map(lambda k: list(order[:k]))))


def _model_acquire(model: Model, data: st.DataObject) -> None:
    n, q = len(model.nodes), model.quorum
    model.serial += 1
    value = f"v{model.serial}"
    votes: dict[int, Vote] = {}
    decision = decide_acquire(votes, n, q)
    # after a node lost its data, the promise needs the acquisition to hear from the nodes that
    # kept the counter: model that case as "every node answers" (in any order, decisions still early)
    reached = _reach(data, n, everyone=model.lost_data)
    executed = [model.nodes[i].acquire(value) for i in reached]  # every reached node runs the script
    for node, vote in zip(reached, executed):
        if decision.outcome != "wait":
            break  # early decision: later replies are not read (the script ran anyway)
        votes[node] = vote
        decision = decide_acquire(votes, n, q)
    if decision.outcome == "wait":  # the deadline: the unreached nodes never answer
        decision = decide_acquire(votes, n, q, final=True)
    token = decision.token if decision.outcome == "acquired" else None
    if token is not None:  # the fast path raises nodes it saw behind, without waiting
        behind = [i for i, v in votes.items() if v is not None and (v[1] < token or not v[2])]
        for i in data.draw(st.lists(st.sampled_from(behind), unique=True) if behind else st.just([])):
            model.nodes[i].write_back(value, token)
    if decision.outcome == "write_back":
        wb_votes: dict[int, Vote] = {}
        wb_reached = _reach(data, n)
        wb_executed = [model.nodes[i].write_back(value, decision.token) for i in wb_reached]
        wb = decide_write_back(wb_votes, decision.token, n, q)
        for node, vote in zip(wb_reached, wb_executed):
            if wb.outcome != "wait":
                break
            wb_votes[node] = vote
            wb = decide_write_back(wb_votes, decision.token, n, q)
        token = decision.token if wb.outcome == "acquired" else None
    if token is None:
        for i in _reach(data, n):  # undo reaches some nodes; the rest expire later
            model.nodes[i].release(value)
        return
    assert model.holder is None, f"two valid holds: {model.holder} and {(value, token)}"
    assert not model.tokens or token > model.tokens[-1], f"token {token} after {model.tokens}"
    model.tokens.append(token)
    model.holder = (value, token)


def _model_extend(model: Model, data: st.DataObject) -> None:
    if model.holder is None:
        return
    value, token = model.holder
    renewed = sum(1 for i in _reach(data, len(model.nodes)) if model.nodes[i].extend(value, token))
    if renewed < model.quorum:
        model.holder = None  # lost: the object stops relying on it (its keys stay until expiry)


def _model_release(model: Model, data: st.DataObject) -> None:
    if model.holder is None:
        return
    for i in _reach(data, len(model.nodes)):
        model.nodes[i].release(model.holder[0])
    model.holder = None


def _model_expire(model: Model, data: st.DataObject) -> None:
    """Every key of one value expires (they were all set with the same ttl)."""
    values = sorted({node.value for node in model.nodes if node.value is not None})
    if not values:
        return
    value = data.draw(st.sampled_from(values))
    for node in model.nodes:
        if node.value == value:
            node.value = None
    if model.holder is not None and model.holder[0] == value:
        model.holder = None


def _model_restart_empty(model: Model, data: st.DataObject) -> None:
    """One node loses everything — under the delayed-restart rule: no hold is valid meanwhile."""
    if model.lost_data or model.holder is not None:
        return
    model.lost_data = True
    model.nodes[data.draw(st.integers(0, len(model.nodes) - 1))] = Node()


STEPS = {"acquire": _model_acquire, "extend": _model_extend, "release": _model_release,
         "expire": _model_expire, "restart-empty": _model_restart_empty}


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from([3, 5]), st.data())
def test_model_mutual_exclusion_and_strictly_increasing_tokens(n, data):
    """Arbitrary reachability, reply order, early decisions, partial undos, out-of-step and
    missing counters, and one node restarted empty."""
    model = Model([Node(fence=data.draw(st.one_of(st.none(), st.integers(0, 4)))) for _ in range(n)])
    steps = data.draw(st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=40))
    for step in steps:
        STEPS[step](model, data)
    # the model's own sanity: a valid hold is on a quorum of nodes with counters >= its token
    if model.holder is not None:
        value, token = model.holder
        assert sum(1 for node in model.nodes
                   if node.value == value and (node.fence or 0) >= token) >= model.quorum
