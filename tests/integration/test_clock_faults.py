"""The clock control on real processes: the library fakes the wall clock of a real redis-server
(and of /bin/date), keys expire by the faked clock, the clock faults really change a node's
clock on a real LocalCluster, heal puts it back, and nothing is left running."""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

import pytest

from harness.cluster.base import ClockUnsupported
from harness.cluster.clock import FILE_ENV, ClockControl, build_library, clock_library, is_attached
from harness.cluster.local import LocalCluster
from harness.cluster.processes import RedisServer
from harness.errors import EnvironmentFailure
from harness.faults import FAULTS
from tests.support.probes import alive, client
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def clocked_node(tmp_path: Path):  # type: ignore[no-untyped-def]
    """One real redis-server under clock control: (server, its ClockControl, a client)."""
    clock = ClockControl(tmp_path / "n1.clock")
    server = RedisServer("n1", tmp_path / "n1", clock=clock)
    server.start()
    conn = client(server.url, timeout=2.0)
    try:
        yield server, clock, conn
    finally:
        conn.close()
        server.stop()
        clock.close()


def lifetime(conn, key: str, timeout: float = 30.0) -> float:  # type: ignore[no-untyped-def]
    """Real seconds until `key` is gone (polled every 10 ms)."""
    started = time.monotonic()
    while conn.exists(key):
        assert time.monotonic() - started < timeout, f"{key} still there after {timeout} s"
        time.sleep(0.01)
    return time.monotonic() - started


def node_time(conn) -> float:  # type: ignore[no-untyped-def]
    seconds, micros = conn.time()
    return seconds + micros / 1e6


def test_the_library_fakes_the_wall_clock_of_any_process(tmp_path: Path) -> None:
    clock = ClockControl(tmp_path / "date.clock")
    clock.jump(86400)  # one day ahead
    env = clock.environment(clock_library())
    faked = int(subprocess.run(["date", "+%s"], env=env, capture_output=True, text=True, check=True).stdout)
    assert abs(faked - (time.time() + 86400)) < 5
    del env[FILE_ENV]  # no control file: the library passes the real clock through
    real = int(subprocess.run(["date", "+%s"], env=env, capture_output=True, text=True, check=True).stdout)
    assert abs(real - time.time()) < 5
    clock.close()


def unix_time(argv: list[str], env: dict[str, str]) -> int:
    return int(subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=30).stdout)


def test_time_is_faked_too_and_an_inconsistent_control_file_means_real_time(tmp_path: Path) -> None:
    clock = ClockControl(tmp_path / "c.clock")
    clock.jump(86400)
    env = clock.environment(clock_library())
    perl_time = ["perl", "-e", "print time"]  # libc time(), not clock_gettime
    assert abs(unix_time(perl_time, env) - (time.time() + 86400)) < 5
    raw = bytearray((tmp_path / "c.clock").read_bytes())
    raw[40] ^= 0xFF  # the check word no longer matches the fields: a torn read, as the library sees it
    (tmp_path / "c.clock").write_bytes(raw)
    assert abs(unix_time(["date", "+%s"], env) - time.time()) < 5
    raw[40] ^= 0xFF
    raw[8] |= 1  # seq odd: a write that never finished
    (tmp_path / "c.clock").write_bytes(raw)
    assert abs(unix_time(["date", "+%s"], env) - time.time()) < 5
    raw[8] &= 0xFE
    (tmp_path / "c.clock").write_bytes(raw)
    assert abs(unix_time(["date", "+%s"], env) - (time.time() + 86400)) < 5  # consistent again
    clock.close()


def test_a_node_under_clock_control_maps_its_control_file_and_tells_real_time_until_changed(clocked_node) -> None:
    server, clock, conn = clocked_node
    assert is_attached(server.pid, clock.path)
    assert abs(node_time(conn) - time.time()) < 0.5
    clock.jump(-3600)
    assert abs(node_time(conn) - (time.time() - 3600)) < 0.5  # seen at once: no cache, no restart


def test_a_jump_of_10_s_forward_expires_a_5_s_key_at_once(clocked_node) -> None:
    _, clock, conn = clocked_node
    conn.set("k", "v", px=5000)
    conn.set("control", "v", px=60000)
    clock.jump(10)
    assert conn.get("k") is None  # the next read finds it expired
    assert conn.get("control") == b"v"  # a key with time left is untouched


def test_at_rate_2_a_5_s_key_lives_about_2_5_s(clocked_node) -> None:
    _, clock, conn = clocked_node
    clock.set_rate(2.0)
    conn.set("k", "v", px=5000)
    lived = lifetime(conn, "k")
    assert 2.3 < lived < 3.5, lived  # 2.5 s, plus polling and a loaded machine


def test_a_jump_back_makes_a_key_live_longer(clocked_node) -> None:
    _, clock, conn = clocked_node
    conn.set("k", "v", px=2000)
    clock.jump(-3)
    lived = lifetime(conn, "k")
    assert 4.5 < lived < 7.0, lived  # 2 s + 3 s


def test_a_node_restarted_under_clock_control_keeps_its_skewed_clock(clocked_node) -> None:
    server, clock, conn = clocked_node
    clock.jump(600)
    server.restart(empty=True)
    fresh = client(server.url, timeout=2.0)
    try:
        assert is_attached(server.pid, clock.path)
        assert abs(node_time(fresh) - (time.time() + 600)) < 1.0
    finally:
        fresh.close()


