"""Output paths are checked before anything is written: an output never lands on an input.

Every command and report option that writes a file goes through
:func:`check_output` first.  A path that is an input under another spelling
(a symbolic link, a hard link, ``..``), or that lies inside an input
directory, would overwrite or pollute what the user asked to have read, so it
is refused with a one-line message before any work starts.  A directory, a
missing parent or a parent that cannot be written would otherwise fail only
after a long scan, so they are refused up front too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


class OutputError(ValueError):
    """An output path cannot be used; the message is one line for the user."""


def check_output(path: Path, inputs: Sequence[Path], *, directory: bool = False) -> Path:
    """The resolved ``path``, after refusing every way writing it could harm an input.

    ``directory`` is true for an output that is a directory (created if
    missing); otherwise an existing directory at ``path`` is refused.
    """
    resolved = Path(os.path.abspath(path)).resolve()
    for source in inputs:
        _refuse_input(path, resolved, source)
    if resolved.exists() and resolved.is_dir() != directory:
        kind = "is a directory; give a file name" if not directory else "is a file, not a directory"
        raise OutputError(f"{path} {kind}")
    parent = resolved.parent
    if not parent.is_dir():
        raise OutputError(f"{path}: the directory {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: the directory {parent} is not writable")
    return resolved


def _refuse_input(path: Path, resolved: Path, source: Path) -> None:
    source_resolved = Path(os.path.abspath(source)).resolve()
    if resolved == source_resolved or _same_file(resolved, source_resolved):
        raise OutputError(f"{path} is the input {source}; inputs are never written to")
    if source_resolved.is_dir() and resolved.is_relative_to(source_resolved):
        raise OutputError(f"{path} lies inside the input directory {source}; write it elsewhere")


def _same_file(first: Path, second: Path) -> bool:
    """Whether both paths name one existing file (hard links included)."""
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False
