"""Fault logic without servers: target choice, partition patterns, what each fault asks the cluster.

`RecordingCluster` is a stand-in for the Cluster primitives (no Redis involved): it
keeps the link/toxic/process state the faults produce so the patterns can be asserted.
The live effect of every fault is tested in tests/integration/test_faults_live.py.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.faults import FAULTS
from harness.faults.base import choose_clients, choose_nodes


class RecordingCluster:
    def __init__(self, nodes: int = 5, clients: int = 5) -> None:
        self.node_names = [f"n{i + 1}" for i in range(nodes)]
        self.clients = clients
        self.cuts: Counter[tuple[int, str]] = Counter()
        self.modes: dict[tuple[int, str], str] = {}
        self.toxics: dict[tuple[int, str], dict[str, tuple[str, str, dict]]] = {}
        self.calls: list[tuple] = []

    def cut(self, client, node, *, mode="drop"):
        assert node in self.node_names and 0 <= client < self.clients
        self.cuts[(client, node)] += 1
        self.modes[(client, node)] = mode

    def connect(self, client, node):
        self.cuts[(client, node)] -= 1
        if self.cuts[(client, node)] == 0:
            del self.cuts[(client, node)]

    def reachable(self, client):
        return [n for n in self.node_names if self.cuts[(client, n)] == 0]

    def kill(self, node):
        self.calls.append(("kill", node))

    def restart(self, node, *, empty=False):
        self.calls.append(("restart", node, empty))

    def pause(self, node):
        self.calls.append(("pause", node))

    def resume(self, node):
        self.calls.append(("resume", node))

    def jump_clock(self, node, offset_s):
        self.calls.append(("jump_clock", node, offset_s))

    def set_clock_rate(self, node, rate):
        self.calls.append(("set_clock_rate", node, rate))

    def reset_clock(self, node):
        self.calls.append(("reset_clock", node))

    def add_toxic(self, node, toxic_type, attributes, *, clients=None, stream="downstream", name=None):
        for client in (range(self.clients) if clients is None else clients):
            self.toxics.setdefault((client, node), {})[name] = (toxic_type, stream, dict(attributes))

    def remove_toxics(self, node, *, clients=None, names=None):
        for client in (range(self.clients) if clients is None else clients):
            present = self.toxics.get((client, node), {})
            for name in list(present):
                if names is None or name in names:
                    del present[name]

    def heal(self):
        self.cuts.clear()
        self.toxics.clear()
        self.calls.append(("heal",))


def majority(n: int) -> int:
    return n // 2 + 1


# -- target choice -------------------------------------------------------------

def test_choose_nodes_keywords_counts_and_names():
    nodes = ["n1", "n2", "n3", "n4", "n5"]
    rng = random.Random(3)
    assert len(choose_nodes("random", nodes, rng)) == 1
    assert len(choose_nodes("minority", nodes, rng)) == 2
    assert len(choose_nodes("majority", nodes, rng)) == 3
    assert choose_nodes("all", nodes, rng) == nodes
    assert len(choose_nodes(4, nodes, rng)) == 4
    assert choose_nodes(["n4", "n2"], nodes, rng) == ["n2", "n4"]  # node order
    with pytest.raises(ValueError, match="unknown node"):
        choose_nodes(["n9"], nodes, rng)
    with pytest.raises(ValueError, match="cannot choose 6 of 5"):
        choose_nodes(6, nodes, rng)


def test_choose_clients():
    rng = random.Random(1)
    assert choose_clients("all", 3, rng) == [0, 1, 2]
    assert len(choose_clients("random", 3, rng)) == 1
    assert choose_clients([2, 0], 3, rng) == [0, 2]
    with pytest.raises(ValueError, match="unknown client slot"):
        choose_clients([3], 3, rng)


def test_same_rng_seed_same_targets():
    nodes = [f"n{i}" for i in range(1, 8)]
    picks = [choose_nodes("minority", nodes, random.Random(42)) for _ in range(3)]
    assert picks[0] == picks[1] == picks[2]
    assert len({tuple(choose_nodes("majority", nodes, random.Random(s))) for s in range(20)}) > 1


# -- partitions ----------------------------------------------------------------

@pytest.mark.parametrize("seed", range(10))
def test_partition_halves_each_client_reaches_only_its_group(seed):
    cluster = RecordingCluster(5, 4)
    fault = FAULTS["partition-halves"]()
    value = fault.start(cluster, random.Random(seed))
    groups = value["groups"]
    assert sorted(n for g in groups for n in g["nodes"]) == cluster.node_names  # nodes split in two
    assert sorted(c for g in groups for c in g["clients"]) == [0, 1, 2, 3]
    assert sorted(len(g["nodes"]) for g in groups) == [2, 3]  # a minority and a majority
    for group in groups:
        for client in group["clients"]:
            assert cluster.reachable(client) == group["nodes"]
            assert value["cut"].get(str(client), []) == [n for n in cluster.node_names
                                                          if n not in group["nodes"]]
    fault.stop(cluster)
    assert not cluster.cuts


@pytest.mark.parametrize("nodes,clients", [(5, 5), (5, 3), (3, 3), (5, 12)])
def test_majorities_ring_every_client_sees_a_distinct_majority(nodes, clients):
    cluster = RecordingCluster(nodes, clients)
    value = FAULTS["partition-majorities-ring"]().start(cluster, random.Random(7))
    seen = [tuple(cluster.reachable(c)) for c in range(clients)]
    assert all(len(s) == majority(nodes) for s in seen)
    assert [list(s) for s in seen] == [value["sees"][str(c)] for c in range(clients)]
    from math import comb
    assert len(set(seen)) == min(clients, comb(nodes, majority(nodes)))  # no repeats while avoidable


def test_majorities_ring_no_single_node_is_seen_by_all_when_nodes_equal_clients():
    cluster = RecordingCluster(5, 5)
    FAULTS["partition-majorities-ring"]().start(cluster, random.Random(1))
    # ring arcs: every node is seen by exactly `majority` clients, so the views differ
    per_node = Counter(n for c in range(5) for n in cluster.reachable(c))
    assert set(per_node.values()) == {3}


@pytest.mark.parametrize("seed", range(5))
def test_bridge_two_groups_share_one_node_and_both_hold_a_majority(seed):
    cluster = RecordingCluster(5, 4)
    value = FAULTS["partition-bridge"]().start(cluster, random.Random(seed))
    left, right = (set(g["nodes"]) for g in value["groups"])
    assert left & right == {value["bridge"]}
    assert left | right == set(cluster.node_names)
    assert len(left) == len(right) == 3
    for group in value["groups"]:
        for client in group["clients"]:
            assert cluster.reachable(client) == group["nodes"]


def test_partition_node_isolates_targets_from_every_client_and_mode_is_passed():
    cluster = RecordingCluster(5, 3)
    fault = FAULTS["partition-node"]({"targets": ["n2", "n5"], "mode": "refuse"})
    value = fault.start(cluster, random.Random(0))
    assert value["isolated"] == ["n2", "n5"] and value["mode"] == "refuse"
    for client in range(3):
        assert cluster.reachable(client) == ["n1", "n3", "n4"]
    assert set(cluster.modes.values()) == {"refuse"}
    assert fault.stop(cluster)["healed"] == {str(c): ["n2", "n5"] for c in range(3)}
    assert not cluster.cuts


def test_partition_client_cuts_one_client_from_a_majority():
    cluster = RecordingCluster(5, 4)
    value = FAULTS["partition-client"]().start(cluster, random.Random(9))
    client = value["client"]
    assert len(value["isolated_from"]) == 3
    assert cluster.reachable(client) == [n for n in cluster.node_names if n not in value["isolated_from"]]
    assert all(cluster.reachable(c) == cluster.node_names for c in range(4) if c != client)


def test_overlapping_partitions_release_only_their_own_cuts():
    cluster = RecordingCluster(3, 2)
    a = FAULTS["partition-node"]({"targets": ["n1"]})
    b = FAULTS["partition-client"]({"client": 0, "targets": ["n1", "n2"]})
    a.start(cluster, random.Random(0))
    b.start(cluster, random.Random(0))
    a.stop(cluster)
    assert cluster.reachable(0) == ["n3"]  # b still holds n1 and n2
    assert cluster.reachable(1) == ["n1", "n2", "n3"]
    b.stop(cluster)
    assert cluster.reachable(0) == ["n1", "n2", "n3"]


# -- processes -----------------------------------------------------------------

def test_kill_restarts_at_stop_keeping_data_or_empty():
    cluster = RecordingCluster(3, 1)
    keep = FAULTS["kill"]({"targets": ["n2"]})
    assert keep.start(cluster, random.Random(0))["nodes"] == ["n2"]
    keep.stop(cluster)
    empty = FAULTS["kill"]({"targets": ["n3"], "empty": True})
    empty.start(cluster, random.Random(0))
    empty.stop(cluster)
    assert cluster.calls == [("kill", "n2"), ("restart", "n2", False), ("kill", "n3"), ("restart", "n3", True)]


def test_kill_without_restart_leaves_the_node_down_and_delay_extends_the_window():
    cluster = RecordingCluster(3, 1)
    fault = FAULTS["kill"]({"targets": "majority", "restart": False, "delay": 4})
    nodes = fault.start(cluster, random.Random(0))["nodes"]
    assert fault.stop(cluster) == {"restarted": [], "empty": False}
    assert cluster.calls == [("kill", n) for n in nodes] and len(nodes) == 2
    assert fault.extra_window() == 4.0


def test_pause_resumes_what_it_paused():
    cluster = RecordingCluster(5, 1)
    fault = FAULTS["pause"]({"targets": 2})
    nodes = fault.start(cluster, random.Random(5))["nodes"]
    assert fault.stop(cluster) == {"resumed": nodes}
    assert cluster.calls == [("pause", n) for n in nodes] + [("resume", n) for n in nodes]


# -- network -------------------------------------------------------------------

def test_latency_toxics_on_chosen_links_both_streams_and_removed_at_stop():
    cluster = RecordingCluster(3, 3)
    fault = FAULTS["latency"]({"targets": ["n1"], "clients": [0, 2], "latency_ms": 80,
                               "jitter_ms": 10, "stream": "both"}, fault_id=7)
    value = fault.start(cluster, random.Random(0))
    assert value == {"nodes": ["n1"], "clients": [0, 2], "stream": "both", "latency_ms": 80, "jitter_ms": 10}
    assert set(cluster.toxics) == {(0, "n1"), (2, "n1")}
    assert cluster.toxics[(0, "n1")] == {
        "latency-7-upstream": ("latency", "upstream", {"latency": 80, "jitter": 10}),
        "latency-7-downstream": ("latency", "downstream", {"latency": 80, "jitter": 10})}
    fault.stop(cluster)
    assert all(not t for t in cluster.toxics.values())


def test_overlapping_toxic_windows_do_not_remove_each_other():
    cluster = RecordingCluster(1, 1)
    first = FAULTS["latency"]({"latency_ms": 10}, fault_id=1)
    second = FAULTS["bandwidth"]({"rate_kbs": 5}, fault_id=2)
    first.start(cluster, random.Random(0))
    second.start(cluster, random.Random(0))
    first.stop(cluster)
    assert cluster.toxics[(0, "n1")] == {"bandwidth-2-downstream": ("bandwidth", "downstream", {"rate": 5})}


def test_reset_connections_uses_reset_peer():
    cluster = RecordingCluster(2, 1)
    FAULTS["reset-connections"]({"targets": "all", "timeout_ms": 5}, fault_id=0).start(cluster, random.Random(0))
    assert cluster.toxics[(0, "n2")] == {"reset-connections-0-downstream": ("reset_peer", "downstream", {"timeout": 5})}


def test_every_registered_fault_has_kind_params_and_defaults():
    from harness.sim.cluster import sim_cluster_for

    cluster = RecordingCluster(5, 3)
    simulated = sim_cluster_for(1, 5, 3, "none")  # simulation-only faults need its primitives
    restarted: list[int] = []
    simulated.client_starter = restarted.append
    for kind, cls in FAULTS.items():
        assert cls.kind == kind
        assert cls.Params.model_config.get("extra") == "forbid"
        fault = cls()  # defaults are valid
        target = simulated if cls.simulation_only else cluster
        assert isinstance(fault.start(target, random.Random(1)), dict)
        assert isinstance(fault.stop(target), dict)
    assert not cluster.cuts
    assert restarted  # client-crash restarts the crashed client at its stop
    assert all(host.up and not host.paused for host in simulated.world.nodes.values())


# -- overlapping process faults compose (harness.faults.node_holds) --------------

def test_overlapping_kills_restart_the_node_when_the_last_window_ends():
    cluster = RecordingCluster(3, 1)
    first = FAULTS["kill"]({"targets": ["n1"]}, fault_id=1)
    second = FAULTS["kill"]({"targets": ["n1"], "empty": True}, fault_id=2)
    first.start(cluster, random.Random(0))
    assert second.start(cluster, random.Random(0))["already_down"] == ["n1"]
    assert first.stop(cluster) == {"restarted": [], "empty": False, "held_down": ["n1"]}
    assert cluster.calls == [("kill", "n1")]  # still down: the second window holds it
    assert second.stop(cluster)["restarted"] == ["n1"]
    assert cluster.calls == [("kill", "n1"), ("restart", "n1", True)]  # empty: one window of the outage asked


def test_a_pause_during_an_outage_stops_the_node_when_it_comes_back():
    cluster = RecordingCluster(3, 1)
    kill = FAULTS["kill"]({"targets": ["n2"]}, fault_id=1)
    pause = FAULTS["pause"]({"targets": ["n2"]}, fault_id=2)
    kill.start(cluster, random.Random(0))
    pause.start(cluster, random.Random(0))
    kill.stop(cluster)
    assert cluster.calls == [("kill", "n2"), ("restart", "n2", False), ("pause", "n2")]
    assert pause.stop(cluster) == {"resumed": ["n2"]}
    assert cluster.calls[-1] == ("resume", "n2")


def test_overlapping_pauses_resume_when_the_last_window_ends():
    cluster = RecordingCluster(3, 1)
    first, second = (FAULTS["pause"]({"targets": ["n3"]}, fault_id=i) for i in (1, 2))
    first.start(cluster, random.Random(0))
    second.start(cluster, random.Random(0))
    assert first.stop(cluster) == {"resumed": [], "held": ["n3"]}
    assert second.stop(cluster) == {"resumed": ["n3"]}
    assert cluster.calls == [("pause", "n3"), ("resume", "n3")]


class NodeStateCluster(RecordingCluster):
    """Tracks each node's process state from the calls and refuses impossible ones."""

    def __init__(self, nodes: int) -> None:
        super().__init__(nodes, 1)
        self.down: set[str] = set()
        self.stopped: set[str] = set()

    def kill(self, node):
        super().kill(node)
        self.down.add(node)
        self.stopped.discard(node)

    def restart(self, node, *, empty=False):
        super().restart(node, empty=empty)
        self.down.discard(node)
        self.stopped.discard(node)

    def pause(self, node):
        assert node not in self.down, "SIGSTOP of a node that is down"
        super().pause(node)
        self.stopped.add(node)

    def resume(self, node):
        assert node not in self.down, "SIGCONT of a node that is down"
        super().resume(node)
        self.stopped.discard(node)


