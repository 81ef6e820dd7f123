"""A register history the workbench recorded (tests/data/registers, 10 clients, faults):
the unique-values checker decides it, and agrees with WGL on prefixes of it, as recorded
and with anomalies injected."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from harness.checker import check
from harness.history.events import Event, pair_operations
from harness.history.readers import parse_history
from harness.scenario.loader import load_scenario

DATA = Path(__file__).resolve().parent.parent / "data" / "registers"
SCENARIO = DATA / "register-faults.yaml"
HISTORY = DATA / "register-faults.history.jsonl.gz"


@pytest.fixture(scope="module")
def events() -> list[Event]:
    with gzip.open(HISTORY, "rt", encoding="utf-8") as text:
        return parse_history(text.read(), source=str(HISTORY))


def test_the_scenario_is_ten_clients_back_to_back_on_one_key_under_faults() -> None:
    scenario = load_scenario(SCENARIO).scenario
    assert (scenario.workload.type, scenario.clients, scenario.workload.rate, scenario.workload.keys) == \
        ("register", 10, None, 1)
    assert not scenario.nemesis.is_empty()


def test_the_recorded_history_is_long_with_faults_and_timed_out_writes(events: list[Event]) -> None:
    ops = pair_operations(events)
    assert len(ops) > 10_000
    assert {op.key for op in ops} == {"k0"}
    assert sum(op.f == "write" and op.type == "info" for op in ops) > 50
    started = {e.f for e in events if not e.is_client and e.value["phase"] == "start"}
    assert {"kill", "partition-client", "partition-halves", "latency", "bandwidth"} <= started


def test_the_whole_history_is_decided_without_a_search(events: list[Event]) -> None:
    verdict = check(events, "register")
    assert verdict.valid is True           # the run's verdict
    assert verdict.stats["algorithm"] == "unique-values"
    assert verdict.stats["unobserved_info_dropped"] > 50


def with_read(events: list[Event], position: int, value: object) -> list[Event]:
    """The events with the ok read at or after `position` returning `value` instead."""
    at = next(i for i in range(position, len(events))
              if events[i].type == "ok" and events[i].f == "read" and events[i].value is not None)
    e = events[at]
    changed = list(events)
    changed[at] = Event(index=e.index, time=e.time, process=e.process, type=e.type, f=e.f, value=value, key=e.key)
    return changed


def agree(events: list[Event]) -> bool:
    fast = check(events, "register")
    assert fast.stats["algorithm"] == "unique-values"
    wgl = check(events, "register", algorithm="wgl", time_limit=120)
    assert wgl.valid == fast.valid, (fast.anomalies[:1], wgl.anomalies[:1])
    return fast.valid is True


@pytest.mark.parametrize("count", [600, 1500, 3000])
def test_prefixes_agree_with_wgl(events: list[Event], count: int) -> None:
    assert agree(events[:count])   # ops in flight at the cut become info is True


def test_injected_anomalies_agree_with_wgl(events: list[Event]) -> None:
    window = events[:1500]
    written = [e.value for e in window if e.type == "ok" and e.f == "write"]
    cases = {
        "stale": with_read(window, 1300, written[0]),         # the first value, long overwritten
        "future": with_read(window, 200, written[-1]),        # a value written much later
        "unwritten": with_read(window, 700, -1),
    }
    for name, changed in cases.items():
        assert agree(changed) is False, name
        kinds = {a.kind for a in check(changed, "register").anomalies}
        assert kinds, name
    assert {a.kind for a in check(cases["unwritten"], "register").anomalies} == {"read-of-unwritten-value"}
    assert "read-from-future" in {a.kind for a in check(cases["future"], "register").anomalies}
