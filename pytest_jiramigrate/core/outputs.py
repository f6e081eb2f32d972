"""Where a command may write: never over its inputs, nor inside an input directory.

Every path a user names for output (a report, an export directory, a split
media directory, a synthetic backup) is checked here before any work starts,
so that a typo such as ``--jira-report=site-backup.zip`` is a one-line usage
error instead of a destroyed backup, and a report whose folder is missing is
refused at once instead of after an hour-long scan.

An output is refused when it is an input (compared after resolving symbolic
links and ``..``, and by device and inode so that a hard link counts too),
when it lies inside an input directory (a media directory), when it is a
directory but a file is wanted (or the reverse), or when its parent directory
is missing or not writable.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


class OutputError(ValueError):
    """An output path that must not be written; the message says why, in one line."""


def check_output(path: Path, inputs: Sequence[Path], *, directory: bool = False) -> Path:
    """The resolved ``path``, after refusing any output that could harm an input.

    ``inputs`` may be files or directories; a directory input protects
    everything inside it too.  ``directory=True`` checks a directory that the
    command fills (an export directory, split-media's ``--out``); it may
    exist already, as a directory.
    """
    resolved = path.resolve()
    for given in inputs:
        refuse_input(path, resolved, given)
    if resolved.exists():
        if directory and not resolved.is_dir():
            raise OutputError(f"{path} exists and is not a directory")
        if not directory and resolved.is_dir():
            raise OutputError(f"{path} is a directory; name a file")
        if not writable(resolved if directory else resolved.parent):
            raise OutputError(f"{path} is not writable")
        return resolved
    parent = resolved.parent
    if not parent.exists():
        raise OutputError(f"{path}: the directory {parent} does not exist")
    if not parent.is_dir():
        raise OutputError(f"{path}: {parent} is not a directory")
    if not writable(parent):
        raise OutputError(f"{path}: the directory {parent} is not writable")
    return resolved


def refuse_input(path: Path, resolved: Path, given: Path) -> None:
    """Raise :class:`OutputError` when the output ``path`` is, or lies inside, ``given``."""
    source = given.resolve()
    if resolved == source or same_file(resolved, source):
        raise OutputError(f"{path} is an input ({given}); writing there would destroy it")
    if source.is_dir() and resolved.is_relative_to(source):
        raise OutputError(f"{path} lies inside the input directory {given}; write elsewhere")


def same_file(first: Path, second: Path) -> bool:
    """Whether two existing paths are one file (a hard link has the same device and inode)."""
    try:
        a, b = first.stat(), second.stat()
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def writable(directory: Path) -> bool:
    """Whether new files can be made in ``directory`` (a seam for tests: root writes anywhere)."""
    return os.access(directory, os.W_OK | os.X_OK)