@given(st.lists(st.tuples(st.sampled_from(["kill", "pause"]), st.sampled_from(["n1", "n2"]),
                          st.integers(0, 20), st.integers(1, 10)), min_size=1, max_size=8))
def test_any_overlap_of_kill_and_pause_windows_leaves_each_node_as_its_open_windows_say(windows):
    """After every start and stop: a node is down iff a kill window on it is open, and
    stopped iff a pause window is open and it is up."""
    cluster = NodeStateCluster(2)
    actions = []
    for i, (kind, node, start, length) in enumerate(windows):
        fault = FAULTS[kind]({"targets": [node]}, fault_id=i)
        actions += [(start, 1, i, "start", fault, kind, node), (start + length, 0, i, "stop", fault, kind, node)]
    open_windows: set[tuple[int, str, str]] = set()
    for _at, _order, i, phase, fault, kind, node in sorted(actions, key=lambda a: a[:3]):
        if phase == "start":
            fault.start(cluster, random.Random(0))
            open_windows.add((i, kind, node))
        else:
            fault.stop(cluster)
            open_windows.discard((i, kind, node))
        for name in cluster.node_names:
            killed = any(k == "kill" and n == name for _i, k, n in open_windows)
            paused = any(k == "pause" and n == name for _i, k, n in open_windows)
            assert (name in cluster.down) == killed
            assert (name in cluster.stopped) == (paused and not killed)
