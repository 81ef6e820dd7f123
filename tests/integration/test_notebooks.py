"""The notebooks execute top to bottom (nbclient, the python3 kernel of this interpreter) against
run folders this test writes, so they never rot; and they are committed without outputs."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.support.run_folders import write_results_tree

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def execute(name: str) -> nbformat.NotebookNode:
    """Run every cell; nbclient raises CellExecutionError (with the cell and traceback) on any error."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(notebook, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    return notebook


def outputs_text(notebook: nbformat.NotebookNode) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.extend(str(v) for k, v in output.get("data", {}).items() if k.startswith("text/"))
    return "\n".join(parts)


def images(notebook: nbformat.NotebookNode) -> int:
    return sum("image/png" in output.get("data", {})
               for cell in notebook.cells for output in cell.get("outputs", []))


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    base = tmp_path_factory.mktemp("results")
    return base, write_results_tree(base)


@pytest.mark.parametrize("name", ["analyze_run.ipynb", "compare_runs.ipynb"])
def test_committed_without_outputs_and_parameterised_first(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    variable = {"analyze_run.ipynb": "RUN_DIR", "compare_runs.ipynb": "RESULTS_DIR"}[name]
    assert f'os.environ.get("{variable}"' in code[0].source


def test_analyze_run_executes_against_a_run(results: tuple[Path, list[Path]],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    base, runs = results
    monkeypatch.setenv("RUN_DIR", str(base / "latest"))   # the kernel inherits the environment
    notebook = execute("analyze_run.ipynb")
    text = outputs_text(notebook)
    assert runs[-1].name in text                          # it analysed the run it was pointed at
    assert "overlapping-holds" in text and "mutex-graph" in text
    assert "partition-halves" in text                     # availability / impact per fault
    assert images(notebook) >= 3                          # timeline, latency, throughput


def test_compare_runs_executes_across_runs(results: tuple[Path, list[Path]],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    base, runs = results
    monkeypatch.setenv("RESULTS_DIR", str(base))
    notebook = execute("compare_runs.ipynb")
    text = outputs_text(notebook)
    assert all(run.name in text for run in runs)
    assert "register-partition" in text and "availability" in text
    assert images(notebook) >= 2                          # verdicts over time, availability bars


def test_notebook_outputs_are_not_written_back(results: tuple[Path, list[Path]]) -> None:
    # executing must not have touched the committed files
    for name in ("analyze_run.ipynb", "compare_runs.ipynb"):
        raw = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
        assert all(not cell.get("outputs") for cell in raw["cells"] if cell["cell_type"] == "code")
