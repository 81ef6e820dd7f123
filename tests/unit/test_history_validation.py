"""A corrupted field never flips a verdict: `harness check` either rejects the file (exit 3,
naming line and field) or still finds the anomaly.

The base history is a stale read (`read` returns 1 after `write 2` completed): INVALID
for the register model. Before the fix, the same file with the read's time set to NaN
was VALID (NaN compares false to every time, so the read looked concurrent).
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.errors import BadInput
from harness.history.readers import read_history

STALE_READ: list[dict[str, Any]] = [
    {"index": 0, "time": 100, "process": 0, "type": "invoke", "f": "write", "value": 1},
    {"index": 1, "time": 200, "process": 0, "type": "ok", "f": "write", "value": 1},
    {"index": 2, "time": 300, "process": 0, "type": "invoke", "f": "write", "value": 2},
    {"index": 3, "time": 400, "process": 0, "type": "ok", "f": "write", "value": 2},
    {"index": 4, "time": 500, "process": 1, "type": "invoke", "f": "read", "value": None},
    {"index": 5, "time": 600, "process": 1, "type": "ok", "f": "read", "value": 1},
]


def _write(directory: Path, records: list[dict[str, Any]]) -> Path:
    path = directory / "history.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))  # json.dumps writes NaN, Infinity
    return path


def _check(path: Path) -> int:
    return main(["check", str(path), "--model", "register"])


def test_the_stale_read_is_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _check(_write(tmp_path, STALE_READ)) == 1


@pytest.mark.parametrize("event", [4, 5])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 1e46, 500.0, 500.5, -1, 2 ** 63, True, "500"])
def test_a_bad_time_is_exit_3_naming_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    event: int, bad: Any) -> None:
    records = [dict(r) for r in STALE_READ]
    records[event]["time"] = bad
    assert _check(_write(tmp_path, records)) == 3
    err = capsys.readouterr().err
    assert f"history.jsonl:{event + 1}: field 'time'" in err and "Traceback" not in err


def test_a_missing_time_among_timed_events_is_rejected(tmp_path: Path) -> None:
    records = [dict(r) for r in STALE_READ]
    del records[4]["time"]  # its position (4) would put the read before both writes
    with pytest.raises(BadInput, match="give every event a time, or none") as raised:
        read_history(_write(tmp_path, records))
    assert (raised.value.line, raised.value.field) == (5, "time")


def test_a_duplicate_index_is_rejected_naming_both_lines(tmp_path: Path) -> None:
    records = [dict(r) for r in STALE_READ]
    records[5]["index"] = 1
    with pytest.raises(BadInput, match="duplicate index 1 .*at line 2") as raised:
        read_history(_write(tmp_path, records))
    assert (raised.value.line, raised.value.field) == (6, "index")


def test_a_missing_index_is_the_event_position(tmp_path: Path) -> None:
    records = [{k: v for k, v in r.items() if k != "index"} for r in STALE_READ]
    assert [e.index for e in read_history(_write(tmp_path, records))] == list(range(6))
    records[0]["index"] = 3  # position 3 is taken by the fourth event
    with pytest.raises(BadInput, match="duplicate index 3") as raised:
        read_history(_write(tmp_path, records))
    assert (raised.value.line, raised.value.field) == (4, "index")


def test_non_finite_numbers_are_rejected_in_any_field(tmp_path: Path) -> None:
    records = [dict(r) for r in STALE_READ]
    records[5]["value"] = [1, math.nan]
    with pytest.raises(BadInput, match="NaN is not a number JSON allows") as raised:
        read_history(_write(tmp_path, records))
    assert (raised.value.line, raised.value.field) == (6, "value")


def test_edn_float_times_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text("{:process 0, :type :invoke, :f :read, :value nil, :time 1.5}\n")
    with pytest.raises(BadInput) as raised:
        read_history(path)
    assert (raised.value.line, raised.value.field) == (1, "time")


# -- the property: a malformed field is exit 3 or the anomaly is still found ---------------

BAD_VALUES: dict[str, list[Any]] = {
    "time": [math.nan, math.inf, -math.inf, 1e46, 0.5, 300.0, -5, 2 ** 64, True, False, None, "300", [300], {}],
    "index": [1.5, math.nan, None, True, "2", [0], -math.inf],
    "process": [None, 1.5, True, [0], {}, math.nan],
    "type": [None, "begin", 1, "", "OK"],
    "f": [None, "", 0, ["read"]],
}


@st.composite
def mutations(draw: st.DrawFn) -> list[dict[str, Any]]:
    records = [dict(r) for r in STALE_READ]
    for _ in range(draw(st.integers(1, 3))):
        event = draw(st.integers(0, len(records) - 1))
        field = draw(st.sampled_from(sorted(BAD_VALUES)))
        kind = draw(st.sampled_from(["value", "delete", "duplicate"]))
        if kind == "delete":
            records[event].pop(field, None)
        elif kind == "duplicate" and field == "index":
            records[event]["index"] = records[draw(st.integers(0, len(records) - 1))].get("index", 0)
        else:
            records[event][field] = draw(st.sampled_from(BAD_VALUES[field]))
    return records


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=mutations())
def test_no_malformed_field_turns_the_invalid_history_valid(records: list[dict[str, Any]],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        code = _check(_write(Path(directory), records))
    capsys.readouterr()
    assert code in (1, 3), records
