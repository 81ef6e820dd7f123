"""Every history of the Porcupine corpus (tests/data/porcupine) gets its known verdict.

etcd/: Jepsen logs of one compare-and-set register (model cas-register), kv/:
Jepsen EDN histories of a per-key string store (model kv); expected.json holds
the verdicts, `etcd_empty` the empty log (an empty history is valid).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.checker import check
from harness.history.readers import read_history

CORPUS = Path(__file__).resolve().parent.parent / "data" / "porcupine"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())
MODELS = {"etcd": "cas-register", "kv": "kv"}


def cases() -> list[tuple[str, str, bool]]:
    found = []
    for corpus in ("etcd", "kv"):
        for path in sorted((CORPUS / corpus).iterdir()):
            if path.name in EXPECTED.get("etcd_empty", []):
                expected = True
            else:
                expected = EXPECTED[corpus][path.name]
            found.append((corpus, path.name, expected))
    return found


def test_the_corpus_is_complete() -> None:
    counts = {corpus: sum(1 for c, _, _ in cases() if c == corpus) for corpus in MODELS}
    assert counts == {"etcd": 103, "kv": 6}
    assert sum(1 for c, _, valid in cases() if c == "etcd" and valid is False) == 79


@pytest.mark.parametrize(("corpus", "name", "expected"), cases(), ids=[f"{c}/{n}" for c, n, _ in cases()])
def test_corpus_history_gets_its_known_verdict(corpus: str, name: str, expected: bool) -> None:
    events = read_history(CORPUS / corpus / name)
    verdict = check(events, MODELS[corpus], time_limit=60)
    assert verdict.valid is expected, verdict.anomalies[:1]
    if events:
        # etcd's values 0..4 repeat, so the unique-values register check does not apply (no
        # corpus history qualifies; tests/corpus/test_recorded_registers.py has one that does)
        assert verdict.stats["algorithm"] == "wgl"
        if corpus == "etcd":
            assert "is written twice" in verdict.stats["wgl_because"]["None"]
    if expected is False:
        details = verdict.anomalies[0].details
        assert details["cannot_linearize"], "a failure names the ops that cannot be linearized"
        assert set(details["prefix"]).isdisjoint(details["cannot_linearize"])
        assert "cannot take effect" in details["explanation"]
