"""harness.analysis: operations, fault windows and runs as pandas DataFrames."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest

from harness import analysis
from harness.errors import BadInput
from tests.support.run_folders import write_results_tree, write_run_folder

MS = 1_000_000

# p0 acquires (ok) during the partition, p1 fails, p2 times out (info) and never completes its next op
EVENTS = [
    {"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "acquire", "key": "L", "value": None},
    {"index": 1, "time": 1 * MS, "process": "nemesis", "type": "info", "f": "partition-halves",
     "value": {"phase": "start", "fault_id": 0, "isolated": ["n1", "n2"]}},
    {"index": 2, "time": 2 * MS, "process": 0, "type": "ok", "f": "acquire", "key": "L",
     "value": {"token": 7, "validity_ms": 4900}},
    {"index": 3, "time": 3 * MS, "process": 1, "type": "invoke", "f": "acquire", "key": "L", "value": None},
    {"index": 4, "time": 5 * MS, "process": 1, "type": "fail", "f": "acquire", "key": "L", "value": None},
    {"index": 5, "time": 6 * MS, "process": "nemesis", "type": "info", "f": "partition-halves",
     "value": {"phase": "stop", "fault_id": 0}},
    {"index": 6, "time": 7 * MS, "process": 2, "type": "invoke", "f": "release", "key": "L", "value": {"token": 7}},
    {"index": 7, "time": 9 * MS, "process": 2, "type": "info", "f": "release", "key": "L", "value": None},
    {"index": 8, "time": 10 * MS, "process": "nemesis", "type": "info", "f": "kill",
     "value": {"phase": "start", "fault_id": 1, "nodes": ["n3"]}},
    {"index": 9, "time": 11 * MS, "process": 3, "type": "invoke", "f": "acquire", "key": "L", "value": None},
    {"index": 10, "time": 20 * MS, "process": 4, "type": "invoke", "f": "read", "key": "k0", "value": None},
    {"index": 11, "time": 21 * MS, "process": 4, "type": "ok", "f": "read", "key": "k0", "value": 51},
]


def write_history(path: Path, events: list[dict] = EVENTS) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


@pytest.fixture
def history(tmp_path: Path) -> pd.DataFrame:
    return analysis.load_history(write_history(tmp_path / "history.jsonl"))


def test_one_row_per_operation_with_times_in_seconds_and_latency_in_ms(history: pd.DataFrame) -> None:
    assert list(history.columns) == analysis.OP_COLUMNS
    assert list(history["op"]) == [0, 1, 2, 3, 4]
    assert list(history["process"]) == [0, 1, 2, 3, 4]
    assert list(history["type"]) == ["ok", "fail", "info", "info", "ok"]
    first = history.iloc[0]
    assert first["invoke_s"] == 0.0 and first["complete_s"] == pytest.approx(0.002)
    assert first["latency_ms"] == pytest.approx(2.0)
    assert first["result"] == {"token": 7, "validity_ms": 4900}
    assert (first["invoke_index"], first["complete_index"]) == (0, 2)


def test_values_keep_their_python_types(history: pd.DataFrame) -> None:
    # a column mixing None and ints must not turn into floats with NaN
    read = history.iloc[4]
    assert read["value"] is None
    assert read["result"] == 51 and isinstance(read["result"], int)
    assert history.iloc[2]["value"] == {"token": 7}


def test_an_op_never_completed_is_info_without_completion_time(history: pd.DataFrame) -> None:
    pending = history.iloc[3]
    assert pending["type"] == "info"
    assert math.isnan(pending["complete_s"]) and math.isnan(pending["latency_ms"])
    assert pd.isna(pending["complete_index"])
    # an info op that did complete (a timeout) keeps its completion time
    timed_out = history.iloc[2]
    assert timed_out["complete_s"] == pytest.approx(0.009)


def test_faults_active_while_each_op_ran(history: pd.DataFrame) -> None:
    assert history.iloc[0]["faults"] == ("partition-halves",)   # 0..2 ms overlaps 1..6 ms
    assert history.iloc[1]["faults"] == ("partition-halves",)
    assert history.iloc[2]["faults"] == ()                      # 7..9 ms: between the windows
    assert history.iloc[3]["faults"] == ("kill",)               # never completed: runs to the end
    assert history.iloc[0]["fault_ids"] == (0,)


def test_fault_windows_pair_start_and_stop_by_fault_id(tmp_path: Path) -> None:
    faults = analysis.fault_windows(write_history(tmp_path / "history.jsonl"))
    assert list(faults["fault"]) == ["partition-halves", "kill"]
    partition, kill = faults.iloc[0], faults.iloc[1]
    assert (partition["start_s"], partition["stop_s"]) == (pytest.approx(0.001), pytest.approx(0.006))
    assert partition["stopped"] and partition["label"] == "partition-halves n1,n2"
    assert partition["details"] == {"isolated": ["n1", "n2"]}
    # never stopped: lasts to the last event of the history
    assert not kill["stopped"] and kill["stop_s"] == pytest.approx(0.021)
    assert kill["label"] == "kill n3"


def test_fault_windows_of_a_history_without_faults_is_empty(tmp_path: Path) -> None:
    events = [e for e in EVENTS if e["process"] != "nemesis"]
    faults = analysis.fault_windows(write_history(tmp_path / "h.jsonl", events))
    assert faults.empty and list(faults.columns) == analysis.FAULT_COLUMNS
    history = analysis.load_history(tmp_path / "h.jsonl")
    assert all(f == () for f in history["faults"])


def test_jepsen_edn_history_with_nemesis_start_and_stop(tmp_path: Path) -> None:
    edn = tmp_path / "history.edn"
    edn.write_text("\n".join([
        "{:type :invoke, :f :write, :value 1, :process 0, :time 1000000, :index 0}",
        "{:type :info, :f :start, :value [:isolated #{\"n1\"}], :process :nemesis, :time 1500000, :index 1}",
        "{:type :ok, :f :write, :value 1, :process 0, :time 2000000, :index 2}",
        "{:type :invoke, :f :read, :value nil, :process 1, :time 3000000, :index 3}",
        "{:type :info, :f :stop, :value nil, :process :nemesis, :time 3500000, :index 4}",
        "{:type :ok, :f :read, :value 1, :process 1, :time 4000000, :index 5}",
    ]) + "\n", encoding="utf-8")
    history = analysis.load_history(edn)
    assert list(history["f"]) == ["write", "read"]
    assert list(history["type"]) == ["ok", "ok"]
    assert history.iloc[1]["result"] == 1
    assert history.iloc[0]["latency_ms"] == pytest.approx(1.0)
    faults = analysis.fault_windows(edn)
    assert len(faults) == 1 and faults.iloc[0]["stopped"]
    assert (faults.iloc[0]["start_s"], faults.iloc[0]["stop_s"]) == (pytest.approx(0.0015), pytest.approx(0.0035))
    assert history.iloc[0]["faults"] == ("nemesis",) and history.iloc[1]["faults"] == ("nemesis",)


def test_malformed_history_is_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "history.jsonl"
    bad.write_text('{"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "read"}\n{oops\n')
    with pytest.raises(BadInput) as error:
        analysis.load_history(bad)
    assert error.value.line == 2
    with pytest.raises(BadInput):
        analysis.load_history(tmp_path / "missing.jsonl")


def test_latency_quantiles_count_outcomes_and_exclude_info_latency(history: pd.DataFrame) -> None:
    table = analysis.latency_quantiles(history)
    assert table.loc["acquire", ["ok", "fail", "info", "total"]].tolist() == [1, 1, 1, 3]
    # acquire latencies of ok/fail ops: 2 ms and 2 ms; the pending info op has none
    assert table.loc["acquire", "max"] == pytest.approx(2.0)
    assert table.loc["release", "info"] == 1 and math.isnan(table.loc["release", "p50"])


def test_availability_per_fault_kind(history: pd.DataFrame) -> None:
    table = analysis.availability(history)
    assert table.loc["partition-halves", "ops"] == 2
    assert table.loc["partition-halves", "availability"] == pytest.approx(0.5)
    assert table.loc["none", "ops"] == 1 and table.loc["none", "info"] == 1   # the release at 7..9 ms
    assert table.loc["kill", "ops"] == 2 and table.loc["kill", "availability"] == pytest.approx(0.5)
    by_f = analysis.availability(history, by="f")
    assert by_f.loc["acquire", "ops"] == 3


def test_fault_impact_before_during_after(tmp_path: Path) -> None:
    run = analysis.load_run(write_run_folder(tmp_path))
    impact = analysis.fault_impact(run.history, run.faults)
    assert len(impact) == 3 * len(run.faults)
    during = impact[(impact["fault_id"] == 0) & (impact["phase"] == "during")].iloc[0]
    in_window = run.history[(run.history["invoke_s"] >= 3.0) & (run.history["invoke_s"] < 6.0)]
    assert during["ops"] == len(in_window) > 0
    assert during["availability"] == pytest.approx((in_window["type"] == "ok").mean())


def test_load_run_reads_history_results_and_scenario(tmp_path: Path) -> None:
    folder = write_run_folder(tmp_path, name="partition")
    run = analysis.load_run(folder)
    assert run.name == folder.name
    assert run.valid is False and set(run.checkers) == {"mutex-graph", "fencing", "resource"}
    assert run.scenario["name"] == "partition"
    assert len(run.history) == sum(1 for e in run.events if e.type == "invoke" and e.process != "nemesis")
    assert list(run.faults["fault"]) == ["partition-halves", "kill"]


def test_load_run_without_results_json(tmp_path: Path) -> None:
    folder = write_run_folder(tmp_path)
    (folder / "results.json").unlink()
    (folder / "scenario.yaml").unlink()
    run = analysis.load_run(folder)
    assert run.results == {} and run.scenario == {} and run.valid is None and run.checkers == {}
    assert len(run.history) > 100


def test_load_run_rejects_what_is_not_a_run_folder(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such run folder"):
        analysis.load_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="history.jsonl"):
        analysis.load_run(tmp_path / "empty")
    folder = write_run_folder(tmp_path)
    (folder / "results.json").write_text('{"name": "x",\n  oops}')
    with pytest.raises(BadInput) as error:
        analysis.load_run(folder)
    assert error.value.line == 2 and error.value.path.endswith("results.json")


def test_anomaly_table_maps_event_indices_to_ops(tmp_path: Path) -> None:
    run = analysis.load_run(write_run_folder(tmp_path, valid=False))
    table = analysis.anomaly_table(run)
    assert set(table["checker"]) == {"mutex-graph", "resource"}
    holds = table[table["kind"] == "overlapping-holds"].iloc[0]
    ops = run.history.set_index("op").loc[list(holds["ops"])]
    assert set(ops["f"]) == {"acquire"} and set(ops["type"]) == {"ok"}
    assert sorted(ops["complete_index"]) == sorted(holds["indices"])
    with_warnings = analysis.anomaly_table(run, include_warnings=True)
    assert (with_warnings["severity"] == "warning").sum() == 1


def test_anomaly_table_of_a_linearizability_failure(tmp_path: Path) -> None:
    run = analysis.load_run(write_run_folder(tmp_path, workload="register", valid=False))
    anomaly = analysis.anomaly_table(run).iloc[0]
    assert anomaly["key"] in ("k0", "k1")
    cannot = run.history.set_index("op").loc[list(anomaly["cannot_ops"])]
    assert list(cannot["f"]) == ["read"]
    prefix = run.history.set_index("op").loc[list(anomaly["prefix_ops"])]
    assert len(prefix) > 5 and set(prefix["key"]) == {anomaly["key"]}
    assert prefix["invoke_s"].max() < cannot["invoke_s"].min()


def test_load_runs_lists_runs_newest_first(tmp_path: Path) -> None:
    written = write_results_tree(tmp_path)
    runs = analysis.load_runs(tmp_path)
    assert list(runs["run"]) == [p.name for p in reversed(written)]   # `latest` symlink skipped
    newest = runs.iloc[0]
    assert newest["scenario"] == "partition" and newest["seed"] == 3 and newest["valid"] is False
    assert newest["checkers"] == {"mutex-graph": False, "fencing": True, "resource": False}
    assert newest["verdicts"] == "mutex-graph=false fencing=true resource=false"
    assert newest["faults"] == "partition-halves x1, kill x1" and newest["n_faults"] == 2
    assert newest["anomalies"] == 2 and newest["ops_total"] > 100
    assert newest["ok"] + newest["fail"] + newest["info"] == newest["ops_total"]
    assert newest["counts"]["acquire"]["ok"] == newest["counts"]["release"]["ok"]
    register = runs[runs["scenario"] == "register-partition"].iloc[0]
    assert register["passed"] is True and register["expect"] == "invalid"


def test_load_runs_survives_broken_and_incomplete_runs(tmp_path: Path) -> None:
    write_run_folder(tmp_path, started_at="2026-11-26T05:00:00Z", status="incomplete", with_latency=False)
    broken = tmp_path / "broken-20261126T070000Z"
    broken.mkdir()
    (broken / "results.json").write_text("{not json")
    (tmp_path / "notes").mkdir()   # not a run folder: ignored
    runs = analysis.load_runs(tmp_path)
    assert list(runs["run"]) == ["broken-20261126T070000Z", "partition-20261126T050000Z"]
    assert runs.iloc[0]["status"] == "unreadable" and "results.json" in runs.iloc[0]["error"]
    assert runs.iloc[0]["started_at"] == pd.Timestamp("2026-11-26T07:00:00Z")   # from the folder name
    assert runs.iloc[1]["status"] == "incomplete"
    with pytest.raises(BadInput):
        analysis.load_runs(tmp_path / "missing")


def test_load_runs_of_an_empty_folder(tmp_path: Path) -> None:
    runs = analysis.load_runs(tmp_path)
    assert runs.empty and list(runs.columns) == analysis.RUNS_COLUMNS


def test_load_histories_concatenates_runs_with_their_names(tmp_path: Path) -> None:
    write_results_tree(tmp_path)
    runs = analysis.load_runs(tmp_path)
    histories = analysis.load_histories(runs)
    assert set(histories["run"]) == set(runs["run"])
    assert set(histories["scenario"]) == {"partition", "register-partition"}
    table = analysis.availability(histories, by=["scenario", "fault"])
    assert ("register-partition", "partition-halves") in table.index


def test_locate_finds_a_relative_path_in_a_parent_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "results" / "latest").mkdir(parents=True)
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert analysis.locate("results/latest") == tmp_path / "results" / "latest"
    assert analysis.locate("results/nowhere") == Path("results/nowhere")
    assert analysis.locate(os.fspath(tmp_path)) == tmp_path


@pytest.mark.parametrize(("kind", "details", "label"), [
    ("partition-halves", {"groups": [{"clients": [0], "nodes": ["n2", "n3"]},
                                     {"clients": [1, 2], "nodes": ["n1", "n4", "n5"]}]},
     "partition-halves n2,n3 | n1,n4,n5"),
    ("partition-client", {"client": 3, "isolated_from": ["n1", "n2", "n3"]}, "partition-client c3 from n1,n2,n3"),
    ("partition-node", {"isolated": ["n2"], "mode": "drop"}, "partition-node n2"),
    ("latency", {"nodes": ["n1", "n2"], "clients": [0], "latency_ms": 200}, "latency n1,n2 200ms"),
    ("partition-majorities-ring", {"sees": {"0": ["n1", "n2", "n3"]}}, "partition-majorities-ring"),
])
def test_fault_labels_say_whom_the_fault_hit(tmp_path: Path, kind: str, details: dict, label: str) -> None:
    events = [{"index": 0, "time": 0, "process": "nemesis", "type": "info", "f": kind,
               "value": {"phase": "start", "fault_id": 0, **details}},
              {"index": 1, "time": MS, "process": "nemesis", "type": "info", "f": kind,
               "value": {"phase": "stop", "fault_id": 0, "healed": {}}}]
    faults = analysis.fault_windows(write_history(tmp_path / "h.jsonl", events))
    assert faults.iloc[0]["label"] == label
