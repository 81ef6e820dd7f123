"""The CI snippets of docs/ci.md (docs/ci/*.yml): they parse, every command they run is one the
README gives (same string) and one the project really has (a make target, a harness command line
the CLI accepts, scenario files that exist), they upload results/ and publish the XML the gate
writes; docs/ci.md quotes them verbatim; `make test` (what .ci/run calls) runs the same gate.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from harness.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
GITHUB = REPO / "docs" / "ci" / "github-actions.yml"
GITLAB = REPO / "docs" / "ci" / "gitlab-ci.yml"
HARNESS = ".venv/bin/python -m harness "


def _readme_commands() -> set[str]:
    """Every line of the README's shell code blocks, without its trailing `# comment`."""
    text = (REPO / "README.md").read_text()
    lines: set[str] = set()
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL):
        for line in block.splitlines():
            command = re.split(r"\s+#\s", line, maxsplit=1)[0].strip()
            if command:
                lines.add(command)
    return lines


def _github_commands() -> list[str]:
    workflow = yaml.safe_load(GITHUB.read_text())
    assert set(workflow.get("on", workflow.get(True))) >= {"push", "pull_request"}  # YAML 1.1 reads `on` as True
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    return [line.strip() for step in steps if "run" in step for line in step["run"].splitlines() if line.strip()]


def _gitlab_job() -> dict:
    config = yaml.safe_load(GITLAB.read_text())
    jobs = [job for name, job in config.items() if isinstance(job, dict) and "script" in job]
    assert len(jobs) == 1
    return jobs[0]


def _gitlab_commands() -> list[str]:
    job = _gitlab_job()
    return [line.strip() for key in ("before_script", "script") for line in job.get(key, [])]


def _make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(), flags=re.MULTILINE))


def _check_real(command: str) -> None:
    """A command the project really has."""
    if command.startswith("make "):
        assert set(command.split()[1:]) <= _make_targets(), command
    elif command.startswith(HARNESS):
        args = build_parser().parse_args(shlex.split(command[len(HARNESS):]))
        for scenario in getattr(args, "scenarios", None) or [getattr(args, "scenario", None)]:
            if scenario is not None:
                assert (REPO / scenario).is_file(), scenario
    else:
        assert command.startswith("apt-get update -qq && apt-get install"), command


def _gate_xml(commands: list[str]) -> str:
    gates = [c for c in commands if c.startswith(HARNESS + "gate ")]
    assert len(gates) == 1, commands
    return str(build_parser().parse_args(shlex.split(gates[0][len(HARNESS):])).junit_xml)


@pytest.mark.parametrize("commands", [_github_commands, _gitlab_commands], ids=["github", "gitlab"])
def test_every_command_is_the_readmes_and_real(commands) -> None:  # type: ignore[no-untyped-def]
    readme = _readme_commands()
    found = commands()
    assert "make setup" in found  # the README's set-up
    for command in found:
        assert command in readme, f"{command!r} is not a command of the README"
        _check_real(command)


def test_github_uploads_the_runs_and_publishes_the_gates_xml() -> None:
    commands = _github_commands()
    xml = _gate_xml(commands)
    steps = [step for job in yaml.safe_load(GITHUB.read_text())["jobs"].values() for step in job["steps"]]
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    publish = next(s for s in steps if "junit" in str(s.get("uses", "")))
    assert upload["if"] == "always()" and publish["if"] == "always()"  # most useful when the gate fails
    assert upload["with"]["path"].split()[0] == "results/" and xml.startswith("results/")
    assert publish["with"]["report_paths"] == xml


def test_gitlab_keeps_the_runs_and_reports_the_gates_xml() -> None:
    job = _gitlab_job()
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always" and "results/" in artifacts["paths"]
    assert artifacts["reports"]["junit"] == _gate_xml(_gitlab_commands())


def test_docs_quote_both_files_verbatim() -> None:
    doc = (REPO / "docs" / "ci.md").read_text()
    for path in (GITHUB, GITLAB):
        assert path.read_text().rstrip() in doc, f"docs/ci.md does not quote {path.name} as it is"


def test_make_test_runs_the_same_gate_and_ci_calls_make_test() -> None:
    makefile = (REPO / "Makefile").read_text()
    scenarios = re.search(r"^CI_SCENARIOS := (.*)$", makefile, flags=re.MULTILINE).group(1)  # type: ignore[union-attr]
    recipe = re.search(r"^test: .*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE).group(1)  # type: ignore[union-attr]
    assert "-m pytest" in recipe.splitlines()[0]
    assert "-m harness gate $(CI_SCENARIOS) --junit-xml results/junit-gate.xml" in recipe.splitlines()[1]
    documented = next(c for c in _github_commands() if c.startswith(HARNESS + "gate "))
    assert documented == f"{HARNESS}gate {scenarios} --junit-xml results/junit-gate.xml"
    assert "make test" in (REPO / ".ci" / "run").read_text()
