"""The shell's `cluster` object: which node a number or name means, and the status table."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cluster.controls import ClusterControls, ClusterStatus, NodeStatus
from harness.cluster.local import LocalCluster


@pytest.fixture
def controls(tmp_path: Path) -> ClusterControls:
    return ClusterControls(LocalCluster(3, 1, tmp_path))  # never started: naming needs no process


def test_nodes_are_numbered_from_one_as_their_names(controls: ClusterControls) -> None:
    assert [controls.node(i) for i in (1, 2, 3)] == ["n1", "n2", "n3"]
    assert controls.node("n2") == "n2"


@pytest.mark.parametrize("bad", [0, 4, -1, "n4", "x", True, 1.0, None])
def test_a_wrong_node_is_a_clear_error(controls: ClusterControls, bad: object) -> None:
    with pytest.raises((ValueError, TypeError), match=r"1\.\.3|n1, n2, n3"):
        controls.node(bad)  # type: ignore[arg-type]


def test_partition_needs_a_node_and_latency_a_sign(controls: ClusterControls) -> None:
    with pytest.raises(ValueError, match="at least one node"):
        controls.partition()
    with pytest.raises(ValueError, match=">= 0"):
        controls.latency(-5)


def test_status_prints_as_a_table() -> None:
    status = ClusterStatus([NodeStatus(1, "n1", "killed", False, 0, "127.0.0.1:7001", None),
                            NodeStatus(2, "n2", "up", True, 150, "127.0.0.1:7002", 4242)])
    assert repr(status).splitlines() == [
        "node  state   link  latency  address         pid",
        "n1    killed  ok    -        127.0.0.1:7001  -",
        "n2    up      CUT   150 ms   127.0.0.1:7002  4242",
    ]
    assert status[1].cut and str(status) == repr(status)
