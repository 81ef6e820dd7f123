"""The clock model, the control file the library reads, how clock-fault windows compose,
per-checker expectations (schema and outcome), and clock faults rejected on an external cluster."""

from __future__ import annotations

import random
import struct
import textwrap
from pathlib import Path

import pytest

from harness import exitcodes
from harness.cluster.clock import CHECK_SALT, LAYOUT, MAGIC, NS, VERSION, ClockControl, ClockParams, check_word
from harness.errors import BadInput
from harness.faults import FAULTS
from harness.faults.node_holds import holds_for
from harness.results import build_results, checker_expectations, outcome
from harness.scenario.loader import load_scenario

# -- the clock model -------------------------------------------------------------------

def test_a_jump_adds_to_the_reading_and_keeps_the_rate() -> None:
    p = ClockParams.real(1_000 * NS).rated(1_000 * NS, 2.0)
    jumped = p.jumped(1_004 * NS, 10 * NS)
    assert jumped.reading(1_004 * NS) == p.reading(1_004 * NS) + 10 * NS == 1_018 * NS
    assert jumped.rate == 2.0
    assert jumped.reading(1_005 * NS) - jumped.reading(1_004 * NS) == 2 * NS


def test_a_rate_change_continues_from_the_current_reading_without_a_step() -> None:
    p = ClockParams.real(0).jumped(0, 5 * NS)
    fast = p.rated(3 * NS, 1.5)
    assert fast.reading(3 * NS) == p.reading(3 * NS) == 8 * NS  # continuous at the change
    assert fast.reading(5 * NS) == 11 * NS                       # 2 real s -> 3 clock s
    slow_again = fast.rated(5 * NS, 1.0)
    assert slow_again.offset_ns(5 * NS) == slow_again.offset_ns(50 * NS) == 6 * NS  # the gain stays


def test_real_params_are_the_identity_and_bad_rates_are_refused() -> None:
    p = ClockParams.real(123)
    assert p.is_real() and p.reading(10**18) == 10**18
    for rate in (0, -1.0, float("nan")):
        with pytest.raises(ValueError):
            p.rated(0, rate)


def test_the_control_file_has_the_layout_the_library_reads(tmp_path: Path) -> None:
    control = ClockControl(tmp_path / "n1.clock")
    params = control.jump(-7.5)

    def decode() -> tuple:
        return LAYOUT.unpack((tmp_path / "n1.clock").read_bytes()[:LAYOUT.size])

    magic, version, seq, base_real, base_fake, rate, check = decode()
    assert (magic, version) == (MAGIC, VERSION) and (tmp_path / "n1.clock").read_bytes()[:4] == b"MRCK"
    assert seq % 2 == 0 and seq > 0  # even: no write in progress
    assert (base_real, base_fake, rate) == (params.base_real_ns, params.base_fake_ns, 1.0)
    assert base_fake - base_real == -7_500_000_000
    assert check == check_word(base_real, base_fake, rate)
    rate_bits = struct.unpack("=Q", struct.pack("=d", rate))[0]
    assert check == (base_real ^ (base_fake & (2**64 - 1)) ^ rate_bits ^ CHECK_SALT)
    control.set_rate(3.0)
    assert decode()[2] == seq + 2 and decode()[5] == 3.0
    control.reset()
    assert decode()[3] == decode()[4] and decode()[5] == 1.0
    control.close()
    with pytest.raises(RuntimeError, match="closed"):
        control.jump(1)


