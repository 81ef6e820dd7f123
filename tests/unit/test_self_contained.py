"""The repository owns its contract: docs/design.md exists, the README links it, and no file
points at documents outside the repository (a clone must be able to read everything it cites)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# built by concatenation so this file does not match itself
OUTSIDE = ("../" + "shared/", "/tmp/" + "contracts", "shared/" + "DESIGN.md")
SECTIONS = ("Parts and roles", "The history format", "History contents per workload", "Exit codes",
            "Results of a run", "seams")


def tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                                capture_output=True, text=True, check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [REPO / name for name in listed if name and (REPO / name).is_file()]


def test_no_file_points_outside_the_repository() -> None:
    offenders = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary files (report.png)
        for number, line in enumerate(text.splitlines(), start=1):
            if any(marker in line for marker in OUTSIDE):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:100]}")
    assert not offenders, "files point outside the repository:\n" + "\n".join(offenders)


def test_design_document_is_in_the_repository_and_linked() -> None:
    design = (REPO / "docs" / "design.md").read_text(encoding="utf-8")
    headings = [line for line in design.splitlines() if line.startswith("## ")]
    for section in SECTIONS:
        assert any(section.lower() in h.lower() for h in headings), f"docs/design.md lacks a {section!r} section"
    assert "](docs/design.md)" in (REPO / "README.md").read_text(encoding="utf-8")


def test_design_document_names_every_results_key_the_runner_writes() -> None:
    from harness.results import build_results

    summary = {"counts": {}, "ops_total": 0, "throughput_ops_s": 0.0, "latency_ms": {}, "faults": []}
    results = build_results(name="n", scenario_file="s.yaml", seed=0, started_at="t", duration_s=1.0,
                            status="complete", expect="valid", verdicts={}, summary=summary, workload="lock",
                            clients=1, nodes=1, extra={"worker_errors": [], "notes": []})
    design = (REPO / "docs" / "design.md").read_text(encoding="utf-8")
    missing = [key for key in results if f"`{key}`" not in design]
    assert not missing, f"results.json keys not described in docs/design.md: {missing}"
