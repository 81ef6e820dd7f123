"""The analysis tools on a run the harness really recorded (not a synthetic folder).

One short `expect: invalid` lock scenario runs through real redis-server and
toxiproxy-server; then its report must show the anomalies the checkers found,
`python -m harness report` must rebuild it, the pandas loaders must agree with
results.json, and both notebooks must execute against the run without a cell error.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.analysis import load_history, load_runs
from tests.integration.test_notebooks import execute, images, outputs_text

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("results")
    done = subprocess.run([sys.executable, "-m", "harness", "run", str(REPO / "tests" / "scenarios" / "ci-pause.yaml"),
                           "--results", str(results), "--duration", "6"],
                          cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr  # expect: invalid, anomaly found
    return (results / "latest").resolve()


def test_report_shows_the_recorded_anomalies(real_run: Path) -> None:
    results = json.loads((real_run / "results.json").read_text())
    anomalies = results["checkers"]["resource"]["anomalies"]
    assert results["valid"] is False and anomalies
    html = (real_run / "report.html").read_text()
    assert "INVALID" in html and anomalies[0]["kind"] in html
    assert (real_run / "latency.png").stat().st_size > 10_000
    assert (real_run / "rate.png").stat().st_size > 5_000


def test_report_command_rebuilds_it(real_run: Path) -> None:
    (real_run / "report.html").unlink()
    done = subprocess.run([sys.executable, "-m", "harness", "report", str(real_run)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "resource" in (real_run / "report.html").read_text()


def test_loaders_agree_with_results_json(real_run: Path) -> None:
    results = json.loads((real_run / "results.json").read_text())
    ops = load_history(real_run / "history.jsonl")
    ops = ops[ops["process"] != "nemesis"] if "process" in ops else ops
    for f, counts in results["counts"].items():
        by_type = ops[ops["f"] == f]["type"].value_counts().to_dict()
        assert {t: by_type.get(t, 0) for t in counts} == counts, f
    runs = load_runs(real_run.parent)
    row = runs.iloc[0]
    assert (row["run"], row["scenario"], row["valid"], row["ops_total"]) == (
        real_run.name, results["name"], False, results["ops_total"])


def test_notebooks_execute_against_the_real_run(real_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUN_DIR", str(real_run))
    monkeypatch.setenv("RESULTS_DIR", str(real_run.parent))
    analysed = execute("analyze_run.ipynb")
    assert real_run.name in outputs_text(analysed) and images(analysed) >= 3
    compared = execute("compare_runs.ipynb")
    assert real_run.name in outputs_text(compared)
    assert images(compared) >= 1
