"""The ``jiramigrate`` console command: tools around a migration that are not checks.

Each subcommand lives in the module that owns its work and exposes
``register(subparsers)``; this module only assembles them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: modules that each add one subcommand
SUBCOMMANDS: tuple[str, ...] = (
    "pytest_jiramigrate.commands.check",
    "pytest_jiramigrate.commands.split",
    "pytest_jiramigrate.commands.clean",
    "pytest_jiramigrate.commands.fix.command",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jiramigrate",
        description="Tools for moving a Jira Server/Data Center site to Jira Cloud.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; each subcommand's handler returns the exit code."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
