"""The package `pip install` would get is well-formed: `python -m build` makes an sdist and a wheel
(from a copy of the tracked files, so the checkout gets no build/ or egg-info), `twine check
--strict` accepts both, the build warns about nothing in our metadata, and the wheel carries what
the code needs at run time (py.typed markers, the report's assets) and nothing else.

The build runs without isolation (`--no-isolation`): it uses the venv's setuptools, so it needs
no network; `build` refuses to start when the venv lacks the build-system requirements.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 600  # a loaded 2-core machine builds in a minute or so

WHEEL_MUST_HOLD = (
    "majorityredis/__init__.py",
    "majorityredis/py.typed",
    "majorityredis/queue/__init__.py",
    "harness/py.typed",
    "harness/report/report.css",
    "harness/report/timeline.js",
    "harness/faults/__init__.py",
)


def copy_tracked_files(target: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    for name in listed:
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def twine_check(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, files)],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(dist folder with one sdist and one wheel, the build's output)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to know the tracked files")
    root = tmp_path_factory.mktemp("packaging")
    source, dist = root / "src", root / "dist"
    source.mkdir()
    copy_tracked_files(source)
    proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source)],
                          capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    return dist, output


def test_sdist_and_wheel_pass_twine_check(built: tuple[Path, str]) -> None:
    dist, _ = built
    sdists, wheels = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, sorted(p.name for p in dist.iterdir())
    proc = twine_check(sdists[0], wheels[0])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 2, proc.stdout


def test_build_warns_about_nothing_in_our_metadata(built: tuple[Path, str]) -> None:
    _, output = built
    warnings = [line for line in output.splitlines()
                if "deprecated" in line.lower() or "project.license" in line or "SetuptoolsWarning" in line]
    assert not warnings, "\n".join(warnings)


def test_wheel_holds_the_packages_and_their_data_and_spdx_license(built: tuple[Path, str]) -> None:
    dist, _ = built
    with zipfile.ZipFile(next(dist.glob("*.whl"))) as wheel:
        names = set(wheel.namelist())
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = wheel.read(metadata_name).decode("utf-8")
    missing = [name for name in WHEEL_MUST_HOLD if name not in names]
    assert not missing, f"the wheel lacks {missing}"
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"majorityredis", "harness"}, top_level
    assert "License-Expression: MIT" in metadata.splitlines()
    assert "Description-Content-Type: text/markdown" in metadata


def test_twine_check_rejects_a_malformed_wheel(built: tuple[Path, str], tmp_path: Path) -> None:
    """The check can fail: the same wheel with its description stripped from METADATA is refused."""
    dist, _ = built
    good = next(dist.glob("*.whl"))
    bad = tmp_path / good.name
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bad, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.endswith(".dist-info/METADATA"):
                headers = data.decode("utf-8").split("\n\n", 1)[0]
                data = "\n".join(line for line in headers.splitlines()
                                 if not line.startswith("Description-Content-Type")).encode() + b"\n"
            target.writestr(item, data)
    proc = twine_check(bad)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "long_description" in (proc.stdout + proc.stderr), proc.stdout + proc.stderr
