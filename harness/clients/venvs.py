"""One virtualenv per client under test: `.venv-clients/<name>/`, pinned, created on demand.

The libraries cannot share one environment (redlock-py and redlock-ng both install the
package `redlock`; their redis-py pins conflict), so each gets its own venv, built from
the harness's interpreter with `python -m venv` and `python -m pip install` of the spec's
pinned requirements (from PyPI).

Idempotent and safe to race: creation holds an exclusive file lock
(`.venv-clients/<name>.lock`), builds in a temporary folder and renames it into place, so
a venv is either absent or complete; a finished venv carries a stamp of what it was
built from (`harness-client.json`), and a stamp that no longer matches the spec (a new
pin) rebuilds it. Set HARNESS_CLIENT_VENVS to keep the venvs elsewhere (a CI cache).
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from harness.clients.specs import ClientSpec
from harness.errors import EnvironmentFailure

log = logging.getLogger("harness.clients")

REPO_ROOT = Path(__file__).resolve().parents[2]
STAMP = "harness-client.json"
PIP_TIMEOUT = 600.0  # seconds one pip install may take (a slow mirror), then exit 4


def venvs_root() -> Path:
    """Where the client venvs live: $HARNESS_CLIENT_VENVS or <repo>/.venv-clients."""
    override = os.environ.get("HARNESS_CLIENT_VENVS")
    return Path(override) if override else REPO_ROOT / ".venv-clients"


def venv_python(spec: ClientSpec, root: Path | None = None) -> Path:
    return (root or venvs_root()) / spec.name / "bin" / "python"


def stamp_of(spec: ClientSpec) -> dict[str, object]:
    """What a venv is built from; a different stamp means rebuild."""
    return {"client": spec.name, "no_deps": list(spec.no_deps), "requirements": list(spec.requirements),
            "python": f"{sys.version_info.major}.{sys.version_info.minor}"}


def is_ready(spec: ClientSpec, root: Path | None = None) -> bool:
    folder = (root or venvs_root()) / spec.name
    try:
        stamp = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return stamp == stamp_of(spec) and venv_python(spec, root).exists()


def ensure_venv(spec: ClientSpec, root: Path | None = None) -> Path:
    """The python of the spec's venv, creating the venv first when needed (see module doc).

    Raises EnvironmentFailure (exit 4) when the venv cannot be built (no network, pip error).
    """
    if spec.in_process:
        return Path(sys.executable)
    root = root or venvs_root()
    if is_ready(spec, root):
        return venv_python(spec, root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{spec.name}.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # a concurrent creator finishes first
        if not is_ready(spec, root):
            _build(spec, root)
    return venv_python(spec, root)


def _build(spec: ClientSpec, root: Path) -> None:
    final = root / spec.name
    partial = root / f".{spec.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    started = time.monotonic()
    log.info("creating the venv of client %s in %s", spec.name, final)
    try:
        python = str(partial / "bin" / "python")
        if importlib.util.find_spec("pip") is not None:
            # the harness's pip installs into the new venv: no ensurepip (~30 s on a busy machine)
            _run([sys.executable, "-m", "venv", "--without-pip", str(partial)], spec)
            pip = [sys.executable, "-m", "pip", "--python", python]
        else:  # pragma: no cover - an interpreter without pip
            _run([sys.executable, "-m", "venv", str(partial)], spec)
            pip = [python, "-m", "pip"]
        pip += ["install", "--quiet", "--disable-pip-version-check", "--no-input"]
        if spec.no_deps:
            _run(pip + ["--no-deps", *spec.no_deps], spec)
        if spec.requirements:
            _run(pip + list(spec.requirements), spec)
        (partial / STAMP).write_text(json.dumps(stamp_of(spec), indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(partial, final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    log.info("venv of client %s ready in %.1fs", spec.name, time.monotonic() - started)


def ensure_venvs(specs: list[ClientSpec], root: Path | None = None) -> None:
    """ensure_venv for several clients at once (pip spends most of its time waiting)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, min(4, len(specs)))) as pool:
        for future in [pool.submit(ensure_venv, spec, root) for spec in specs]:
            future.result()  # the first EnvironmentFailure propagates


def _run(argv: list[str], spec: ClientSpec) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=PIP_TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise EnvironmentFailure(f"creating the venv of client {spec.name}: `{' '.join(argv[1:])}` "
                                 f"took longer than {PIP_TIMEOUT:g}s") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise EnvironmentFailure(f"creating the venv of client {spec.name}: `{' '.join(argv[1:])}` "
                                 f"failed (exit {done.returncode}): " + " | ".join(tail))


def main() -> int:
    """`python -m harness.clients.venvs`: build every client's venv now (a setup step)."""
    from harness import exitcodes
    from harness.clients.specs import CLIENTS

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.monotonic()
    try:
        ensure_venvs([spec for spec in CLIENTS.values() if not spec.in_process])
    except EnvironmentFailure as error:
        print(f"error: {error}", file=sys.stderr)
        return exitcodes.ENVIRONMENT
    print(f"client venvs ready in {venvs_root()} ({time.monotonic() - started:.1f}s)")
    return exitcodes.VALID


if __name__ == "__main__":
    sys.exit(main())