def test_clock_faults_on_a_real_cluster_then_heal_and_no_process_left(tmp_path: Path) -> None:
    cluster = LocalCluster(3, 1, tmp_path / "run", clock_control=True)
    cluster.start()
    pids = cluster.pids()
    try:
        conns = {n: client(u, timeout=2.0) for n, u in zip(cluster.node_names, cluster.direct_urls())}
        for conn in conns.values():
            conn.set("lock", "v", px=5000)

        jump = FAULTS["clock-jump"]({"targets": ["n1", "n2"], "offset_s": 10}, fault_id=1)
        assert jump.start(cluster, random.Random(0)) == {"nodes": ["n1", "n2"], "offset_s": 10.0, "restore": True}
        assert [conns[n].get("lock") for n in cluster.node_names] == [None, None, b"v"]  # a majority lost it
        assert abs(node_time(conns["n1"]) - (time.time() + 10)) < 0.5
        assert abs(node_time(conns["n3"]) - time.time()) < 0.5

        rate = FAULTS["clock-rate"]({"targets": ["n2", "n3"], "rate": 3.0}, fault_id=2)
        rate.start(cluster, random.Random(0))
        before = {n: node_time(c) for n, c in conns.items()}
        time.sleep(1.0)
        advanced = {n: node_time(c) - before[n] for n, c in conns.items()}
        assert 0.9 < advanced["n1"] < 1.8 and 2.7 < advanced["n2"] < 4.5 and 2.7 < advanced["n3"] < 4.5, advanced

        assert jump.stop(cluster) == {"restored": ["n1", "n2"], "offset_s": -10.0}
        assert abs(node_time(conns["n1"]) - time.time()) < 0.5  # n1 ran at the real rate: back to real time
        assert node_time(conns["n2"]) - time.time() > 1.5      # n2 keeps what it gained at 3x
        stopped = rate.stop(cluster)
        assert stopped == {"nodes": ["n2", "n3"], "rates": {"n2": 1.0, "n3": 1.0}}
        ahead = node_time(conns["n3"]) - time.time()
        time.sleep(0.5)
        assert abs((node_time(conns["n3"]) - time.time()) - ahead) < 0.2  # real rate again, offset kept

        cluster.heal()
        for conn in conns.values():
            assert abs(node_time(conn) - time.time()) < 0.5  # healed: every clock is real again
            conn.close()
    finally:
        cluster.stop()
    assert len(pids) == 4 and [pid for pid in pids if alive(pid)] == []


def test_a_cluster_without_clock_control_refuses_clock_primitives(cluster: LocalCluster) -> None:
    with pytest.raises(ClockUnsupported, match="clock_control=True"):
        cluster.jump_clock("n1", 10)
    with pytest.raises(ClockUnsupported):
        FAULTS["clock-rate"]({"targets": ["n1"]}).start(cluster, random.Random(0))
    assert cluster.servers["n1"].clock is None  # nodes started as before: nothing preloaded
    environ = Path(f"/proc/{cluster.servers['n1'].pid}/environ").read_bytes()
    assert b"LD_PRELOAD" not in environ


def test_overlapping_rate_windows_on_a_real_node_run_at_the_latest_then_the_earlier_rate(tmp_path: Path) -> None:
    with LocalCluster(1, 1, tmp_path / "run", clock_control=True) as cluster:
        conn = client(cluster.direct_urls()[0], timeout=2.0)
        slow = FAULTS["clock-rate"]({"targets": ["n1"], "rate": 0.5}, fault_id=1)
        fast = FAULTS["clock-rate"]({"targets": ["n1"], "rate": 4.0}, fault_id=2)
        slow.start(cluster, random.Random(0))
        fast.start(cluster, random.Random(0))
        assert cluster.clock("n1").params.rate == 4.0
        assert slow.stop(cluster) == {"nodes": ["n1"], "rates": {"n1": 4.0}}  # the later window still holds
        start = node_time(conn)
        time.sleep(0.5)
        assert 1.6 < node_time(conn) - start < 3.0
        assert fast.stop(cluster)["rates"] == {"n1": 1.0}
        conn.close()


def test_no_c_compiler_is_an_environment_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("CC", raising=False)
    with pytest.raises(EnvironmentFailure, match="no C compiler") as caught:
        build_library(tmp_path / "bin" / "libmrclock.so")
    assert caught.value.exit_code == 4
    assert not (tmp_path / "bin" / "libmrclock.so").exists()


def test_the_library_builds_from_source(tmp_path: Path) -> None:
    target = tmp_path / "libmrclock.so"
    build_library(target)
    assert target.read_bytes()[:4] == b"\x7fELF"
    assert wait_until(lambda: not list(tmp_path.glob(".*.tmp")), timeout=1) is None  # no leftovers


def test_a_clock_scenario_without_a_compiler_stops_before_any_process_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.cluster.clock as clock_module
    from harness.runner import make_cluster, run_scenario

    monkeypatch.setattr(clock_module, "REPO_ROOT", tmp_path / "fresh-checkout")  # no bin/libmrclock.so yet
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.delenv("MR_CLOCK_LIB", raising=False)
    made = []

    def factory(scenario, run_dir):  # type: ignore[no-untyped-def]
        made.append(make_cluster(scenario, run_dir))
        return made[-1]

    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "clock-jump.yaml"
    with pytest.raises(EnvironmentFailure, match="no C compiler") as caught:
        run_scenario(scenario, results_dir=tmp_path / "r", duration=2, cluster_factory=factory)
    assert caught.value.exit_code == 4
    assert made and made[0].pids() == []  # nothing was started
