"""Client venvs: built once (a stamp of what they were built from), reused, rebuilt when the
pins change, and a failed build is an EnvironmentFailure that leaves no half venv behind.
(No network: the specs here install nothing or a missing local file.)"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from harness.clients.specs import ClientSpec
from harness.clients.venvs import STAMP, ensure_venv, is_ready
from harness.errors import EnvironmentFailure

SPEC = ClientSpec(name="empty", package="none", version="0", shape="nothing installed", scope="majority",
                  fencing_tokens=False, reports_validity=False, extend=False, adapter="none.py")


def test_built_once_then_reused_and_rebuilt_when_the_pins_change(tmp_path: Path) -> None:
    python = ensure_venv(SPEC, tmp_path)
    assert python == tmp_path / "empty" / "bin" / "python" and python.exists()
    assert is_ready(SPEC, tmp_path)
    stamp = tmp_path / "empty" / STAMP
    built = stamp.stat().st_mtime_ns
    marker = tmp_path / "empty" / "marker"
    marker.write_text("same venv")
    assert ensure_venv(SPEC, tmp_path) == python and marker.exists()  # reused
    assert stamp.stat().st_mtime_ns == built
    changed = replace(SPEC, no_deps=())
    stamp.write_text(json.dumps({"client": "empty", "requirements": ["old==1"]}))  # built from other pins
    assert not is_ready(changed, tmp_path)
    ensure_venv(changed, tmp_path)
    assert is_ready(changed, tmp_path) and not marker.exists()  # rebuilt from scratch


def test_a_failed_build_is_an_environment_failure_without_leftovers(tmp_path: Path) -> None:
    broken = replace(SPEC, name="broken", requirements=(str(tmp_path / "missing-1.0-py3-none-any.whl"),))
    with pytest.raises(EnvironmentFailure, match="creating the venv of client broken: .* failed"):
        ensure_venv(broken, tmp_path)
    assert not (tmp_path / "broken").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
