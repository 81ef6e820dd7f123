"""One module per `python -m harness` subcommand: add_arguments(parser) and execute(args) -> int."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_results_option(parser: argparse.ArgumentParser) -> None:
    """`--results DIR`, the folder of run folders, as every command that makes runs takes it."""
    parser.add_argument("--results", type=Path, default=Path("results"), metavar="DIR",
                        help="folder of run folders (default: results/)")
