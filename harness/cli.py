"""Command line: `python -m harness {check,run,report,runs,compare} ...`.

Each subcommand is a module in harness/commands/ with `add_arguments(parser)`
and `execute(args) -> int` (an exit code of harness.exitcodes). User mistakes
surface as HarnessError subclasses and are printed as one line, never as a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from harness import exitcodes
from harness.errors import HarnessError, Terminated

# name -> (module, one-line help); a new subcommand is one entry.
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("harness.commands.check", "check recorded histories with a model or checker"),
    "run": ("harness.commands.run", "run a scenario: cluster, faults, clients, checkers"),
    "simulate": ("harness.commands.simulate", "simulate a scenario deterministically (one seed or a sweep)"),
    "sweep": ("harness.commands.sweep", "sweep scenarios over many seeds on Dask (simulated or real time)"),
    "shrink": ("harness.commands.shrink", "shrink a failing simulated run to a minimal reproducer"),
    "report": ("harness.commands.report", "rebuild the report of a run folder"),
    "runs": ("harness.commands.runs", "list the runs in results/, newest first"),
    "gate": ("harness.commands.gate", "gate CI on scenarios: one summary table, worst exit code, JUnit XML"),
    "shell": ("harness.commands.shell", "an interactive shell with a ready cluster: mr and cluster"),
    "compare": ("harness.commands.compare", "run scenarios with each lock library under test, side by side"),
}


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error, which our contract reserves for "unknown": use 3."""

    def error(self, message: str) -> "NoReturn":  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(exitcodes.BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m harness", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command_parser = sub.add_parser(name, help=help_text, description=module.__doc__)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_execute=module.execute)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._execute(args))
    except HarnessError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as interrupt:
        print("interrupted", file=sys.stderr)
        return 143 if isinstance(interrupt, Terminated) else 130
