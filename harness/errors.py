"""Errors the harness turns into exit codes and one clear message (never a traceback)."""

from __future__ import annotations

from pathlib import Path

from harness import exitcodes


class HarnessError(Exception):
    """Root of harness errors; `exit_code` is what the CLI exits with."""

    exit_code = exitcodes.INVALID


class BadInput(HarnessError):
    """A user mistake in an input file: names the file, the line and the field.

    `line` is 1-based; `field` is a dotted path such as ``workload.ttl``.
    """

    exit_code = exitcodes.BAD_INPUT

    def __init__(self, path: str | Path | None, reason: str, *, line: int | None = None,
                 field: str | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        self.reason = reason
        where = self.path or "<input>"
        if line is not None:
            where += f":{line}"
        if field:
            where += f": field '{field}'"
        super().__init__(f"{where}: {reason}")


class EnvironmentFailure(HarnessError):
    """redis-server or toxiproxy-server is missing or would not start."""

    exit_code = exitcodes.ENVIRONMENT


class Terminated(KeyboardInterrupt):
    """SIGTERM during a run, raised in the main thread: handled like Ctrl-C, but exits 143."""