def test_a_clocked_node_refuses_to_start_when_the_file_is_not_mapped(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.cluster.processes as processes

    monkeypatch.setattr(processes, "is_attached", lambda pid, path: False)  # as if the library did not load
    server = processes.RedisServer("n1", tmp_path / "n1", clock=ClockControl(tmp_path / "n1.clock"))
    with pytest.raises(processes.EnvironmentFailure, match="without its clock control"):
        server.start()
    assert not server.is_running()


# -- clock-fault windows compose (harness.faults.node_holds) ------------------------

class ClockModelCluster:
    """A cluster whose node clocks are ClockParams driven by a fake real time `now`."""

    def __init__(self, nodes: int = 3) -> None:
        self.node_names = [f"n{i + 1}" for i in range(nodes)]
        self.clients = 1
        self.now = 0
        self.clocks = {n: ClockParams.real(0) for n in self.node_names}
        self.calls: list[tuple] = []

    def jump_clock(self, node: str, offset_s: float) -> None:
        self.calls.append(("jump", node, offset_s))
        self.clocks[node] = self.clocks[node].jumped(self.now, round(offset_s * NS))

    def set_clock_rate(self, node: str, rate: float) -> None:
        self.calls.append(("rate", node, rate))
        self.clocks[node] = self.clocks[node].rated(self.now, rate)

    def offset_s(self, node: str) -> float:
        return self.clocks[node].offset_ns(self.now) / NS


def test_overlapping_jumps_add_up_and_each_restore_undoes_its_own() -> None:
    cluster = ClockModelCluster()
    a = FAULTS["clock-jump"]({"targets": ["n1", "n2"], "offset_s": 10}, fault_id=1)
    b = FAULTS["clock-jump"]({"targets": ["n2"], "offset_s": -3}, fault_id=2)
    a.start(cluster, random.Random(0))
    b.start(cluster, random.Random(0))
    assert [cluster.offset_s(n) for n in cluster.node_names] == [10, 7, 0]
    assert a.stop(cluster) == {"restored": ["n1", "n2"], "offset_s": -10}
    assert [cluster.offset_s(n) for n in cluster.node_names] == [0, -3, 0]
    b.stop(cluster)
    assert [cluster.offset_s(n) for n in cluster.node_names] == [0, 0, 0]


def test_a_jump_without_restore_keeps_its_offset() -> None:
    cluster = ClockModelCluster()
    jump = FAULTS["clock-jump"]({"targets": "all", "offset_s": 4, "restore": False})
    assert jump.start(cluster, random.Random(0))["nodes"] == cluster.node_names
    assert jump.stop(cluster) == {"restored": [], "offset_s": 0.0}
    assert {cluster.offset_s(n) for n in cluster.node_names} == {4}


def test_a_node_runs_at_the_rate_of_the_latest_window_still_holding_it() -> None:
    cluster = ClockModelCluster(1)
    first = FAULTS["clock-rate"]({"targets": ["n1"], "rate": 2.0}, fault_id=1)
    second = FAULTS["clock-rate"]({"targets": ["n1"], "rate": 0.5}, fault_id=2)
    first.start(cluster, random.Random(0))
    cluster.now = 1 * NS
    second.start(cluster, random.Random(0))
    assert cluster.clocks["n1"].rate == 0.5
    cluster.now = 3 * NS
    assert second.stop(cluster) == {"nodes": ["n1"], "rates": {"n1": 2.0}}  # back to the first window's
    assert cluster.offset_s("n1") == pytest.approx(1.0 - 1.0)  # +1 s at 2x, then -1 s at 0.5x
    cluster.now = 4 * NS
    assert first.stop(cluster)["rates"] == {"n1": 1.0}
    assert cluster.offset_s("n1") == pytest.approx(1.0)  # the gain stays: no step back
    # ending the earlier window first leaves the later rate alone (no call at all)
    third = FAULTS["clock-rate"]({"targets": ["n1"], "rate": 3.0}, fault_id=3)
    fourth = FAULTS["clock-rate"]({"targets": ["n1"], "rate": 1.5}, fault_id=4)
    third.start(cluster, random.Random(0))
    fourth.start(cluster, random.Random(0))
    calls = len(cluster.calls)
    assert third.stop(cluster)["rates"] == {"n1": 1.5}
    assert len(cluster.calls) == calls
    holds_for(cluster).clear()


# -- per-checker expectations --------------------------------------------------------

def verdicts(**valid: object) -> dict[str, dict[str, object]]:
    return {name.replace("_", "-"): {"valid": v} for name, v in valid.items()}


@pytest.mark.parametrize("found, passed, code", [
    (verdicts(mutex_graph=False, fencing=True, resource=True), True, 0),
    (verdicts(mutex_graph=True, fencing=True, resource=True), False, 1),      # the overlap was not shown
    (verdicts(mutex_graph=False, fencing=True, resource=False), False, 1),    # the fence failed
    (verdicts(mutex_graph=False, fencing="unknown", resource=True), False, 2),  # left out: expected valid
    (verdicts(mutex_graph="unknown", fencing=True, resource=False), False, 1),  # a miss beats unknown
    (verdicts(fencing=True, resource=True), False, 2),                        # its verdict is missing
])
def test_outcome_per_checker(found: dict, passed: bool, code: int) -> None:
    expect = {"mutex-graph": "invalid", "resource": "valid"}
    from harness.exitcodes import combine
    assert outcome(combine([v["valid"] for v in found.values()]) if found else "unknown", expect, "complete",
                   found) == (passed, code)
    assert outcome(False, expect, "incomplete", found) == (False, 130)


def test_results_keep_the_mapping_and_judge_per_checker() -> None:
    summary = {"counts": {}, "ops_total": 0, "throughput_ops_s": 0.0, "latency_ms": {}, "faults": []}
    results = build_results(name="x", scenario_file="s.yaml", seed=0, started_at="t", duration_s=1.0,
                            status="complete", expect={"mutex-graph": "invalid"},
                            verdicts=verdicts(mutex_graph=False, resource=True), summary=summary,
                            workload="lock", clients=1, nodes=3)
    assert (results["valid"], results["expect"], results["passed"], results["exit_code"]) == (
        False, {"mutex-graph": "invalid"}, True, exitcodes.VALID)
    assert checker_expectations(results["expect"], results["checkers"]) == {
        "mutex-graph": "invalid", "resource": "valid"}
    assert checker_expectations("invalid", results["checkers"]) == {}


SCENARIO = """\
name: demo
duration: 5
clients: 3
cluster:
  nodes: 3
workload:
  type: lock
nemesis:
  schedule:
    - {fault: clock-jump, targets: majority, offset_s: 10, start: 1, duration: 1}
checkers: [mutex-graph, resource]
expect:
  mutex-graph: invalid
  resource: valid
"""


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text))
    return load_scenario(path)


