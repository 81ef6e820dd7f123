"""LocalCluster with real redis-server and toxiproxy-server processes."""

from __future__ import annotations

import threading

import pytest
import redis

from harness.cluster.base import Cluster
from harness.cluster.local import LocalCluster
from harness.cluster.processes import free_port
from harness.cluster.toxiproxy import ToxiproxyControl, ToxiproxyError
from harness.errors import EnvironmentFailure
from tests.support.probes import alive, client
from tests.support.probes import ping_outcome as outcome

pytestmark = pytest.mark.integration





def test_one_proxy_per_client_and_node_and_data_dirs_under_run_dir(cluster, tmp_path):
    assert isinstance(cluster, Cluster)
    assert cluster.node_names == ["n1", "n2", "n3"]
    assert set(cluster.control.proxies()) == {f"c{c}-n{n}" for c in range(2) for n in (1, 2, 3)}
    urls = [cluster.client_urls(0), cluster.client_urls(1)]
    assert len(set(urls[0] + urls[1])) == 6
    for url in urls[0] + urls[1] + cluster.direct_urls():
        assert outcome(url) == "ok"
    for name in cluster.node_names:
        assert (tmp_path / "run" / "nodes" / name / "redis.log").exists()
    direct = client(cluster.direct_urls()[0])
    assert direct.config_get("appendfsync") == {"appendfsync": "always"}
    # proxies reach their own node: a write through c1-n2 is visible on n2 only
    client(cluster.client_urls(1)[1]).set("where", "n2")
    assert [client(u).get("where") for u in cluster.direct_urls()] == [None, b"n2", None]


def test_persistence_none_and_everysec(tmp_path):
    for mode, expected in (("none", "no"), ("appendonly everysec", "yes")):
        with LocalCluster(1, 1, tmp_path / mode.replace(" ", "-"), mode) as c:
            assert client(c.direct_urls()[0]).config_get("appendonly")["appendonly"] == expected


def test_drop_cut_times_out_for_that_client_only_and_connect_restores(cluster):
    cluster.cut(0, "n2")
    assert outcome(cluster.client_urls(0)[1]) == "timeout"
    assert outcome(cluster.client_urls(1)[1]) == "ok"  # another client still reaches n2
    assert outcome(cluster.client_urls(0)[0]) == "ok"
    cluster.connect(0, "n2")
    assert outcome(cluster.client_urls(0)[1]) == "ok"


def test_drop_cut_hangs_an_open_connection(cluster):
    conn = client(cluster.client_urls(0)[0])
    assert conn.ping() is True
    cluster.cut(0, "n1")
    with pytest.raises(redis.TimeoutError):
        conn.ping()
    cluster.connect(0, "n1")
    assert conn.ping() is True  # redis-py reconnects after the timeout


def test_refuse_cut_refuses(cluster):
    cluster.cut(1, "n3", mode="refuse")
    assert outcome(cluster.client_urls(1)[2]) == "error"
    cluster.connect(1, "n3")
    assert outcome(cluster.client_urls(1)[2]) == "ok"


def test_cuts_are_reference_counted(cluster):
    cluster.cut(0, "n1")
    cluster.cut(0, "n1")
    cluster.connect(0, "n1")
    assert outcome(cluster.client_urls(0)[0]) == "timeout"
    cluster.connect(0, "n1")
    assert outcome(cluster.client_urls(0)[0]) == "ok"


def test_restart_from_a_thread_that_ends_survives_that_thread(cluster):
    """PDEATHSIG fires when the spawning thread exits; the cluster spawns on its own thread."""
    cluster.kill("n1")
    worker = threading.Thread(target=cluster.restart, args=("n1",))
    worker.start()
    worker.join()
    pid = cluster.servers["n1"].pid
    assert pid is not None and alive(pid)
    # the kernel delivers the death signal at thread exit; give it a moment to (not) happen
    threading.Event().wait(0.3)
    assert cluster.servers["n1"].is_running()
    assert outcome(cluster.client_urls(0)[0]) == "ok"


def test_heal_restores_links_toxics_paused_and_killed_nodes(cluster):
    def reach(c: int) -> list[str]:
        return [outcome(u) for u in cluster.client_urls(c)]

    assert reach(0) == reach(1) == ["ok", "ok", "ok"]
    cluster.cut(0, "n1")
    cluster.cut(1, "n2", mode="refuse")
    cluster.add_toxic("n3", "latency", {"latency": 500})
    # each fault is in effect and meets a PING: a dropped link and a 500 ms latency time out
    # (the probe waits 0.4 s), a refused link errors; the other links still answer
    assert reach(0) == ["timeout", "ok", "timeout"] and reach(1) == ["ok", "error", "timeout"]
    cluster.pause("n2")
    cluster.kill("n3")
    assert reach(0) == ["timeout", "timeout", "error"] and reach(1) == ["ok", "error", "error"]
    assert not cluster.servers["n3"].is_running()
    cluster.heal()
    assert cluster.control.toxics("c0-n1") == [] and cluster.control.toxics("c0-n3") == []
    assert all(p["enabled"] for p in cluster.control.proxies().values())
    for c in range(2):
        assert [outcome(u) for u in cluster.client_urls(c)] == ["ok", "ok", "ok"]
    assert cluster.cut_links() == {}


def test_stop_leaves_no_process_and_is_idempotent(tmp_path):
    c = LocalCluster(3, 2, tmp_path / "run")
    c.start()
    pids = c.pids()
    assert len(pids) == 4 and all(alive(p) for p in pids)
    c.pause("n1")  # a stopped process must die too
    c.stop()
    c.stop()
    assert not any(alive(p) for p in pids)
    assert c.pids() == []


def test_a_failed_start_kills_what_it_started(tmp_path, monkeypatch):
    c = LocalCluster(2, 1, tmp_path / "run")

    def broken_start():
        raise EnvironmentFailure("toxiproxy-server would not start: simulated")

    monkeypatch.setattr(c.toxiproxy, "start", broken_start)
    with pytest.raises(EnvironmentFailure):
        c.start()
    pids = [s.pid for s in c.servers.values()]
    assert all(p is None for p in pids) and c.pids() == []


def test_unknown_node_or_client_is_a_clear_error(cluster):
    with pytest.raises(ValueError, match="unknown node 'n9'"):
        cluster.cut(0, "n9")
    with pytest.raises(ValueError, match="unknown client slot 2"):
        cluster.client_urls(2)
    with pytest.raises(ValueError, match="cut mode"):
        cluster.cut(0, "n1", mode="explode")


def test_toxiproxy_control_calls_are_bounded_when_the_server_is_gone():
    control = ToxiproxyControl(f"http://127.0.0.1:{free_port()}", timeout=0.2, attempts=2)
    with pytest.raises(ToxiproxyError, match="is toxiproxy-server running"):
        control.reset()


def test_toxic_calls_are_idempotent(cluster):
    control = cluster.control
    control.add_toxic("c0-n1", "latency", toxic_name="slow", attributes={"latency": 5})
    control.add_toxic("c0-n1", "latency", toxic_name="slow", attributes={"latency": 9})  # exists: updated
    assert control.toxic_details("c0-n1")["slow"]["attributes"]["latency"] == 9
    control.remove_toxic("c0-n1", "slow")
    control.remove_toxic("c0-n1", "slow")  # already gone: fine
    assert control.toxics("c0-n1") == []
    with pytest.raises(ToxiproxyError, match="HTTP 404"):
        control.disable("no-such-proxy")
