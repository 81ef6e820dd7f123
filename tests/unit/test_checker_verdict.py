"""Verdicts: JSON shape, and composition (false beats unknown beats true)."""

from __future__ import annotations

import json

from harness.checker import check_all
from harness.checker.verdict import Anomaly, Verdict, compose, verdict_from
from tests.unit.test_checker_builder import MS, History


def test_to_json_has_the_contract_fields() -> None:
    anomaly = Anomaly("overlapping-holds", "two holders", (1, 3), {"key": "L", "span": (1, 2)})
    verdict = verdict_from("mutex-graph", [anomaly], stats={"holds": 2}, elapsed_s=0.5)
    record = verdict.to_json()
    assert set(record) == {"checker", "valid", "anomalies", "warnings", "stats", "elapsed_s"}
    assert record["valid"] is False
    assert record["anomalies"] == [{"kind": "overlapping-holds", "message": "two holders", "indices": [1, 3],
                                    "details": {"key": "L", "span": [1, 2]}}]
    json.dumps(record)  # JSON-able


def test_validity_follows_the_anomalies() -> None:
    assert verdict_from("x", []).valid is True
    assert verdict_from("x", [], unknown=True).valid == "unknown"
    assert verdict_from("x", [Anomaly("k", "m")], unknown=True).valid is False
    assert verdict_from("x", [], warnings=[Anomaly("k", "m")]).valid is True


def test_compose_false_beats_unknown_beats_true() -> None:
    true, unknown, false = (Verdict("a", True), Verdict("b", "unknown"), Verdict("c", False, (Anomaly("k", "m"),)))
    assert compose([true, unknown]).valid == "unknown"
    assert compose([true, unknown, false]).valid is False
    assert compose([true, true]).valid is True
    assert compose([]).valid is True
    assert len(compose([false, false]).anomalies) == 2


def test_check_all_composes_named_checkers() -> None:
    h = History()
    h.invoke(0, "acquire", None, key="L", at=1 * MS)
    h.ok(0, "acquire", {"token": 2, "validity_ms": 100}, key="L", at=2 * MS)
    h.invoke(1, "acquire", None, key="L", at=3 * MS)
    h.ok(1, "acquire", {"token": 1, "validity_ms": 100}, key="L", at=4 * MS)
    verdict = check_all(h.events, ["mutex-graph", "fencing"])
    assert verdict.checker == "mutex-graph+fencing" and verdict.valid is False
    assert {a.kind for a in verdict.anomalies} == {"overlapping-holds", "token-order"}
    assert set(verdict.stats) == {"mutex-graph", "fencing"}