def test_a_per_checker_expectation_loads_and_turns_on_clock_control(tmp_path: Path) -> None:
    scenario = load(tmp_path, SCENARIO).scenario
    assert scenario.expect == {"mutex-graph": "invalid", "resource": "valid"}
    assert scenario.nemesis.needs_clock_control()
    paused = SCENARIO.replace("clock-jump, targets: majority, offset_s: 10", "pause")
    assert not load(tmp_path, paused).scenario.nemesis.needs_clock_control()


@pytest.mark.parametrize("old, new, line, field, reason", [
    ("  resource: valid", "  fencing: valid", 14, "expect.fencing", "not among the checkers"),
    ("  resource: valid", "  resource: maybe", 14, "expect.resource", "valid"),
    ("expect:\n  mutex-graph: invalid\n  resource: valid\n", "expect: {}\n", 12, "expect", "at least one"),
    ("offset_s: 10", "offset_s: 0", 10, "nemesis.schedule[0].offset_s", "must not be 0"),
    ("offset_s: 10", "rate: 2", 10, "nemesis.schedule[0].rate", "unknown field"),
])
def test_mistakes_name_line_and_field(tmp_path: Path, old: str, new: str, line: int, field: str,
                                      reason: str) -> None:
    assert old in SCENARIO
    with pytest.raises(BadInput) as caught:
        load(tmp_path, SCENARIO.replace(old, new))
    assert (caught.value.line, caught.value.field) == (line, field), caught.value
    assert caught.value.exit_code == exitcodes.BAD_INPUT and reason in caught.value.reason


def test_clock_faults_on_an_external_cluster_are_bad_input_before_start(tmp_path: Path) -> None:
    text = SCENARIO.replace("cluster:\n  nodes: 3\n", textwrap.dedent("""\
        cluster:
          mode: external
          toxiproxy_url: http://toxiproxy:8474
          nodes: [{name: n1, host: a}, {name: n2, host: b}, {name: n3, host: c}]
        """))
    with pytest.raises(BadInput) as caught:
        load(tmp_path, text)
    assert (caught.value.line, caught.value.field) == (12, "nemesis.schedule[0].fault")
    assert "cluster mode local" in caught.value.reason


def test_a_plain_expectation_that_is_neither_valid_nor_invalid_names_expect(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as caught:
        load(tmp_path, SCENARIO.replace("expect:\n  mutex-graph: invalid\n  resource: valid\n", "expect: maybe\n"))
    assert (caught.value.line, caught.value.field) == (12, "expect")
    assert "'valid' or 'invalid'" in caught.value.reason


def test_only_a_scenario_with_clock_faults_gets_clock_control(tmp_path: Path) -> None:
    from harness.runner import make_cluster

    with_clock = load(tmp_path, SCENARIO).scenario
    without = load(tmp_path, SCENARIO.replace("clock-jump, targets: majority, offset_s: 10", "pause")).scenario
    assert make_cluster(with_clock, tmp_path / "a").clock_control is True
    assert make_cluster(without, tmp_path / "b").clock_control is False


def test_an_external_cluster_refuses_clock_primitives() -> None:
    from harness.cluster.base import ClockUnsupported
    from harness.cluster.external import ExternalCluster, ExternalClusterConfig

    config = ExternalClusterConfig(nodes=[{"name": "n1", "host": "a"}], toxiproxy_url="http://t:8474")
    cluster = ExternalCluster(config, 1, runner=lambda command, timeout: pytest.fail("no command may run"))
    for call in (lambda: cluster.jump_clock("n1", 1), lambda: cluster.set_clock_rate("n1", 2),
                 lambda: cluster.reset_clock("n1")):
        with pytest.raises(ClockUnsupported, match="external cluster"):
            call()
    with pytest.raises(ValueError, match="unknown node"):
        cluster.jump_clock("n9", 1)
