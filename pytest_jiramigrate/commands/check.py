"""``jiramigrate check``: the readiness suite, safe to run beside untrusted files.

pytest chooses its rootdir and configuration file from its arguments, so with
``pytest --jira-backup PATH`` a ``pytest.ini`` lying beside a customer's
backup can become the configuration, and its ``addopts = -p plugin`` runs code
from that folder.  This command runs the same suite with the rootdir and the
configuration pinned to the directory it is started from: that directory's
ini file (or none at all), its ``conftest.py``, its ``jiramigrate.yaml`` and
its ``.pytest_cache``; nothing from the backup's folder.  It collects no test
files, only the readiness rules.  It is also the command for administrators
who do not use pytest.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_jiramigrate.run.options import FLAGS, VALUE_OPTIONS, WORKERS_HELP

#: pytest's configuration files, in the order pytest itself looks for them
INI_FILES: tuple[str, ...] = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check a site backup (and media) for Jira Cloud site import, like the pytest plugin",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    option_help = {name: help_text for name, _metavar, help_text in VALUE_OPTIONS}
    parser.add_argument(
        "backup", nargs="?", type=Path, metavar="BACKUP", help=option_help["backup"]
    )
    parser.add_argument(
        "--media",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="a media directory or media zip; repeat per chunk",
    )
    for name, metavar, help_text in VALUE_OPTIONS:
        if name != "backup":
            parser.add_argument(f"--{name}", type=Path, metavar=metavar, help=help_text)
    for name, help_text, _ in FLAGS:
        parser.add_argument(f"--{name}", action="store_true", help=help_text)
    parser.add_argument("--workers", metavar="N", help=WORKERS_HELP)
    parser.add_argument("--junitxml", type=Path, metavar="PATH", help="also write JUnit XML here")
    parser.set_defaults(handler=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    """Run the suite in this process; the exit code is pytest's (see the README)."""
    if args.backup is None and not args.media and not args.rules:
        args.parser.error("name a BACKUP, a --media target, or both")
    here = Path.cwd()
    return int(pytest.main(pytest_arguments(args, here), plugins=[CollectNoFiles()]))


def pytest_arguments(args: argparse.Namespace, here: Path) -> list[str]:
    """pytest's command line: rootdir and configuration pinned to ``here``, the plugin's
    options from this command's, absolute paths throughout."""
    arguments = [f"--rootdir={here}", "-c", str(ini_file(here)), f"--confcutdir={here}"]
    if args.backup is not None:
        arguments.append(f"--jira-backup={here / args.backup}")
    arguments += [f"--jira-media={here / path}" for path in args.media]
    for name, _metavar, _help in VALUE_OPTIONS:
        value = None if name == "backup" else getattr(args, name)
        if value is not None:
            arguments.append(f"--jira-{name}={here / value}")
    arguments += [f"--jira-{name}" for name, _help, _ini in FLAGS if getattr(args, name)]
    if args.workers is not None:
        arguments.append(f"--jira-workers={args.workers}")
    if args.junitxml is not None:
        arguments.append(f"--junitxml={here / args.junitxml}")
    return [*arguments, str(here)]


def ini_file(here: Path) -> Path:
    """The first of pytest's configuration files in ``here``; else an empty one (the null
    device), so that pytest looks for none anywhere else."""
    return next((here / name for name in INI_FILES if (here / name).is_file()), Path(os.devnull))


class CollectNoFiles:
    """Collect no test file: the run is the readiness rules, which the plugin adds itself."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> bool:
        return True
