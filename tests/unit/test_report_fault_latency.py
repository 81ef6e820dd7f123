"""The per-fault latency table (harness.report.fault_latency) on synthetic histories."""

from __future__ import annotations

import math

from harness import analysis
from harness.report import fault_latency
from tests.unit.test_checker_builder import History

MS = 1_000_000  # history times are nanoseconds


def _op(h: History, process: int, f: str, start_ms: float, latency_ms: float, outcome: str = "ok") -> None:
    h.invoke(process, f, at=int(start_ms * MS))
    getattr(h, outcome)(process, f, at=int((start_ms + latency_ms) * MS))


def _history() -> History:
    """Quiet ops, then a partition of n3 from 1 s to 2 s during which release and failing
    acquires wait for the silent node, then a latency window with no op inside it."""
    h = History()
    for i in range(10):  # no fault: release 1 ms, a failing acquire 2 ms
        _op(h, 0, "release", 100 + 10 * i, 1.0)
        _op(h, 1, "acquire", 100 + 10 * i, 2.0, "fail")
    h.nemesis("partition-node", {"phase": "start", "fault_id": 0, "nodes": ["n3"]}, at=1000 * MS)
    for i in range(4):
        _op(h, 0, "release", 1100 + 300 * i, 250.0)
        _op(h, 1, "acquire", 1100 + 300 * i, 300.0, "fail")
    h.nemesis("partition-node", {"phase": "stop", "fault_id": 0, "nodes": ["n3"]}, at=2500 * MS)
    _op(h, 2, "acquire", 2600, 1.5)  # ok, no fault
    h.nemesis("latency", {"phase": "start", "fault_id": 1, "nodes": ["n1"]}, at=3000 * MS)
    h.nemesis("latency", {"phase": "stop", "fault_id": 1, "nodes": ["n1"]}, at=3100 * MS)
    _op(h, 2, "acquire", 3200, 1.5)
    return h


def _table():
    events = _history().events
    return fault_latency.fault_latency(analysis.load_history(events), analysis.fault_windows(events))


def test_no_fault_rows_come_first_with_the_quiet_figures() -> None:
    table = _table()
    calm = table[table["window"] == fault_latency.NO_FAULT].set_index("f")
    assert list(table["window"])[:2] == [fault_latency.NO_FAULT] * 2
    assert calm.loc["release", "ok_n"] == 10 and math.isclose(calm.loc["release", "ok_p50"], 1.0, rel_tol=1e-6)
    assert calm.loc["acquire", "fail_n"] == 10 and math.isclose(calm.loc["acquire", "fail_p50"], 2.0, rel_tol=1e-6)
    assert calm.loc["acquire", "ok_n"] == 2      # the two ok acquires outside any window
    assert calm.loc["release", "fail_n"] == 0 and math.isnan(calm.loc["release", "fail_p50"])


def test_each_fault_window_has_its_own_figures() -> None:
    table = _table()
    during = table[table["fault_id"] == 0].set_index("f")
    assert set(during["window"]) == {"partition-node n3"}
    assert during.loc["release", "ok_n"] == 4 and math.isclose(during.loc["release", "ok_p99"], 250.0, rel_tol=1e-6)
    assert during.loc["acquire", "fail_n"] == 4 and math.isclose(during.loc["acquire", "fail_p50"], 300.0, rel_tol=1e-6)
    assert during.loc["acquire", "ok_n"] == 0    # no ok acquire overlapped the partition
    assert table[table["fault_id"] == 1].empty   # the latency window had no op in it


def test_an_op_overlapping_a_window_counts_in_it_not_in_no_fault() -> None:
    h = History()
    _op(h, 0, "get", 0, 1.0)
    h.invoke(1, "get", at=900 * MS)                       # invoked before the fault ...
    h.nemesis("kill", {"phase": "start", "fault_id": 7, "nodes": ["n2"]}, at=1000 * MS)
    h.ok(1, "get", at=1200 * MS)                          # ... completed during it
    h.nemesis("kill", {"phase": "stop", "fault_id": 7, "nodes": ["n2"]}, at=2000 * MS)
    table = fault_latency.fault_latency(analysis.load_history(h.events), analysis.fault_windows(h.events))
    calm = table[table["window"] == fault_latency.NO_FAULT]
    assert list(calm["ok_n"]) == [1] and math.isclose(calm["ok_p50"].iloc[0], 1.0, rel_tol=1e-6)
    faulted = table[table["fault_id"] == 7]
    assert list(faulted["ok_n"]) == [1] and math.isclose(faulted["ok_p50"].iloc[0], 300.0, rel_tol=1e-6)


def test_info_ops_are_left_out() -> None:
    h = History()
    _op(h, 0, "put", 0, 1.0)
    h.invoke(1, "put", at=10 * MS).info(1, "put", at=510 * MS)
    table = fault_latency.fault_latency(analysis.load_history(h.events), analysis.fault_windows(h.events))
    assert list(table["ok_n"]) == [1] and list(table["fail_n"]) == [0]
    assert math.isclose(table["ok_p99"].iloc[0], 1.0, rel_tol=1e-6)


def test_html_shows_the_ratio_to_the_no_fault_figure() -> None:
    html = fault_latency.render(_table())
    assert 'id="fault-latency"' in html
    assert "partition-node n3" in html
    assert "×250.0" in html      # release p50 250 ms beside 1 ms
    assert "×150.0" in html      # failing acquire p50 300 ms beside 2 ms
    assert html.count("<tr>") == 1 + len(_table())


def test_empty_history_renders_a_sentence() -> None:
    table = fault_latency.fault_latency(analysis.load_history([]), analysis.fault_windows([]))
    assert table.empty and "No completed operations" in fault_latency.render(table)


def test_ratio_is_nan_without_a_baseline() -> None:
    assert math.isnan(fault_latency.ratio(5.0, math.nan))
    assert math.isnan(fault_latency.ratio(5.0, 0.0))
    assert fault_latency.ratio(6.0, 2.0) == 3.0
