"""One short comparison in CI: two clients (ours in-process, redis-py's Lock in its venv and
worker processes) x a kill scenario — real servers, real runs, the page, the table and
results.json's client record (n/a cells are covered by the unit tests of promises)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.clients import prepare_client

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_compare_two_clients(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prepare_client("redis-py")  # the venv, cached under .venv-clients after the first time
    code = main(["compare", str(REPO / "tests" / "scenarios" / "ci-compare.yaml"),
                 "--clients", "redis-py,majorityredis", "--duration", "3", "--results", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    page = next(tmp_path.glob("compare-*/comparison.html")).read_text()
    cells = json.loads(next(tmp_path.glob("compare-*/comparison.json")).read_text())["cells"]
    by = {(c["client"], c["scenario"]): c for c in cells}
    assert set(by) == {("majorityredis", "ci-compare"), ("redis-py", "ci-compare")}
    assert by[("redis-py", "ci-compare")]["promise"] == "no promise"  # one node, and nodes are killed
    assert by[("majorityredis", "ci-compare")]["promise"] == "promised"
    for key in by:
        cell = by[key]
        assert cell["acquires_ok"] > 0 and cell["ops_per_s"] > 0, cell  # the runs really took the lock
        run = tmp_path / Path(cell["run_dir"]).name
        assert (run / "report.html").exists()
        assert f"href='{cell['run_dir']}/report.html'" in page
    results = json.loads((tmp_path / Path(by[("redis-py", "ci-compare")]["run_dir"]).name / "results.json").read_text())
    assert results["client"]["name"] == "redis-py" and results["client"]["version"] == "8.1.0"
    assert results["checkers_skipped"] == {"fencing": "client redis-py has no fencing tokens"}
    assert "fencing" not in results["checkers"]
    assert "redis-py       ci-compare  no promise" in printed
