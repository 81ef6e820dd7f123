"""Every fault really happens on a real LocalCluster (redis-server + toxiproxy-server), and heals."""

from __future__ import annotations

import random
import threading
import time

import pytest

from harness.cluster.local import LocalCluster
from harness.faults import FAULTS
from harness.faults.config import NemesisConfig
from harness.faults.schedule import Nemesis, build_schedule
from tests.support.probes import client
from tests.support.probes import ping_outcome as outcome
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration




def reach(cluster: LocalCluster, c: int) -> dict[str, str]:
    return dict(zip(cluster.node_names, (outcome(u) for u in cluster.client_urls(c))))


def all_ok(cluster: LocalCluster) -> bool:
    return all(v == "ok" for c in range(cluster.clients) for v in reach(cluster, c).values())


def test_partition_halves_cut_nodes_time_out_own_group_answers(cluster):
    fault = FAULTS["partition-halves"](fault_id=0)
    value = fault.start(cluster, random.Random(4))
    for group in value["groups"]:
        for c in group["clients"]:
            seen = reach(cluster, c)
            assert {n for n, v in seen.items() if v == "ok"} == set(group["nodes"])
            assert {n for n, v in seen.items() if v != "ok"} == \
                set(cluster.node_names) - set(group["nodes"])
            assert all(v in ("ok", "timeout") for v in seen.values())  # drop mode: timeouts
    fault.stop(cluster)
    assert all_ok(cluster)


def test_partition_node_refuse_mode_refuses(cluster):
    fault = FAULTS["partition-node"]({"targets": ["n3"], "mode": "refuse"})
    fault.start(cluster, random.Random(0))
    assert reach(cluster, 0) == {"n1": "ok", "n2": "ok", "n3": "error"}
    assert reach(cluster, 1)["n3"] == "error"
    fault.stop(cluster)
    assert all_ok(cluster)


def test_majorities_ring_and_bridge_and_client_cut_on_real_links(tmp_path):
    with LocalCluster(3, 3, tmp_path / "ring") as c:
        for kind in ("partition-majorities-ring", "partition-bridge", "partition-client"):
            fault = FAULTS[kind]()
            value = fault.start(c, random.Random(2))
            for client_slot in range(c.clients):
                cut = set(value["cut"].get(str(client_slot), []))
                seen = reach(c, client_slot)
                assert {n for n, v in seen.items() if v == "timeout"} == cut, kind
            fault.stop(c)
        assert all_ok(c)


def test_kill_refuses_and_restart_keeps_data_with_appendonly_always(cluster):
    direct = client(cluster.direct_urls()[1])
    direct.set("k", "v")
    fault = FAULTS["kill"]({"targets": ["n2"]})
    assert fault.start(cluster, random.Random(0))["nodes"] == ["n2"]
    assert reach(cluster, 0)["n2"] == "error"
    assert outcome(cluster.direct_urls()[1]) == "error"
    fault.stop(cluster)
    assert client(cluster.direct_urls()[1]).get("k") == b"v"
    assert reach(cluster, 1)["n2"] == "ok"


def test_kill_restart_empty_loses_the_key(cluster):
    client(cluster.direct_urls()[0]).set("k", "v")
    fault = FAULTS["kill"]({"targets": ["n1"], "empty": True})
    fault.start(cluster, random.Random(0))
    fault.stop(cluster)
    assert client(cluster.direct_urls()[0]).get("k") is None


def test_pause_times_out_and_resume_answers(cluster):
    fault = FAULTS["pause"]({"targets": ["n1"]})
    fault.start(cluster, random.Random(0))
    assert outcome(cluster.direct_urls()[0]) == "timeout"
    assert reach(cluster, 0)["n1"] == "timeout"
    fault.stop(cluster)
    assert outcome(cluster.direct_urls()[0]) == "ok"


def test_overlapping_kill_windows_keep_the_node_down_until_the_last_ends(cluster):
    first = FAULTS["kill"]({"targets": ["n2"]}, fault_id=1)
    second = FAULTS["kill"]({"targets": ["n2"]}, fault_id=2)
    first.start(cluster, random.Random(0))
    second.start(cluster, random.Random(0))
    assert first.stop(cluster)["held_down"] == ["n2"]
    assert outcome(cluster.direct_urls()[1]) == "error"  # the first window ended; the second holds it down
    second.stop(cluster)
    assert outcome(cluster.direct_urls()[1]) == "ok"


def test_a_pause_that_began_during_an_outage_holds_the_restarted_node(cluster):
    kill = FAULTS["kill"]({"targets": ["n1"]}, fault_id=1)
    pause = FAULTS["pause"]({"targets": ["n1"]}, fault_id=2)
    kill.start(cluster, random.Random(0))
    pause.start(cluster, random.Random(0))
    assert outcome(cluster.direct_urls()[0]) == "error"  # down
    kill.stop(cluster)
    assert cluster.is_running("n1") and outcome(cluster.direct_urls()[0]) == "timeout"  # up, but stopped
    pause.stop(cluster)
    assert outcome(cluster.direct_urls()[0]) == "ok"


def ping_seconds(url: str, n: int = 3) -> float:
    """The fastest of n PINGs on one connection (load only ever adds time, the toxic sets a floor)."""
    conn = client(url, timeout=2.0)
    conn.ping()  # connect first
    best = float("inf")
    for _ in range(n):
        started = time.monotonic()
        conn.ping()
        best = min(best, time.monotonic() - started)
    conn.close()
    return best


def test_latency_slows_the_chosen_links_only(cluster):
    url = cluster.client_urls(0)[0]
    before = ping_seconds(url)
    fault = FAULTS["latency"]({"targets": ["n1"], "clients": [0], "latency_ms": 150, "jitter_ms": 10},
                              fault_id=3)
    fault.start(cluster, random.Random(0))
    details = cluster.control.toxic_details("c0-n1")
    assert details["latency-3-downstream"]["attributes"]["latency"] == 150
    assert cluster.control.toxics("c1-n1") == []  # the other client is not slowed
    slowed = ping_seconds(url)
    assert slowed >= 0.1 and slowed > 5 * before  # generous: a 150 ms toxic vs a sub-ms loopback PING
    fault.stop(cluster)
    assert cluster.control.toxics("c0-n1") == []


def get_seconds(url: str, key: str, n: int = 1) -> float:
    """The fastest of n GETs of the 4 KB value on one connection."""
    conn = client(url, timeout=5.0)
    conn.ping()
    best = float("inf")
    for _ in range(n):
        started = time.monotonic()
        assert conn.get(key) == b"x" * 4096
        best = min(best, time.monotonic() - started)
    conn.close()
    return best


def test_bandwidth_limits_the_chosen_links(cluster):
    client(cluster.direct_urls()[1]).set("big", "x" * 4096)
    url = cluster.client_urls(1)[1]
    before = get_seconds(url, "big", n=3)
    fault = FAULTS["bandwidth"]({"targets": ["n2"], "rate_kbs": 8}, fault_id=1)
    fault.start(cluster, random.Random(0))
    assert cluster.control.toxic_details("c1-n2")["bandwidth-1-downstream"]["attributes"]["rate"] == 8
    # 4 KB at 8 KB/s takes about 0.5 s; a loopback GET takes well under a millisecond
    slowed = get_seconds(url, "big")
    assert slowed >= 0.2 and slowed > 5 * before
    fault.stop(cluster)
    assert cluster.control.toxics("c1-n2") == []


def test_reset_connections_resets(cluster):
    fault = FAULTS["reset-connections"]({"targets": ["n3"]}, fault_id=2)
    fault.start(cluster, random.Random(0))
    assert reach(cluster, 0)["n3"] == "error"
    assert reach(cluster, 1)["n1"] == "ok"
    fault.stop(cluster)
    assert all_ok(cluster)


def test_nemesis_on_a_real_cluster_records_restarts_from_its_thread_and_heals(cluster):
    config = NemesisConfig.model_validate({"schedule": [
        {"fault": "kill", "start": 0.0, "duration": 0.3, "targets": ["n1"]},
        {"fault": "partition-node", "start": 0.1, "duration": 30, "targets": ["n2"]}]})
    events: list[tuple[str, dict]] = []
    lock = threading.Lock()

    def record(f, value):
        with lock:
            events.append((f, value))

    nemesis = Nemesis(cluster, build_schedule(config, 60, seed=1), record)
    nemesis.start()
    wait_until(lambda: len(events) >= 3, 10.0, lambda: events)
    assert [(f, v["phase"]) for f, v in events] == [("kill", "start"), ("partition-node", "start"),
                                                   ("kill", "stop")]
    assert reach(cluster, 0)["n2"] == "timeout"  # the partition is in effect
    nemesis.stop_and_heal()
    assert nemesis._thread is not None and not nemesis._thread.is_alive()
    # restarted by the (now ended) nemesis thread, and it stays up: a child whose parent thread
    # ended would get its death signal at that thread's exit, which has passed
    assert cluster.servers["n1"].is_running()
    assert outcome(cluster.client_urls(0)[0]) == "ok"
    assert events[-1][0] == "partition-node" and events[-1][1]["phase"] == "stop"
    assert all_ok(cluster)
